"""Runs the local system's processes: starts them in order, restarts a crashed one, stops
them front to back.

Each child runs in its own process group, so a terminal's Ctrl-C reaches only the
supervisor, which then stops the children in reverse order of starting (the
gateway first: it stops taking requests and finishes the ones it accepted, then
the services behind it). A child that exits on its own is restarted after a
backoff while the others keep serving; one that crashes `restart_limit` times
within `restart_window_s` stops everything, since restarting it again would
only hide the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

__all__ = ["ChildSpec", "RestartPolicy", "StartError", "StopRequested", "Supervisor", "say"]


@dataclass(frozen=True)
class RestartPolicy:
    limit: int = 5  # crashes within the window before giving up
    window_s: float = 300.0
    first_backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def backoff_s(self, recent_crashes: int) -> float:
        return min(self.max_backoff_s, self.first_backoff_s * 2 ** max(0, recent_crashes - 1))


@dataclass(frozen=True)
class ChildSpec:
    name: str
    command: list[str]
    env: dict[str, str]
    # Returns once the child serves; raises if it cannot tell.
    ready: Callable[[], Coroutine[None, None, None]]
    start_timeout_s: float = 180.0
    # How long the child may take to stop after SIGTERM (its own grace, and then some).
    stop_timeout_s: float = 30.0


@dataclass
class _Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    crashes: deque[float] = field(default_factory=deque)


def say(message: str) -> None:
    print(f"skinscan up: {message}", file=sys.stderr, flush=True)


class StartError(RuntimeError):
    """A child could not be started."""


class StopRequested(StartError):
    """A stop was asked for while a child was starting."""


class Supervisor:
    def __init__(self, specs: list[ChildSpec], policy: RestartPolicy) -> None:
        self._children = [_Child(spec) for spec in specs]
        self._policy = policy
        self._stopping = asyncio.Event()
        self._failed: str | None = None
        self._gave_up = asyncio.Event()
        self._watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Starts every child in order, each once the one before serves."""
        for child in self._children:
            await self._start(child)
        self._watchers = [asyncio.create_task(self._watch(c)) for c in self._children]

    async def wait(self) -> int:
        """Until a stop is asked for (0) or a child keeps crashing (1)."""
        stop = asyncio.create_task(self._stopping.wait())
        gave_up = asyncio.create_task(self._gave_up.wait())
        await asyncio.wait({stop, gave_up}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        gave_up.cancel()
        return 1 if self._failed else 0

    def request_stop(self, reason: str) -> None:
        if not self._stopping.is_set():
            say(f"{reason}: stopping, the gateway first so requests in progress finish")
            self._stopping.set()
        else:
            say("stopping at once (asked twice)")
            for child in self._children:
                if child.process is not None and child.process.returncode is None:
                    _signal_group(child.process, signal.SIGKILL)

    async def stop(self) -> None:
        """Stops every running child, the last started first, saying what it does."""
        self._stopping.set()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for child in reversed(self._children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
            began = time.monotonic()
            say(f"stopping {child.spec.name}")
            _signal_group(process, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), child.spec.stop_timeout_s)
            except TimeoutError:
                say(f"{child.spec.name} did not stop in {child.spec.stop_timeout_s:.0f} s; killed")
                _signal_group(process, signal.SIGKILL)
                await process.wait()
            say(f"{child.spec.name} stopped ({time.monotonic() - began:.1f} s)")

    async def _start(self, child: _Child) -> None:
        spec = child.spec
        child.process = await asyncio.create_subprocess_exec(
            *spec.command, env=spec.env, start_new_session=True
        )
        ready = asyncio.create_task(spec.ready())
        exited = asyncio.create_task(child.process.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait(
            {ready, exited, stopping},
            timeout=spec.start_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        for task in (ready, exited, stopping):
            task.cancel()
        if ready in done and ready.exception() is None:
            return
        if stopping in done:
            raise StopRequested(f"stopped while {spec.name} was starting")
        if exited in done:
            raise StartError(
                f"{spec.name} exited with code {child.process.returncode} while starting; "
                "its log is above"
            )
        _signal_group(child.process, signal.SIGKILL)
        await child.process.wait()
        if ready in done:
            raise StartError(f"{spec.name} did not start: {ready.exception()}")
        raise StartError(f"{spec.name} did not become ready in {spec.start_timeout_s:.0f} s")

    async def _watch(self, child: _Child) -> None:
        """Restarts the child whenever it exits on its own, until it crashes too often."""
        policy = self._policy
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self._stopping.is_set():
                return
            now = time.monotonic()
            child.crashes.append(now)
            while child.crashes and now - child.crashes[0] > policy.window_s:
                child.crashes.popleft()
            recent = len(child.crashes)
            name = child.spec.name
            if recent >= policy.limit:
                self._failed = name
                say(
                    f"{name} stopped unexpectedly (code {code}) {recent} times in "
                    f"{policy.window_s:.0f} s; giving up and stopping everything"
                )
                self._gave_up.set()
                return
            pause = policy.backoff_s(recent)
            say(f"{name} stopped unexpectedly (code {code}); restarting it in {pause:.0f} s")
            try:
                await asyncio.wait_for(self._stopping.wait(), pause)
                return
            except TimeoutError:
                pass
            try:
                await self._start(child)
                say(f"{name} restarted and serving")
            except StartError as error:
                if self._stopping.is_set():
                    return
                say(str(error))
                # Counted as the next crash when its exit is seen (at once: it has exited
                # or was killed).


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """Signals the child and anything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
