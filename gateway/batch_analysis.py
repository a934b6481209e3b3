"""Many images of one call, analysed in groups: AnalyzeBatch and POST /v1/analyses:batch.

Images arrive one after another. Each is checked and rate-limited on arrival (it pays
what an Analyze call would), then waits for a group: the first goes at once, so a
lone image is not held back; while a group is being analysed the next one fills, up
to `group_images`, so a fast sender's images travel together through the
preprocessor (one decoding hand-off) to one inference batch. Results are handed back
as each group finishes. Buffered images are bounded in bytes, so a caller that sends
faster than skinscan analyses is slowed by gRPC's flow control instead of filling the
gateway's memory; and so are the calls in progress.

A group waits for the gateway's admission behind every person's Analyze call (it is
throughput work, as jobs are): a call of many images is never refused at the door and
never causes a refusal of a person's request; its groups take the places left free.

A failure that concerns one image (unreadable, too large, over the rate limit) or one
group (capacity, a service down) becomes those images' outcomes; only a malformed
stream fails the call, and then after every image already received has its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway import metrics
from gateway.accounts.roles import Action, Principal
from gateway.analysis_service import ClinicDecision
from gateway.surveillance.monitoring import count_result
from skinscan.analysis import Analysis
from skinscan.errors import OverloadedError, RateLimitedError, SkinscanError, UnavailableError
from skinscan_kit import deadline, request_id
from skinscan_kit.admission import Admission

__all__ = ["BatchAnalysis", "BatchClassifier", "Outcome"]

log = logging.getLogger(__name__)

# The longest a group waits for a place in the gateway's admission.
MAX_PATIENCE_S = 30.0
# A group that waited in vain is answered this long before the caller's deadline.
_ANSWER_MARGIN_S = 0.5

# One image's analysis, or why it has none.
Outcome = Analysis | SkinscanError


class BatchClassifier(Protocol):
    async def classify_batch(
        self, images: Sequence[tuple[bytes, str, str]]
    ) -> list[Analysis | SkinscanError]: ...


@dataclass
class _Image:
    index: int
    filename: str
    data: bytes


class BatchAnalysis:
    """`charge(actor)` takes one request from the caller's rate limit (RateLimitedError when
    over); the call's first image was charged with its credentials."""

    def __init__(
        self,
        classifier: BatchClassifier,
        admission: Admission,
        charge: Callable[[str], Awaitable[None]],
        group_images: int = 16,
        max_buffered_bytes: int = 16 * 1024 * 1024,
        max_calls: int = 32,
        clinic_decision: ClinicDecision | None = None,
    ) -> None:
        self.classifier = classifier
        self.clinic_decision = clinic_decision
        self.admission = admission
        self.charge = charge
        self.group_images = group_images
        self.max_buffered_bytes = max_buffered_bytes
        self.max_calls = max_calls
        self.calls = 0

    async def analyze(
        self, by: Principal, images: AsyncIterator[tuple[str, bytes | SkinscanError]]
    ) -> AsyncIterator[tuple[int, Outcome]]:
        """(filename, bytes or why they were refused) of each image -> (index, outcome) of
        each, in the order they finish."""
        by.require(Action.ANALYZE)
        # A bound on the memory all calls buffer (each at most max_buffered_bytes).
        if self.calls >= self.max_calls:
            metrics.REFUSED_TOTAL.labels(reason="batch_calls").inc()
            raise OverloadedError(f"{self.calls} calls of several images in progress")
        self.calls += 1
        try:
            call = _Call(self, by, request_id.current() or request_id.begin())
            async for answer in call.run(images):
                yield answer
        finally:
            self.calls -= 1


