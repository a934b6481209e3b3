"""How a call's images are grouped on their way to the preprocessor, and how each is answered.

The classifier here stands in for the preprocessor so each group it is handed can be seen
and held; the real path (gateway, preprocessor, inference) is tested end to end in
tests/e2e/test_system.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.accounts.roles import Principal, Role
from gateway.batch_analysis import BatchAnalysis, Outcome
from skinscan.analysis import Analysis, ModelRef
from skinscan.errors import (
    InvalidImageError,
    InvalidRequestError,
    OverloadedError,
    RateLimitedError,
    SkinscanError,
    UnavailableError,
)
from skinscan_kit.admission import Admission

T = TypeVar("T")
CLINICIAN = Principal("api_key", "k1", "c1", Role.CLINICIAN, "tests")


class HeldClassifier:
    """Answers each group when released, and remembers the groups it was given."""

    def __init__(self, fail_with: SkinscanError | None = None) -> None:
        self.groups: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with = fail_with

    async def classify_batch(
        self, images: Sequence[tuple[bytes, str, str]]
    ) -> list[Analysis | SkinscanError]:
        self.groups.append([name for _, name, _ in images])
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [Analysis(named, ModelRef("m", "1"), assessable=False) for _, _, named in images]


def _admission(limit: int = 8) -> Admission:
    registry = CollectorRegistry()
    return Admission(
        limit, "analyses", Gauge("f", "", registry=registry), Counter("r", "", registry=registry)
    )


async def _images(
    items: list[tuple[str, bytes | SkinscanError]],
    arrived: asyncio.Event | None = None,
    then: SkinscanError | None = None,
) -> AsyncIterator[tuple[str, bytes | SkinscanError]]:
    for item in items:
        yield item
    if arrived is not None:
        arrived.set()
    if then is not None:
        raise then


async def _charge_nothing(actor: str) -> None:
    return None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_a_lone_image_goes_at_once_and_the_next_fill_a_group_behind_it() -> None:
    async def scenario() -> None:
        classifier = HeldClassifier()
        batches = BatchAnalysis(classifier, _admission(), _charge_nothing, group_images=4)
        arrived = asyncio.Event()
        items: list[tuple[str, bytes | SkinscanError]] = [(f"{i}", b"x") for i in range(10)]
        answers: list[tuple[int, Outcome]] = []

        async def collect() -> None:
            async for answer in batches.analyze(CLINICIAN, _images(items, arrived)):
                answers.append(answer)

        task = asyncio.create_task(collect())
        await arrived.wait()
        await asyncio.sleep(0.01)
        # The first went alone; behind it a full group of four formed and went too.
        assert classifier.groups == [["0"], ["1", "2", "3", "4"]]
        classifier.release.set()
        await task
        assert [len(g) for g in classifier.groups] == [1, 4, 4, 1]
        assert sorted(i for i, _ in answers) == list(range(10))
        by_index = dict(answers)
        assert all(isinstance(a, Analysis) for a in by_index.values())
        named = [a.request_id for a in by_index.values() if isinstance(a, Analysis)]
        assert len(set(named)) == 10 and all(n.rsplit(".", 1)[1].isdigit() for n in named)

    _run(scenario())


def test_bad_images_and_rate_limited_ones_fail_alone() -> None:
    charged: list[str] = []

    async def charge(actor: str) -> None:
        charged.append(actor)
        if len(charged) == 2:
            raise RateLimitedError("too many requests", 3.0)

    async def scenario() -> dict[int, object]:
        classifier = HeldClassifier()
        classifier.release.set()
        batches = BatchAnalysis(classifier, _admission(), charge, group_images=8)
        items: list[tuple[str, bytes | SkinscanError]] = [
            ("a", b"x"),
            ("bad", InvalidImageError("the upload is empty")),
            ("b", b"x"),
            ("c", b"x"),
            ("d", b"x"),
        ]
        return {i: a async for i, a in batches.analyze(CLINICIAN, _images(items))}

    answers = _run(scenario())
    assert isinstance(answers, dict) and sorted(answers) == [0, 1, 2, 3, 4]
    assert isinstance(answers[1], InvalidImageError)
    # The first image was charged with the call's credentials; each later one pays here.
    assert charged == ["api_key:k1"] * 3
    assert isinstance(answers[3], RateLimitedError) and answers[3].retry_after_s == 3.0
    assert all(isinstance(answers[i], Analysis) for i in (0, 2, 4))


def test_a_failed_group_answers_each_of_its_images_with_the_reason() -> None:
    async def scenario() -> dict[int, object]:
        classifier = HeldClassifier(UnavailableError("the preprocessor is down"))
        classifier.release.set()
        batches = BatchAnalysis(classifier, _admission(), _charge_nothing)
        items: list[tuple[str, bytes | SkinscanError]] = [(f"{i}", b"x") for i in range(3)]
        return {i: a async for i, a in batches.analyze(CLINICIAN, _images(items))}

    answers = _run(scenario())
    assert isinstance(answers, dict) and sorted(answers) == [0, 1, 2]
    assert all("preprocessor is down" in str(a) for a in answers.values())


def test_a_group_takes_only_a_place_no_person_wants() -> None:
    async def scenario() -> list[str]:
        registry = CollectorRegistry()
        admission = Admission(
            1,
            "analyses",
            Gauge("f", "", registry=registry),
            Counter("r", "", registry=registry),
            max_waiting=1,
            max_wait_s=5.0,
        )
        order: list[str] = []
        classifier = HeldClassifier()
        classifier.release.set()
        batches = BatchAnalysis(classifier, admission, _charge_nothing)

        async def person() -> None:
            async with admission.admit():
                order.append("person")

        async def batch() -> None:
            async for _ in batches.analyze(CLINICIAN, _images([("a", b"x")])):
                order.append("group")

        async with admission.admit():  # someone holds the only place
            waiting_group = asyncio.create_task(batch())
            await asyncio.sleep(0.01)
            # The group waits outside the line: a person still finds room in it.
            admission.check()
            waiting_person = asyncio.create_task(person())
            await asyncio.sleep(0.01)
        await asyncio.gather(waiting_group, waiting_person)
        return order

    assert _run(scenario()) == ["person", "group"]


def test_too_many_calls_at_once_are_refused_at_the_start() -> None:
    async def scenario() -> None:
        classifier = HeldClassifier()
        batches = BatchAnalysis(classifier, _admission(), _charge_nothing, max_calls=1)
        first = asyncio.create_task(_drain(batches.analyze(CLINICIAN, _images([("a", b"x")]))))
        await asyncio.sleep(0.01)
        with pytest.raises(OverloadedError, match="1 calls of several images"):
            await _drain(batches.analyze(CLINICIAN, _images([("b", b"x")])))
        classifier.release.set()
        assert await first == 1
        assert batches.calls == 0

    _run(scenario())


def test_a_malformed_stream_fails_the_call_after_the_images_received_are_answered() -> None:
    async def scenario() -> list[int]:
        classifier = HeldClassifier()
        classifier.release.set()
        batches = BatchAnalysis(classifier, _admission(), _charge_nothing)
        items: list[tuple[str, bytes | SkinscanError]] = [(f"{i}", b"x") for i in range(5)]
        answered = []
        with pytest.raises(InvalidRequestError, match="at most"):
            async for index, _ in batches.analyze(
                CLINICIAN, _images(items, then=InvalidRequestError("at most 5 images"))
            ):
                answered.append(index)
        return answered

    assert sorted(_run(scenario())) == [0, 1, 2, 3, 4]


def test_buffered_images_are_bounded_in_bytes_so_a_fast_sender_waits() -> None:
    async def scenario() -> None:
        classifier = HeldClassifier()
        batches = BatchAnalysis(
            classifier, _admission(), _charge_nothing, group_images=2, max_buffered_bytes=300
        )
        taken: list[int] = []

        async def images() -> AsyncIterator[tuple[str, bytes | SkinscanError]]:
            for i in range(8):
                taken.append(i)
                yield f"{i}", b"x" * 100

        task = asyncio.create_task(_drain(batches.analyze(CLINICIAN, images())))
        await asyncio.sleep(0.05)
        # Three images of 100 bytes are held; the fourth waits for room (read, not taken in).
        assert classifier.groups == [["0"], ["1", "2"]] and taken == [0, 1, 2, 3]
        classifier.release.set()
        assert await task == 8

    _run(scenario())


async def _drain(answers: AsyncIterator[tuple[int, Outcome]]) -> int:
    return len([a async for a in answers])
