from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from prometheus_client import REGISTRY

from inference.dynamic_batcher import DynamicBatcher
from skinscan.errors import OverloadedError


class Recorder:
    """A model that doubles its input and remembers the batch sizes it saw."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        self.release.wait()
        self.batches.append(len(pixels))
        return {"out": pixels.astype(np.float32) * 2}


def test_concurrent_requests_are_merged_and_answers_go_to_their_callers() -> None:
    async def scenario() -> tuple[list[np.ndarray], list[int]]:
        model = Recorder()
        batcher = DynamicBatcher(model, max_batch_size=8, max_queue_delay_s=0.05)
        batcher.start()
        inputs = [np.full((1, 2, 2, 3), i, np.uint8) for i in range(8)]
        outputs = await asyncio.gather(*(batcher.infer(x) for x in inputs))
        await batcher.stop()
        return [o["out"] for o in outputs], model.batches

    outputs, batches = asyncio.run(scenario())
    for i, out in enumerate(outputs):
        assert out.shape == (1, 2, 2, 3) and np.all(out == 2 * i)
    assert batches == [8]


def test_batches_never_exceed_the_maximum() -> None:
    async def scenario() -> list[int]:
        model = Recorder()
        model.release.clear()  # hold the first batch so the rest queue up behind it
        batcher = DynamicBatcher(model, max_batch_size=4, max_queue_delay_s=0.001)
        batcher.start()
        calls = [
            asyncio.create_task(batcher.infer(np.zeros((n, 1, 1, 3), np.uint8)))
            for n in (1, 3, 2, 2, 3, 1)
        ]
        await asyncio.sleep(0.05)
        model.release.set()
        await asyncio.gather(*calls)
        await batcher.stop()
        return model.batches

    batches = asyncio.run(scenario())
    assert sum(batches) == 12
    assert max(batches) <= 4
    assert len(batches) < 6  # requests that waited were merged


def test_a_failing_model_fails_every_caller_of_the_batch() -> None:
    def broken(pixels: np.ndarray) -> dict[str, np.ndarray]:
        raise RuntimeError("out of memory")

    async def scenario() -> list[BaseException | dict]:
        batcher = DynamicBatcher(broken, max_batch_size=4, max_queue_delay_s=0.01)
        batcher.start()
        results = await asyncio.gather(
            *(batcher.infer(np.zeros((1, 1, 1, 3), np.uint8)) for _ in range(3)),
            return_exceptions=True,
        )
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_requests_after_stop_are_refused() -> None:
    async def scenario() -> None:
        batcher = DynamicBatcher(Recorder(), 4, 0.001)
        batcher.start()
        await batcher.stop()
        with pytest.raises(Exception, match="not running"):
            await batcher.infer(np.zeros((1, 1, 1, 3), np.uint8))

    asyncio.run(scenario())


def test_a_full_queue_refuses_at_once_and_frees_as_batches_run() -> None:
    async def scenario() -> None:
        model = Recorder()
        model.release.clear()  # the first batch holds: everything after it queues
        batcher = DynamicBatcher(model, max_batch_size=2, max_queue_delay_s=0, max_queued_images=3)
        batcher.start()
        running = asyncio.create_task(batcher.infer(np.zeros((2, 1, 1, 3), np.uint8)))
        await asyncio.sleep(0.05)  # taken into the held batch: no longer queued
        queued = [
            asyncio.create_task(batcher.infer(np.zeros((n, 1, 1, 3), np.uint8))) for n in (2, 1)
        ]
        await asyncio.sleep(0.01)
        with pytest.raises(OverloadedError, match="3 images waiting") as refused:
            await batcher.infer(np.zeros((1, 1, 1, 3), np.uint8))
        assert refused.value.retry_after_s >= 1
        model.release.set()
        await asyncio.gather(running, *queued)
        # Answered: the queue is empty again and takes the next request.
        assert (await batcher.infer(np.zeros((3, 1, 1, 3), np.uint8)))["out"].shape[0] == 3
        await batcher.stop()

    asyncio.run(scenario())


def test_work_whose_caller_has_gone_is_not_computed() -> None:
    async def scenario() -> list[int]:
        model = Recorder()
        model.release.clear()
        batcher = DynamicBatcher(model, max_batch_size=1, max_queue_delay_s=0)
        batcher.start()
        first = asyncio.create_task(batcher.infer(np.zeros((1, 1, 1, 3), np.uint8)))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(batcher.infer(np.full((1, 1, 1, 3), 7, np.uint8)))
        await asyncio.sleep(0.01)
        gone.cancel()  # as gRPC does when the caller's deadline passes
        before = abandoned()
        model.release.set()
        await first
        kept = await batcher.infer(np.zeros((1, 1, 1, 3), np.uint8))
        assert kept["out"].shape[0] == 1
        assert abandoned() == before + 1
        await batcher.stop()
        return model.batches

    assert asyncio.run(scenario()) == [1, 1]  # the cancelled request never reached the model


def test_concurrent_batches_run_side_by_side() -> None:
    async def scenario() -> int:
        inside, most = 0, 0
        lock = threading.Lock()
        both = threading.Barrier(2, timeout=5)

        def model(pixels: np.ndarray) -> dict[str, np.ndarray]:
            nonlocal inside, most
            with lock:
                inside += 1
                most = max(most, inside)
            both.wait()  # only returns if the second batch runs while this one does
            with lock:
                inside -= 1
            return {"out": pixels}

        batcher = DynamicBatcher(model, 1, 0, concurrent_batches=2)
        batcher.start()
        await asyncio.gather(*(batcher.infer(np.zeros((1, 1, 1, 3), np.uint8)) for _ in range(4)))
        await batcher.stop()
        return most

    assert asyncio.run(scenario()) == 2


def abandoned() -> float:
    return REGISTRY.get_sample_value("skinscan_inference_abandoned_total") or 0.0


def test_a_batch_alone_runs_on_the_wider_session_and_concurrent_ones_do_not() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        narrow, wide = Recorder(), Recorder()
        batcher = DynamicBatcher(narrow, 1, 0, concurrent_batches=2, run_alone=wide)
        batcher.start()
        image = np.zeros((1, 1, 1, 3), np.uint8)
        await batcher.infer(image)  # nothing else runs or waits: alone
        assert (narrow.batches, wide.batches) == ([], [1])
        await asyncio.gather(*(batcher.infer(image) for _ in range(4)))
        await batcher.stop()
        return narrow.batches, wide.batches

    narrow, wide = asyncio.run(scenario())
    # Four at once: each batch started with others waiting or running, so none alone.
    assert (narrow, wide) == ([1, 1, 1, 1], [1])
