"""The SDK rides out a gateway crash and restart: calls made meanwhile wait, retry, and succeed.

The gateway is killed (SIGKILL), as a crash or an evicted pod would be; a
graceful stop under load is the reliability issue's own test.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from skinscan import Client
from tests.conftest import free_port
from tests.processes import Services, gateway_env

pytestmark = pytest.mark.integration


def test_calls_succeed_across_a_gateway_restart(
    preprocessor_target: str, malignant_jpeg: Path, tmp_path: Path, database_url: str
) -> None:
    """On SQLite and on PostgreSQL: the gateway process migrates either at start."""
    grpc_port = free_port()
    env = gateway_env(
        grpc_port,
        preprocessor_target,
        tmp_path / "state",
        database_url,
        "restart admin password",
        # The loop below calls as fast as it can; the rate limit is not under test.
        SKINSCAN_GATEWAY_RATE_LIMIT_PER_MINUTE="1000000",
        SKINSCAN_GATEWAY_RATE_LIMIT_BURST="100000",
    )
    services = Services(env)
    restarting: threading.Thread | None = None
    try:
        first = services.start("gateway", grpc_port)
        with Client(f"127.0.0.1:{grpc_port}", timeout_s=60, wait_for_ready=True) as client:
            client.login("admin", "restart admin password")
            client.analyze(malignant_jpeg)

            def restart() -> None:
                first.send_signal(signal.SIGKILL)
                first.wait(30)
                time.sleep(1.0)  # fully down for a while
                services.start("gateway", grpc_port)

            restarting = threading.Thread(target=restart)
            restarting.start()
            outcomes, slowest = [], 0.0
            deadline = time.monotonic() + 20
            while restarting.is_alive() or time.monotonic() < deadline - 15:
                started = time.monotonic()
                outcomes.append(client.analyze(malignant_jpeg).assessable)
                slowest = max(slowest, time.monotonic() - started)
            restarting.join()
            outcomes.append(client.analyze(malignant_jpeg).assessable)
        # Every call succeeded, and one of them waited out the second or more in
        # which no gateway was listening.
        assert outcomes and all(outcomes)
        assert slowest >= 1.0
    finally:
        if restarting is not None:
            restarting.join(60)  # no gateway may start after the cleanup below
        services.stop_all()
