"""Services started as real processes for a test, waited on through standard gRPC health."""

from __future__ import annotations

import signal
import subprocess
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_serving(
    port: int,
    process: subprocess.Popen,
    timeout_s: float = 90,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.insecure_channel(target)
        if credentials is None
        else grpc.secure_channel(target, credentials)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for update in stub.Watch(
            health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=timeout_s
        ):
            if update.status == health_pb2.HealthCheckResponse.SERVING:
                return
    raise AssertionError(f"process {process.args!r} never became SERVING")


class Services:
    def __init__(self, base_env: dict[str, str]) -> None:
        self.base_env = base_env
        self.processes: list[subprocess.Popen] = []

    def start(
        self,
        module: str,
        port: int,
        credentials: grpc.ChannelCredentials | None = None,
        **settings: str,
    ) -> subprocess.Popen:
        env = {**self.base_env, **settings}
        process = subprocess.Popen([sys.executable, "-m", module], env=env)
        self.processes.append(process)
        wait_serving(port, process, credentials=credentials)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
