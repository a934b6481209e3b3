"""Services started as real processes for a test, waited on through standard gRPC health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from skinscan_cli.system import free_port, free_port_settings


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


def gateway_env(
    grpc_port: int,
    preprocessor_target: str,
    state_dir: Path,
    database_url: str,
    admin_password: str,
    **settings: str,
) -> dict[str, str]:
    """The environment of a gateway process alone (no Redis: jobs off) in front of a running
    preprocessor, with its first admin's password and any further settings."""
    env = {
        **os.environ,
        "SKINSCAN_GATEWAY_GRPC_PORT": str(grpc_port),
        "SKINSCAN_GATEWAY_REST_PORT": str(free_port()),
        "SKINSCAN_GATEWAY_METRICS_PORT": "0",
        "SKINSCAN_GATEWAY_PREPROCESSOR_TARGET": preprocessor_target,
        "SKINSCAN_STATE_DIR": str(state_dir),
        "SKINSCAN_DATABASE_URL": database_url,
        "SKINSCAN_ADMIN_PASSWORD": admin_password,
        **settings,
    }
    env.pop("SKINSCAN_REDIS_URL", None)
    return env


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


class SkinscanUp:
    """`skinscan up` as a user runs it, its output echoed and kept.

    `start` waits for "skinscan is up"; `admin_password` reads the one-time
    password printed on a first start; `stop` sends SIGTERM and expects a
    clean exit with no traceback.
    """

    def __init__(self, env: dict[str, str], ports: dict[str, str] | None = None) -> None:
        self.env = env
        self.ports = ports or {}
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    @classmethod
    def first_start(
        cls,
        model_repository: Path,
        model_name: str,
        redis_url: str | None,
        state: Path,
        **settings: str,
    ) -> SkinscanUp:
        """A system on free ports whose state folder is empty: SQLite records, no admin yet;
        the embedded Redis when `redis_url` is None."""
        ports = free_port_settings()
        env = {
            **os.environ,
            **ports,
            "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
            "SKINSCAN_MODEL_NAME": model_name,
            "SKINSCAN_INFERENCE_INTRA_OP_THREADS": "1",
            "SKINSCAN_STATE_DIR": str(state),
            "XDG_CONFIG_HOME": str(state / "config"),
            **({"SKINSCAN_REDIS_URL": redis_url} if redis_url else {}),
            **settings,
        }
        inherited = ("SKINSCAN_DATABASE_URL", "SKINSCAN_ADMIN_PASSWORD", "SKINSCAN_API_KEY")
        for name in inherited + (() if redis_url else ("SKINSCAN_REDIS_URL",)):
            env.pop(name, None)
        return cls(env, ports)

    def children(self) -> dict[str, int]:
        """The launcher's running children by what they run (inference, ..., redis): pid."""
        assert self.process is not None
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            if parent != self.process.pid:
                continue
            if b"-m" in command:
                found[command[command.index(b"-m") + 1].decode()] = int(entry.name)
            elif command and b"redis-server" in command[0]:
                found["redis"] = int(entry.name)
        return found

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports['SKINSCAN_GATEWAY_GRPC_PORT']}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['SKINSCAN_GATEWAY_REST_PORT']}"

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)
            sys.stderr.write(line)
            if "skinscan is up" in line:
                self._ready.set()

    def start(self, timeout_s: float = 180) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skinscan_cli", "up"],
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, as in a terminal: Ctrl-C there is a SIGINT to the group.
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout_s):
            self.process.kill()
            raise AssertionError("skinscan up did not report ready:\n" + "".join(self.lines))

    @property
    def admin_password(self) -> str:
        """The one-time password `skinscan up` prints on first start (the line after its notice)."""
        for index, line in enumerate(self.lines):
            if "one-time password" in line:
                return next(rest.strip() for rest in self.lines[index + 1 :] if rest.strip())
        raise AssertionError("skinscan up printed no admin password:\n" + "".join(self.lines))

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        if self._reader is not None:
            self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        assert code == 0, "skinscan up must stop cleanly on SIGTERM"
        printed = "".join(self.lines)
        assert "Traceback" not in printed, printed[max(0, printed.index("Traceback") - 1500) :]
