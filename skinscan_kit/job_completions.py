"""Waiting for a job to finish without asking Redis again and again (long polling).

A client that polls GetJob every few hundred milliseconds costs the gateway a
credential check, a Redis read and a gRPC call each time; a benchmark's clients
polling every 10 ms took more of the gateway's CPU than the analyses did. So a
GetJob may wait: the job worker publishes a job's id on a Redis channel as it
finishes it, and one subscription per process wakes the callers waiting for
that id. Messages are missed only while no subscription is live (before the
first one is confirmed, and while it reconnects), so each time one is confirmed
every waiter reads its job again; beyond that a waiter reads it every `recheck_s`
(10 s), as a last resort. Reading every waiting job every second instead cost a
Redis read per waiting job per second, thousands a second once the queue is
minutes behind (measured under overload: the gateway then refused in seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from skinscan.jobs import Job

__all__ = ["COMPLETIONS", "JobCompletions"]

log = logging.getLogger(__name__)

# The channel a job's id is published on as it finishes (skinscan_kit.job_queue).
COMPLETIONS = "skinscan:jobs:finished"


class JobCompletions:
    def __init__(self, redis: aioredis.Redis, recheck_s: float = 10.0) -> None:
        self._redis = redis
        self._recheck_s = recheck_s
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False

    async def wait(self, job_id: str, read: Callable[[], Awaitable[Job]], wait_s: float) -> Job:
        """The job as `read` returns it, once it has finished or `wait_s` has passed."""
        self._listen()
        finished = asyncio.Event()
        # Registered before the first read: a completion between the two is not missed.
        self._waiters.setdefault(job_id, set()).add(finished)
        try:
            loop = asyncio.get_running_loop()
            give_up = loop.time() + wait_s
            while True:
                job = await read()
                left = give_up - loop.time()
                if job.status.finished or left <= 0 or self._stopping:
                    return job
                finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), min(left, self._recheck_s))
        finally:
            waiting = self._waiters.get(job_id)
            if waiting is not None:
                waiting.discard(finished)
                if not waiting:
                    del self._waiters[job_id]

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._subscribe(), name="job-completions")

    async def _subscribe(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(COMPLETIONS)
                    async for message in pubsub.listen():
                        if message.get("type") == "subscribe":
                            # Live from here on: what finished before is read once more.
                            self._wake_all()
                            continue
                        if message.get("type") != "message":
                            continue
                        job_id = message["data"]
                        job_id = job_id.decode() if isinstance(job_id, bytes) else str(job_id)
                        for event in self._waiters.get(job_id, ()):
                            event.set()
            except (RedisError, OSError) as error:
                # Waiters read their job again once the next subscription is live.
                log.warning("job completions: Redis subscription lost (%s); retrying", error)
                await asyncio.sleep(1.0)

    def stop_waiting(self) -> None:
        """Answers every waiting caller now, with its job as it stands: a process that is
        shutting down must not hold its callers (they ask again, elsewhere)."""
        self._stopping = True
        self._wake_all()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def close(self) -> None:
        self.stop_waiting()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
