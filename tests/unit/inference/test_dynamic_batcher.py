from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from inference.dynamic_batcher import DynamicBatcher


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
