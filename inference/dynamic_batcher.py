"""Merges concurrent inference requests into batches.

A batch runs when it holds max_batch_size images or when its first request
has waited max_queue_delay; while one batch runs, the next one fills, so under
load batches grow by themselves and at low load latency stays ~one forward pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from inference import metrics
from skinscan.errors import UnavailableError

__all__ = ["DynamicBatcher"]

Outputs = dict[str, np.ndarray]


@dataclass
class _Pending:
    inputs: np.ndarray
    future: asyncio.Future[Outputs]
    enqueued: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    def __init__(
        self,
        run: Callable[[np.ndarray], Outputs],
        max_batch_size: int,
        max_queue_delay_s: float,
    ) -> None:
        self._run = run
        self._max_batch_size = max_batch_size
        self._max_delay = max_queue_delay_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._carry: _Pending | None = None
        # One batch at a time: ONNX Runtime already spreads one batch over all cores.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnxruntime")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="dynamic-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for pending in self._drain():
            if not pending.future.done():
                pending.future.set_exception(
                    UnavailableError("the inference server is shutting down")
                )
        self._executor.shutdown(wait=True)

    async def infer(self, inputs: np.ndarray) -> Outputs:
        """Runs the model on `inputs` (a batch of one or more images) within some batch."""
        if self._task is None or self._task.done():
            raise UnavailableError("the inference server is not running its batcher")
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(inputs, future))
        return await future

    def _drain(self) -> list[_Pending]:
        drained = [self._carry] if self._carry else []
        self._carry = None
        while not self._queue.empty():
            drained.append(self._queue.get_nowait())
        return drained

    async def _next_batch(self) -> list[_Pending]:
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, rows = [first], len(first.inputs)
        deadline = first.enqueued + self._max_delay
        while rows < self._max_batch_size:
            try:
                if self._queue.empty():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    item = self._queue.get_nowait()
            except TimeoutError:
                break
            if rows + len(item.inputs) > self._max_batch_size:
                self._carry = item
                break
            batch.append(item)
            rows += len(item.inputs)
        return batch

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [p for p in await self._next_batch() if not p.future.cancelled()]
            if not batch:
                continue
            started = time.monotonic()
            for pending in batch:
                metrics.QUEUE_SECONDS.observe(started - pending.enqueued)
            pixels = (
                np.concatenate([p.inputs for p in batch]) if len(batch) > 1 else batch[0].inputs
            )
            metrics.BATCH_SIZE.observe(len(pixels))
            try:
                outputs = await loop.run_in_executor(self._executor, self._run, pixels)
            except Exception as error:  # the model failed: every caller in the batch hears why
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            finally:
                metrics.COMPUTE_SECONDS.observe(time.monotonic() - started)
            offset = 0
            for pending in batch:
                n = len(pending.inputs)
                if not pending.future.done():
                    pending.future.set_result(
                        {k: v[offset : offset + n] for k, v in outputs.items()}
                    )
                offset += n
