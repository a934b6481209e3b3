"""A whole skinscan system for a benchmark: `skinscan up` on free ports, in a scratch state
folder, with an API key to call it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from skinscan import Client
from skinscan_cli.system import free_port_settings

__all__ = ["BenchSystem", "cpu_seconds", "memory_mb"]

START_TIMEOUT_S = 180.0
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str = "VmRSS") -> float | None:
    """A memory figure of a process from /proc (VmRSS now, VmHWM its peak), in MB; None
    once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name (which may hold spaces) start at its closing ")".
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


@dataclass
class _Started:
    process: subprocess.Popen[str]
    lines: list[str]


class BenchSystem:
    """`with BenchSystem(...) as system:` starts it; leaving stops it (SIGTERM, as Ctrl-C)."""

    def __init__(self, model_repository: Path | None, extra_env: dict[str, str] | None = None):
        self.model_repository = model_repository
        self.extra_env = extra_env or {}
        self.ports = free_port_settings()
        self.api_key = ""
        self._state = tempfile.TemporaryDirectory(prefix="skinscan-bench-")
        self._started: _Started | None = None

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports['SKINSCAN_GATEWAY_GRPC_PORT']}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['SKINSCAN_GATEWAY_REST_PORT']}"

    @property
    def pids(self) -> dict[str, int]:
        """The system's processes by name: the three services and the launcher itself, for
        memory and CPU readings. (The embedded Redis daemonizes, so it is not among the
        launcher's children, and its CPU is not counted.)"""
        assert self._started is not None
        launcher = self._started.process.pid
        found = {"launcher": launcher}
        children = subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", str(launcher)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for line in children.splitlines():
            pid, _, args = line.strip().partition(" ")
            for name in ("gateway", "preprocessor", "inference"):
                if args.endswith(f"-m {name}"):
                    found[name] = int(pid)
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each of `pids` has used so far."""
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def __enter__(self) -> BenchSystem:
        password = secrets.token_urlsafe(18)
        env = {
            **os.environ,
            **self.ports,
            "SKINSCAN_STATE_DIR": self._state.name,
            "SKINSCAN_ADMIN_PASSWORD": password,
            # A benchmark of serving must not be throttled by the per-caller limit.
            "SKINSCAN_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
            "SKINSCAN_GATEWAY_RATE_LIMIT_BURST": "1000000",
            **self.extra_env,
        }
        env.pop("SKINSCAN_DATABASE_URL", None)
        if self.model_repository is not None:
            env["SKINSCAN_MODEL_REPOSITORY"] = str(self.model_repository)
        process = subprocess.Popen(
            [sys.executable, "-m", "skinscan_cli", "up"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if "skinscan is up" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        self._started = _Started(process, lines)
        if not ready.wait(START_TIMEOUT_S):
            self.__exit__(None, None, None)
            raise RuntimeError("skinscan up did not start:\n" + "".join(lines[-40:]))
        with Client(self.grpc_target) as admin:
            admin.login("admin", password)
            _, self.api_key = admin.create_api_key("benchmark", "clinician")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._started is not None:
            process = self._started.process
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        self._state.cleanup()
