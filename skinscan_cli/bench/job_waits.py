"""Jobs under open-loop load: submitted by many threads, their results awaited on one
event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from skinscan import AsyncClient, Client
from skinscan_cli.bench.load import Sender

__all__ = ["JobWaits"]

_T = TypeVar("_T")


class JobWaits:
    """Waits for jobs' results on one event loop thread, through one AsyncClient: under
    overload thousands of jobs are in the queue at once, and a long poll each costs a
    task here, not a thread."""

    def __init__(self, target: str, api_key: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._target, self._api_key = target, api_key
        self._client = self._run(self._connect()).result()

    def _run(self, work: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _connect(self) -> AsyncClient:
        # Made on the loop it will run on: an aio channel belongs to its event loop.
        return AsyncClient(self._target, api_key=self._api_key, retries=False)

    async def _finished(self, job_id: str) -> None:
        done = await self._client.wait_for_job(job_id, timeout_s=600, poll_s=0.01)
        if done.result is None:
            raise RuntimeError(done.error or "the job ended without a result")

    def sender(self) -> Callable[[], Sender]:
        """Senders that submit a job (no retries: the benchmark measures refusals too) and
        answer at once with a Future of its result."""

        def make() -> Sender:
            client = Client(self._target, api_key=self._api_key, retries=False)
            return lambda data: self._run(self._finished(client.submit_job(data, "bench.jpg").id))

        return make

    def close(self) -> None:
        self._run(self._client.close()).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