class _Call:
    """One call's images, from arrival to answer."""

    def __init__(self, batches: BatchAnalysis, by: Principal, call_id: str) -> None:
        self.batches = batches
        self.by = by
        self.call_id = call_id
        self.answers: asyncio.Queue[tuple[int, Outcome] | None] = asyncio.Queue()
        self.ready: list[_Image] = []
        self.buffered_bytes = 0
        self.reading = True
        self.failure: SkinscanError | None = None
        self.groups: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()  # an image arrived, a group ended, or reading ended

    async def run(
        self, images: AsyncIterator[tuple[str, bytes | SkinscanError]]
    ) -> AsyncIterator[tuple[int, Outcome]]:
        tasks = [
            asyncio.create_task(self._read(images), name="batch-read"),
            asyncio.create_task(self._dispatch(), name="batch-dispatch"),
        ]
        try:
            while (answer := await self.answers.get()) is not None:
                yield answer
            if self.failure is not None:
                raise self.failure
        finally:
            for task in (*tasks, *self.groups):
                task.cancel()

    def _wake(self) -> None:
        self.changed.set()

    async def _read(self, images: AsyncIterator[tuple[str, bytes | SkinscanError]]) -> None:
        index = -1
        try:
            async for filename, data in images:
                index += 1
                if not isinstance(data, bytes):
                    self.answers.put_nowait((index, data))
                    continue
                if index > 0:
                    try:
                        await self.batches.charge(self.by.actor)
                    except RateLimitedError as limited:
                        self.answers.put_nowait((index, limited))
                        continue
                # Room for one more image (there is always room for the first).
                while self.buffered_bytes and (
                    self.buffered_bytes + len(data) > self.batches.max_buffered_bytes
                ):
                    self.changed.clear()
                    await self.changed.wait()
                self.buffered_bytes += len(data)
                self.ready.append(_Image(index, filename, data))
                self._wake()
                # The dispatcher looks before the next image is taken in, so the first goes
                # alone at once even from a sender whose images are all there already.
                await asyncio.sleep(0)
        except SkinscanError as malformed:
            self.failure = malformed
        except Exception:
            log.exception("reading the images of a call failed")
            self.failure = UnavailableError(
                "the gateway failed reading the images; send the rest again"
            )
        finally:
            self.reading = False
            self._wake()

    def _group_due(self) -> bool:
        """A lone image goes at once; behind a running group, the next one fills first."""
        if not self.ready:
            return False
        return not self.groups or not self.reading or len(self.ready) >= self.batches.group_images

    async def _dispatch(self) -> None:
        while self.reading or self.ready or self.groups:
            if self._group_due() and len(self.groups) < 2:
                group = self.ready[: self.batches.group_images]
                del self.ready[: len(group)]
                task = asyncio.create_task(self._analyze(group), name="batch-group")
                self.groups.add(task)
                task.add_done_callback(self.groups.discard)
                task.add_done_callback(lambda _: self._wake())
                continue
            self.changed.clear()
            await self.changed.wait()
        self.answers.put_nowait(None)

    async def _analyze(self, group: list[_Image]) -> None:
        metrics.BATCH_GROUP_IMAGES.observe(len(group))
        try:
            # A group holds one place, as one Analyze call does: it is one call to
            # the preprocessor and one inference batch. It waits for a place that no
            # person's Analyze call wants, as long as its caller's deadline allows.
            patience_s = deadline.timeout_s(MAX_PATIENCE_S) - _ANSWER_MARGIN_S
            async with self.batches.admission.admit(patient_s=max(0.0, patience_s)):
                outcomes = await self.batches.classifier.classify_batch(
                    [
                        (image.data, image.filename, f"{self.call_id}.{image.index}")
                        for image in group
                    ]
                )
        except SkinscanError as failed:
            outcomes = [failed] * len(group)
        except Exception:
            # Every image is still answered: none is lost to a fault here.
            log.exception("analysing a group of %d images failed", len(group))
            outcomes = [UnavailableError("the gateway failed analysing this image; retry")] * len(
                group
            )
        finally:
            self.buffered_bytes -= sum(len(image.data) for image in group)
        for image, outcome in zip(group, outcomes, strict=True):
            self.answers.put_nowait((image.index, await self._for_clinic(outcome)))

    async def _for_clinic(self, outcome: Outcome) -> Outcome:
        """The clinic's own threshold decides, where it adopted one; if that cannot be read
        the image is answered with the error, never decided at another threshold."""
        if not isinstance(outcome, Analysis):
            return outcome
        count_result(self.by.clinic_id, outcome)
        decision = self.batches.clinic_decision
        if decision is None:
            return outcome
        try:
            return await decision.apply(self.by.clinic_id, outcome)
        except SkinscanError as failed:
            return failed
