"""Each image of an AnalyzeBatch call counts against the caller's rate limit, as a call of its
own would, and the SDK sends the images refused for it again after their Retry-After.

A real gateway over real preprocessor and inference processes, with a small limit: 60 requests
a minute (one a second), bursts of 3.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from skinscan import Analysis, Client
from skinscan.errors import RateLimitedError
from tests.conftest import free_port
from tests.processes import Services, gateway_env

pytestmark = pytest.mark.integration


def test_each_image_counts_against_the_rate_limit_and_refused_ones_are_sent_again(
    preprocessor_target: str, malignant_jpeg: Path, tmp_path: Path
) -> None:
    grpc_port = free_port()
    env = gateway_env(
        grpc_port,
        preprocessor_target,
        tmp_path / "state",
        f"sqlite:///{tmp_path / 'records.db'}",
        "rate limit admin password",
        SKINSCAN_GATEWAY_RATE_LIMIT_PER_MINUTE="60",
        SKINSCAN_GATEWAY_RATE_LIMIT_BURST="3",
    )
    services = Services(env)
    target = f"127.0.0.1:{grpc_port}"
    image = malignant_jpeg.read_bytes()
    try:
        services.start("gateway", grpc_port)
        with Client(target, timeout_s=60) as admin:
            admin.login("admin", "rate limit admin password")
            _, key = admin.create_api_key("batch app", "clinician")
        # A fresh key has 3 requests in hand: the call (its first image) and two more images.
        with Client(target, api_key=key, retries=False) as client:
            results = dict(client.analyze_many([image] * 5))
        assert sorted(results) == [0, 1, 2, 3, 4]
        analysed = [i for i, r in results.items() if isinstance(r, Analysis)]
        refused = [r for r in results.values() if isinstance(r, RateLimitedError)]
        assert len(analysed) == 3 and len(refused) == 2, results
        assert all(0 < r.retry_after_s <= 1.0 and "60 a minute" in str(r) for r in refused)

        time.sleep(3.5)  # the bucket is full again
        with Client(target, api_key=key) as client:
            again = dict(client.analyze_many([image] * 4))
        # The fourth was refused at first, then sent again after its Retry-After.
        assert sorted(again) == [0, 1, 2, 3]
        assert all(isinstance(r, Analysis) for r in again.values()), again
    finally:
        services.stop_all()
