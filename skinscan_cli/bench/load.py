"""Load for a benchmark: closed loop (N clients, each sending its next image as soon as the
last is answered) and open loop (a fixed rate, whatever the answers)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import httpx
import numpy as np

from skinscan.errors import RateLimitedError

__all__ = ["LoadResult", "Sender", "closed_loop", "open_loop"]

# Sends one image and returns once it is answered (what it returns then is not looked at);
# or, for work accepted at once and finished later (a job), returns a Future that
# completes when it has finished; or, sending a batch of images, returns how many
# (closed loop only).
Sender = Callable[[bytes], object]


def _error_name(error: BaseException) -> str:
    """What went wrong, as counted: an HTTP error by its status, the rest by type."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _refused(error: BaseException) -> bool:
    """Whether a failed request was refused for capacity: the SDK's RateLimitedError
    (RESOURCE_EXHAUSTED), or HTTP 429."""
    if isinstance(error, RateLimitedError):
        return True
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code == 429


def _count_failure(result: LoadResult, error: BaseException, refusal_s: float | None) -> None:
    """A refusal with how long it took (none outside the measured window), else an error
    by name. The caller holds the result's lock."""
    if not _refused(error):
        name = _error_name(error)
        result.errors[name] = result.errors.get(name, 0) + 1
    elif refusal_s is not None:
        result.refused_latencies_s.append(refusal_s)


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    # Every answer, warm-up included: what the CPU time of the whole run paid for.
    answered_total: int = 0
    # Requests refused for capacity (RESOURCE_EXHAUSTED / 429), and how fast they were.
    refused_latencies_s: list[float] = field(default_factory=list)
    offered_per_s: float | None = None  # open loop: the rate requests were sent at

    @property
    def images_per_s(self) -> float:
        return len(self.latencies_s) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        return float(np.percentile(self.latencies_s, q)) * 1000

    def refusal_percentile_ms(self, q: float) -> float | None:
        if not self.refused_latencies_s:
            return None
        return float(np.percentile(self.refused_latencies_s, q)) * 1000

    def as_dict(self) -> dict[str, object]:
        return {
            "clients": self.clients,
            "offered_per_s": self.offered_per_s,
            "refused": len(self.refused_latencies_s),
            "refusal_p99_ms": self.refusal_percentile_ms(99),
            "seconds": round(self.seconds, 2),
            "answered": len(self.latencies_s),
            "images_per_s": round(self.images_per_s, 1),
            "p50_ms": self.percentile_ms(50),
            "p95_ms": self.percentile_ms(95),
            "p99_ms": self.percentile_ms(99),
            "errors": self.errors,
        }


def closed_loop(
    make_sender: Callable[[], Sender],
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
                later = send(data)
                if isinstance(later, Future):
                    later.result()
                # A batch sender says how many images its call answered.
                answered = later if isinstance(later, int) else 1
            except Exception as error:  # counted, reported, never hidden
                with lock:  # a refusal counted in the window answers are
                    took = time.perf_counter() - began
                    _count_failure(result, error, took if began >= start_at else None)
                continue
            with lock:
                result.answered_total += answered
                if began >= start_at:
                    # Each image of a batch is answered within its call's time.
                    result.latencies_s += [time.perf_counter() - began] * answered

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def open_loop(
    make_sender: Callable[[], Sender],
    images: list[bytes],
    rate_per_s: float,
    seconds: float,
    max_outstanding: int = 256,
) -> LoadResult:
    """Sends at a fixed `rate_per_s` for `seconds`, whatever the answers: the load a crowd
    of users makes, which does not slow down when the server does. Latency counts from
    when a request was due, so a backlog in this generator is not hidden from it.

    A request holds one of `max_outstanding` places until it is answered; one accepted
    for later (a sender's Future: a job) gives its place back once accepted, and its
    latency counts when it finishes. Otherwise jobs that take a minute would hold every
    place, and later submissions, refused or not, would wait here for one."""
    result = LoadResult(max_outstanding, seconds, offered_per_s=rate_per_s)
    lock = threading.Lock()
    local = threading.local()
    slots = threading.Semaphore(max_outstanding)
    accepted: list[Future[None]] = []

    def record(due: float, error: BaseException | None) -> None:
        with lock:
            if error is None:
                result.answered_total += 1
                result.latencies_s.append(time.perf_counter() - due)
            else:
                _count_failure(result, error, time.perf_counter() - due)

    def send(data: bytes, due: float) -> None:
        try:
            if not hasattr(local, "send"):
                local.send = make_sender()
            try:
                later = local.send(data)
            except Exception as error:
                record(due, error)
                return
            if not isinstance(later, Future):
                record(due, None)
                return
            later.add_done_callback(lambda done: record(due, done.exception()))
            with lock:
                accepted.append(later)
        finally:
            slots.release()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_outstanding, thread_name_prefix="open-loop") as workers:
        for index, data in zip(range(int(rate_per_s * seconds)), itertools.cycle(images)):
            due = started + index / rate_per_s
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            slots.acquire()  # never more than max_outstanding requests in the air
            workers.submit(send, data, due)
    wait(accepted)
    return result
