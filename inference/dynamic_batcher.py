"""Merges concurrent inference requests into batches.

A batch runs when it holds max_batch_size images or when its first request
has waited max_queue_delay; while one batch runs, the next one fills, so under
load batches grow by themselves and at low load latency stays ~one forward pass.
A batch that starts while no other runs and none waits goes to `run_alone` when
given (a session over more threads): a lone request then has every core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from inference import metrics
from skinscan.errors import OverloadedError, UnavailableError

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
        max_queued_images: int = 256,
        concurrent_batches: int = 1,
        run_alone: Callable[[np.ndarray], Outputs] | None = None,
    ) -> None:
        self._run = run
        self._run_alone = run_alone
        self._max_batch_size = max_batch_size
        self._max_delay = max_queue_delay_s
        self._max_queued = max_queued_images
        self._queued_images = 0  # in _queue and _carry, not yet running
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._carry: _Pending | None = None
        # Batches computed at once, each on its own thread. One, when ONNX Runtime
        # spreads a batch over every core; several single-threaded ones hold up
        # better beside other busy processes (no thread of a batch waits on another).
        self._slots = asyncio.Semaphore(concurrent_batches)
        self._executor = ThreadPoolExecutor(
            max_workers=concurrent_batches, thread_name_prefix="onnxruntime"
        )
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

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

    async def drain(self, timeout_s: float) -> None:
        """Stops once every request already queued has its answer (or after `timeout_s`)."""
        give_up = time.monotonic() + timeout_s
        # _queued_images counts a request from its arrival until its batch starts,
        # _running from then until it is answered: together, everything owed.
        while (self._queued_images > 0 or self._running) and time.monotonic() < give_up:
            await asyncio.sleep(0.01)
        await self.stop()

    async def infer(self, inputs: np.ndarray) -> Outputs:
        """Runs the model on `inputs` (a batch of one or more images) within some batch."""
        if self._task is None or self._task.done():
            raise UnavailableError("the inference server is not running its batcher")
        metrics.QUEUED_IMAGES.observe(self._queued_images)
        # Bounded: past this the wait alone would exceed any caller's patience, so the
        # request is refused now, while the caller can still go elsewhere.
        if self._queued_images + len(inputs) > self._max_queued:
            metrics.REFUSED_TOTAL.inc()
            raise OverloadedError(f"{self._queued_images} images waiting for inference")
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(inputs, future))
        self._queued_images += len(inputs)
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
        running = self._running
        try:
            while True:
                # A slot first, then the batch: while every slot is busy, requests
                # keep joining the next batch instead of waiting in small ones.
                await self._slots.acquire()
                formed = await self._next_batch()
                self._queued_images -= sum(len(p.inputs) for p in formed)
                # A caller that has gone (its deadline passed, or it cancelled) cancels
                # its future: its images are not computed for no one.
                batch = [p for p in formed if not p.future.cancelled()]
                if len(batch) < len(formed):
                    metrics.ABANDONED_TOTAL.inc(len(formed) - len(batch))
                if not batch:
                    self._slots.release()
                    continue
                run = self._run
                if (
                    self._run_alone is not None
                    and not running
                    and self._carry is None
                    and self._queue.empty()
                ):
                    run = self._run_alone  # nothing else runs or waits
                    metrics.BATCHES_ALONE_TOTAL.inc()
                task = asyncio.create_task(self._run_batch(batch, run))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            # Stopping: the batches already running finish and answer their callers.
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _run_batch(self, batch: list[_Pending], run: Callable[[np.ndarray], Outputs]) -> None:
        try:
            started = time.monotonic()
            for pending in batch:
                metrics.QUEUE_SECONDS.observe(started - pending.enqueued)
            pixels = (
                np.concatenate([p.inputs for p in batch]) if len(batch) > 1 else batch[0].inputs
            )
            metrics.BATCH_SIZE.observe(len(pixels))
            loop = asyncio.get_running_loop()
            try:
                outputs = await loop.run_in_executor(self._executor, run, pixels)
            except Exception as error:  # the model failed: every caller in the batch hears why
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                return
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
        finally:
            self._slots.release()
