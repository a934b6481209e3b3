"""Three times saturation over gRPC, REST and the job path at once, for a minute.

What admission control must hold when every kind of caller overloads skinscan
together: each path is offered the whole measured gRPC throughput (3x in all),
open-loop, and each service's memory is sampled every second. The answer for
each path: what was accepted, how fast, what was refused and how fast, what
failed otherwise (nothing should), and whether memory stayed bounded.

Also how many cores each process used while the load was sent, this load
generator's own included: on a small machine it shares the cores with the
services (on two cores it took 0.3 to 0.8 of them), and the services' figures
mean little without that.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from skinscan_cli.bench import load
from skinscan_cli.bench.load import LoadResult, open_loop
from skinscan_cli.bench.system import cpu_seconds, memory_mb

__all__ = ["overload_every_path"]

Sender = Callable[[], load.Sender]


def overload_every_path(
    senders: Mapping[str, Sender],
    images: list[bytes],
    saturated_per_s: float,
    seconds: float,
    pids: Mapping[str, int],
) -> dict[str, Any]:
    results: dict[str, LoadResult] = {}
    rss: dict[str, list[float]] = {name: [] for name in pids}
    done = threading.Event()
    processes = {**pids, "load generator": os.getpid()}
    cpu: list[tuple[float, dict[str, float]]] = []

    def cpu_now() -> None:
        # Each process is read once: one under two names (the benchmark run in-process)
        # must report one figure, not two reads a moment apart.
        by_pid = {pid: cpu_seconds(pid) for pid in set(processes.values())}
        cpu.append((time.monotonic(), {n: by_pid[pid] for n, pid in processes.items()}))

    def sample() -> None:
        cpu_now()
        sending_until = time.monotonic() + seconds
        while not done.wait(1.0):
            if len(cpu) == 1 and time.monotonic() >= sending_until:
                cpu_now()
            for name, pid in pids.items():
                value = memory_mb(pid)
                if value is not None:
                    rss[name].append(value)

    def drive(name: str) -> None:
        results[name] = open_loop(senders[name], images, saturated_per_s, seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    drivers = [threading.Thread(target=drive, args=(name,)) for name in senders]
    sampler.start()
    for driver in drivers:
        driver.start()
    for driver in drivers:
        driver.join()
    done.set()
    sampler.join()
    if len(cpu) == 1:  # ended within the sampler's last second
        cpu_now()
    (began, first), (ended, last) = cpu[0], cpu[1]
    return {
        "offered_per_s_each": saturated_per_s,
        "seconds": seconds,
        "paths": {name: result.as_dict() for name, result in results.items()},
        "rss_mb": {
            name: {"first": values[0], "peak": max(values), "last": values[-1]}
            for name, values in rss.items()
            if values
        },
        "cores_while_sending": {
            name: round((last[name] - first[name]) / max(ended - began, 1e-9), 2)
            for name in processes
        },
    }
