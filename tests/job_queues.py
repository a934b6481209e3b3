"""A JobQueue on a real Redis, flushed first, for tests of the job path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis

from skinscan_kit.job_queue import JobQueue


def run_with_queue(
    redis_url: str, scenario: Callable[[JobQueue], Awaitable[None]], group: bool = True
) -> None:
    """Runs `scenario` on a queue over an emptied database; with `group`, the workers'
    consumer group made first, as a preprocessor does at start."""

    async def run() -> None:
        redis = aioredis.from_url(redis_url)
        await redis.flushdb()
        queue = JobQueue(redis)
        if group:
            await queue.ensure_group()
        try:
            await scenario(queue)
        finally:
            await queue.close()
            await redis.aclose()

    asyncio.run(run())
