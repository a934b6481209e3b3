"""SystemSettings: the whole local system as `skinscan up` runs it, read once.

The launcher is where the three services meet, so it decides what they must
agree on (ports, the targets that point one service at another, the model,
Redis) and hands it to each child in its environment; a variable the user
has set for one service still wins.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Mapping
from pathlib import Path

import grpc
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from skinscan_kit.settings import (
    PORTS,
    DatabaseSettings,
    ModelRepositorySettings,
    ModelSettings,
    RedisSettings,
    ServiceSettings,
)
from skinscan_kit.tls import MtlsSettings, read_pem

__all__ = ["SystemSettings", "free_port", "free_port_settings"]

_PORT_SETTINGS = (
    "SKINSCAN_GATEWAY_GRPC_PORT",
    "SKINSCAN_GATEWAY_REST_PORT",
    "SKINSCAN_GATEWAY_METRICS_PORT",
    "SKINSCAN_PREPROCESSOR_PORT",
    "SKINSCAN_PREPROCESSOR_METRICS_PORT",
    "SKINSCAN_INFERENCE_PORT",
    "SKINSCAN_INFERENCE_METRICS_PORT",
)


# Where the kernel takes the local ports of outgoing connections, when it does not say.
_EPHEMERAL_PORTS = (32768, 60999)
_LOWEST_PORT = 10000


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_PORTS


def free_port(avoid: frozenset[int] = frozenset()) -> int:
    """A port free on 127.0.0.1 now, below the kernel's range for outgoing connections.

    A port the kernel hands out for binding to port 0 comes from that range, so between
    choosing it and a service listening on it (seconds, while the services start and
    connect to each other and to Redis) an outgoing connection could take it, and the
    service fails with "address already in use" (seen once in `make test`). Below the
    range only another listener can take it.
    """
    low, _ = _ephemeral_ports()
    if low - _LOWEST_PORT >= 1000:
        for port in random.sample(range(_LOWEST_PORT, low), 200):
            if port in avoid:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as sock:  # no room below the range (or all taken): any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_settings() -> dict[str, str]:
    """Every port setting of a local system, on ports free now: for a second system beside
    `make run` (a benchmark, a test). `skinscan up` points the services at each other."""
    chosen: list[int] = []
    for _ in _PORT_SETTINGS:
        chosen.append(free_port(frozenset(chosen)))
    return {name: str(port) for name, port in zip(_PORT_SETTINGS, chosen, strict=True)}


class SystemSettings(
    ModelSettings, ModelRepositorySettings, RedisSettings, DatabaseSettings, MtlsSettings
):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_", frozen=True, extra="ignore")

    # Every service of a local system listens here (SKINSCAN_HOST).
    host: str = ServiceSettings.model_fields["host"].default
    gateway_grpc_port: int = PORTS["gateway_grpc"]
    gateway_rest_port: int = PORTS["gateway_rest"]
    gateway_metrics_port: int = PORTS["gateway_metrics"]
    preprocessor_port: int = PORTS["preprocessor"]
    preprocessor_metrics_port: int = PORTS["preprocessor_metrics"]
    inference_port: int = PORTS["inference"]
    inference_metrics_port: int = PORTS["inference_metrics"]
    shutdown_grace_s: float = ServiceSettings.model_fields["shutdown_grace_s"].default
    # A service that exits on its own is restarted after a backoff (doubling from
    # restart_backoff_s, at most 30 s); this many exits within the window stop everything.
    restart_limit: int = Field(default=5, ge=1)
    restart_window_s: float = Field(default=300.0, gt=0)
    restart_backoff_s: float = Field(default=1.0, gt=0)
    # The gateway's public certificate, when it serves TLS: the launcher
    # trusts it to check the gateway's health (so it must name the host).
    gateway_tls_cert_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_GATEWAY_TLS_CERT_FILE")
    )

    def gateway_credentials(self) -> grpc.ChannelCredentials | None:
        if self.gateway_tls_cert_file is None:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=read_pem(self.gateway_tls_cert_file, "gateway certificate")
        )

    def target(self, port: int) -> str:
        return f"{self.host}:{port}"

    def child_environment(self, base: Mapping[str, str], redis_url: str) -> dict[str, str]:
        """`base` plus what every service must be told for the three to work together.

        `redis_url` is the one every child uses (the embedded Redis, unless one was set).
        """
        agreed = {
            "SKINSCAN_MODEL_REPOSITORY": self.model_repository,
            "SKINSCAN_MODEL_CACHE_DIR": str(self.model_cache_dir),
            "SKINSCAN_MODEL_NAME": self.model_name,
            "SKINSCAN_GATEWAY_GRPC_PORT": str(self.gateway_grpc_port),
            "SKINSCAN_GATEWAY_REST_PORT": str(self.gateway_rest_port),
            "SKINSCAN_GATEWAY_METRICS_PORT": str(self.gateway_metrics_port),
            "SKINSCAN_GATEWAY_PREPROCESSOR_TARGET": self.target(self.preprocessor_port),
            # Used when the gateway preprocesses in its own process (PREPROCESS_IN_PROCESS).
            "SKINSCAN_GATEWAY_INFERENCE_TARGET": self.target(self.inference_port),
            "SKINSCAN_PREPROCESSOR_PORT": str(self.preprocessor_port),
            "SKINSCAN_PREPROCESSOR_METRICS_PORT": str(self.preprocessor_metrics_port),
            "SKINSCAN_PREPROCESSOR_INFERENCE_TARGET": self.target(self.inference_port),
            "SKINSCAN_INFERENCE_PORT": str(self.inference_port),
            "SKINSCAN_INFERENCE_METRICS_PORT": str(self.inference_metrics_port),
        }
        for service in ("GATEWAY", "PREPROCESSOR", "INFERENCE"):
            agreed[f"SKINSCAN_{service}_HOST"] = self.host
            agreed[f"SKINSCAN_{service}_SHUTDOWN_GRACE_S"] = str(self.shutdown_grace_s)
        return {**agreed, **base, "SKINSCAN_REDIS_URL": redis_url}
