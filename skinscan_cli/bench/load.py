"""Closed-loop load: N clients, each sending its next image as soon as the last is answered."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LoadResult", "closed_loop"]


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    # Every answer, warm-up included: what the CPU time of the whole run paid for.
    answered_total: int = 0

    @property
    def images_per_s(self) -> float:
        return len(self.latencies_s) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        return float(np.percentile(self.latencies_s, q)) * 1000

    def as_dict(self) -> dict[str, object]:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "answered": len(self.latencies_s),
            "images_per_s": round(self.images_per_s, 1),
            "p50_ms": self.percentile_ms(50),
            "p95_ms": self.percentile_ms(95),
            "p99_ms": self.percentile_ms(99),
            "errors": self.errors,
        }


def closed_loop(
    make_sender: Callable[[], Callable[[bytes], None]],
    images: list[bytes],
    clients: int,
    seconds: float,
    warm_up_s: float = 2.0,
) -> LoadResult:
    """Runs `clients` threads, each with its own sender (its own connection), for `seconds`
    after `warm_up_s`; latencies of answers that started in the measured window count."""
    result = LoadResult(clients, seconds)
    lock = threading.Lock()
    start_at = time.perf_counter() + warm_up_s
    stop_at = start_at + seconds
    ready = threading.Barrier(clients)

    def client(index: int) -> None:
        send = make_sender()
        ready.wait()
        for data in itertools.islice(itertools.cycle(images), index, None):
            began = time.perf_counter()
            if began >= stop_at:
                return
            try:
                send(data)
            except Exception as error:  # counted, reported, never hidden
                with lock:
                    name = type(error).__name__
                    result.errors[name] = result.errors.get(name, 0) + 1
                continue
            with lock:
                result.answered_total += 1
                if began >= start_at:
                    result.latencies_s.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result
