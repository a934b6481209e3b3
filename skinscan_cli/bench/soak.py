"""`skinscan bench --soak SECONDS`: a steady 80% load for a long while, watching memory.

A leak shows as resident memory that keeps growing under a load that does not: RSS of
every service is sampled through the run and its growth is measured from the end of a
warm-up (caches filled, allocator settled) to the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from skinscan_cli.bench.load import closed_loop, open_loop
from skinscan_cli.bench.system import BenchSystem, memory_mb

__all__ = ["latency_by_part", "soak"]

SAMPLE_EVERY_S = 10.0
WARM_UP_SHARE = 0.1  # growth counts from this far into the run


def soak(
    system: BenchSystem,
    sender: Callable[[], Callable[[bytes], None]],
    images: list[bytes],
    seconds: float,
    clients: int,
) -> dict[str, Any]:
    saturation = closed_loop(sender, images, clients, 10.0).images_per_s
    rate = 0.8 * saturation
    print(f"soak: {seconds:.0f} s at {rate:.1f} images/s (80% of {saturation:.1f})", flush=True)
    pids = {name: pid for name, pid in system.pids.items() if name != "launcher"}
    samples: list[tuple[float, dict[str, float | None]]] = []
    done = threading.Event()

    started = time.monotonic()

    def reading() -> tuple[float, dict[str, float | None]]:
        return time.monotonic() - started, {n: memory_mb(p) for n, p in pids.items()}

    def sample() -> None:
        samples.append(reading())
        while not done.wait(SAMPLE_EVERY_S):
            samples.append(reading())
        samples.append(reading())  # at the end of the load

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = open_loop(sender, images, rate, seconds)
    done.set()
    sampler.join()
    after_warm_up = next(s for t, s in samples if t >= seconds * WARM_UP_SHARE)
    end = samples[-1][1]
    growth = {
        name: round((end[name] or 0) / start * 100 - 100, 1)
        for name, start in after_warm_up.items()
        if start and end.get(name)
    }
    return {
        "seconds": seconds,
        "offered_per_s": rate,
        "load": result.as_dict(),
        "latency_by_sixth_ms": latency_by_part(result.latencies_s, 6),
        "rss_mb": [{"t_s": round(t, 1), **s} for t, s in samples],
        "rss_after_warm_up_mb": after_warm_up,
        "rss_growth_percent": growth,
    }


def latency_by_part(latencies_s: list[float], parts: int) -> list[dict[str, float]]:
    """p50 and p99 of each successive part of the answers (kept in the order they came):
    stable percentiles over a long run are what a soak should show."""
    size = len(latencies_s) // parts
    if size == 0:
        return []
    return [
        {
            "p50_ms": round(float(np.percentile(chunk, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(chunk, 99)) * 1000, 1),
        }
        for chunk in (latencies_s[i * size : (i + 1) * size] for i in range(parts))
    ]
