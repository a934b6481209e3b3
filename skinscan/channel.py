"""How the SDK's channels retry: gRPC's own retry policy, not a loop of ours.

A call that fails with UNAVAILABLE (the gateway restarting, a service behind
it not ready) is retried by gRPC with exponential backoff and jitter, up to
five attempts (gRPC's ceiling); uploads are buffered so a streamed image can
be sent again. An upload refused with RESOURCE_EXHAUSTED (skinscan at capacity, or
the caller's rate limit) is sent again after the server's Retry-After, a few times,
and one still UNAVAILABLE after gRPC's retries is sent again for about twenty
seconds, long enough for a restarted service to come back (`retry_pause`). Other codes are answers, not accidents, and are not retried.
With `wait_for_ready`, a call made while the gateway is down waits for it to
come back (up to the call's deadline) instead of failing at once.
"""

from __future__ import annotations

import json
import random
from typing import Any

import grpc

from skinscan.errors import RateLimitedError, SkinscanError, UnavailableError
from skinscan.grpc_status import unimplemented

__all__ = ["channel_credentials", "channel_options"]

# Every public service of the gateway.
_SERVICES = (
    "skinscan.v1.AnalysisService",
    "skinscan.v1.AccountService",
    "skinscan.v1.RecordService",
)
_RETRY = {
    "maxAttempts": 5,
    "initialBackoff": "0.2s",
    "maxBackoff": "5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
# An image up to the gateway's default upload limit can be replayed.
_BUFFER_BYTES = 40 * 1024 * 1024


def channel_options(retries: bool) -> list[tuple[str, Any]]:
    if not retries:
        return [("grpc.enable_retries", 0)]
    config = {
        "methodConfig": [
            {"name": [{"service": service} for service in _SERVICES], "retryPolicy": _RETRY}
        ]
    }
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(config)),
        ("grpc.per_rpc_retry_buffer_size", _BUFFER_BYTES),
        ("grpc.retry_buffer_size", 4 * _BUFFER_BYTES),
    ]


def channel_credentials(
    tls: bool, root_certificates: bytes | None
) -> grpc.ChannelCredentials | None:
    """TLS credentials when asked for (`root_certificates`: the CA to trust instead of the system's)."""
    if not tls and root_certificates is None:
        return None
    return grpc.ssl_channel_credentials(root_certificates=root_certificates)


# A call refused for capacity or rate (RESOURCE_EXHAUSTED) is sent again after the
# server's Retry-After, this many times at most: enough to ride out a burst, too few
# to keep an overloaded server overloaded. Jitter spreads the callers' returns.
OVERLOAD_RETRIES = 3
MAX_RETRY_AFTER_S = 10.0
# A call that failed because skinscan (or a service behind its gateway) was not there,
# once gRPC's own quick retries are spent, is sent again with growing pauses for about
# twenty seconds: long enough for a restarted service to load its model.
UNAVAILABLE_RETRIES = 6
MAX_UNAVAILABLE_PAUSE_S = 5.0


def retry_pause(error: SkinscanError, attempt: int, retries: bool) -> float | None:
    """Seconds to wait before sending a refused or failed upload again, or None to give up.

    Only uploads whose failure left nothing behind are sent again: a refusal for
    capacity, or a service that could not be reached (nothing was analysed or kept). A
    call that failed midway (INTERNAL, UNKNOWN, a passed deadline) is not: a job it
    submitted may be queued already, and sent again it would be queued twice.
    """
    if not retries or unimplemented(error):  # the server lacks the call: it will not come
        return None
    if isinstance(error, RateLimitedError) and attempt < OVERLOAD_RETRIES:
        return min(error.retry_after_s, MAX_RETRY_AFTER_S) * random.uniform(1.0, 1.5)
    if isinstance(error, UnavailableError) and error.resendable and attempt < UNAVAILABLE_RETRIES:
        pause = max(error.retry_after_s, 0.5 * 2**attempt)
        return min(pause, MAX_UNAVAILABLE_PAUSE_S) * random.uniform(1.0, 1.5)
    return None
