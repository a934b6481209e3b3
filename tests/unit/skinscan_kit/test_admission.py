from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from skinscan.errors import OverloadedError, RateLimitedError
from skinscan_kit.admission import Admission


def _in_a_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The project's tests run their event loops themselves (no async pytest plugin)."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


def _admission(
    limit: int, max_waiting: int = 0, max_wait_s: float = 0.0
) -> tuple[Admission, Gauge, Counter]:
    registry = CollectorRegistry()
    in_flight = Gauge("in_flight", "", registry=registry)
    refused = Counter("refused", "", registry=registry)
    admission = Admission(
        limit,
        "analyses",
        in_flight,
        refused,
        retry_after_s=2,
        max_waiting=max_waiting,
        max_wait_s=max_wait_s,
    )
    return admission, in_flight, refused


@_in_a_loop
async def test_admits_up_to_the_limit_refuses_the_next_at_once_and_recovers() -> None:
    admission, in_flight, refused = _admission(2)
    async with admission.admit(), admission.admit():
        assert in_flight._value.get() == 2
        with pytest.raises(OverloadedError) as error:
            async with admission.admit():
                pass
        # Mapped like a rate limit: RESOURCE_EXHAUSTED / 429 with Retry-After.
        assert isinstance(error.value, RateLimitedError) and error.value.retry_after_s == 2
        assert "2 analyses in progress" in str(error.value) and "retry in 2 s" in str(error.value)
        assert refused._value.get() == 1
    assert admission.current == 0 and in_flight._value.get() == 0
    async with admission.admit():
        assert admission.current == 1


@_in_a_loop
async def test_a_failing_request_gives_its_place_back() -> None:
    admission, _, _ = _admission(1)
    with pytest.raises(ValueError):
        async with admission.admit():
            raise ValueError("the preprocessor failed")
    async with admission.admit():
        pass


async def _hold(admission: Admission, name: str, order: list[str], hold_s: float) -> None:
    async with admission.admit():
        order.append(name)
        await asyncio.sleep(hold_s)


@_in_a_loop
async def test_a_burst_waits_in_line_and_is_served_first_come_first_served() -> None:
    admission, in_flight, refused = _admission(2, max_waiting=3, max_wait_s=5)
    order: list[str] = []
    tasks = []
    for name in "abcde":
        tasks.append(asyncio.create_task(_hold(admission, name, order, 0.02)))
        await asyncio.sleep(0)  # each arrives in turn
    assert admission.current == 2 and admission.waiting == 3
    # The line is full: the next is refused at once, naming what is full.
    with pytest.raises(OverloadedError, match="2 analyses in progress and 3 waiting"):
        admission.check()
    await asyncio.gather(*tasks)
    assert order == list("abcde")
    assert refused._value.get() == 1  # only the check above
    assert admission.current == 0 and admission.waiting == 0 and in_flight._value.get() == 0


@_in_a_loop
async def test_a_waiter_without_a_place_in_time_is_refused_and_leaves_the_line() -> None:
    admission, _, refused = _admission(1, max_waiting=1, max_wait_s=0.05)
    order: list[str] = []
    holder = asyncio.create_task(_hold(admission, "holder", order, 0.3))
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    with pytest.raises(OverloadedError, match=r"no place freed within 0\.05 s"):
        async with admission.admit():
            pass
    assert asyncio.get_running_loop().time() - started < 0.25
    assert admission.waiting == 0 and refused._value.get() == 1
    await holder
    assert admission.current == 0


@_in_a_loop
async def test_a_cancelled_waiter_leaves_the_line_and_takes_no_place() -> None:
    admission, _, _ = _admission(1, max_waiting=2, max_wait_s=5)
    order: list[str] = []
    holder = asyncio.create_task(_hold(admission, "holder", order, 0.05))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_hold(admission, "gone", order, 0))
    after = asyncio.create_task(_hold(admission, "after", order, 0))
    await asyncio.sleep(0)
    gone.cancel()  # its caller went away while it waited
    await asyncio.gather(holder, after)
    assert order == ["holder", "after"] and gone.cancelled()
    assert admission.current == 0 and admission.waiting == 0


@_in_a_loop
async def test_a_place_handed_to_a_waiter_cancelled_at_that_moment_is_passed_on() -> None:
    admission, _, _ = _admission(1, max_waiting=2, max_wait_s=5)
    order: list[str] = []
    async with admission.admit():
        first = asyncio.create_task(_hold(admission, "first", order, 0))
        second = asyncio.create_task(_hold(admission, "second", order, 0))
        await asyncio.sleep(0)
    # Leaving handed the place to `first`; it is cancelled before it could run.
    first.cancel()
    await asyncio.gather(second)
    assert order == ["second"] and first.cancelled()
    assert admission.current == 0 and admission.waiting == 0


@_in_a_loop
async def test_without_a_wait_time_nobody_waits() -> None:
    admission, _, _ = _admission(1, max_waiting=5, max_wait_s=0)
    async with admission.admit():
        with pytest.raises(OverloadedError):
            async with admission.admit():
                pass


@_in_a_loop
async def test_after_the_line_overflows_a_waiter_waits_only_as_long_as_a_place_takes() -> None:
    """An overflowing line is an overload: waiting there would only add to every accepted
    request's latency, so for a while a waiter gets the mean time a place takes to free."""
    admission, _, refused = _admission(1, max_waiting=1, max_wait_s=5)
    order: list[str] = []
    for name in "ab":  # a mean time a place is held: about 10 ms
        await _hold(admission, name, order, 0.01)
    holder = asyncio.create_task(_hold(admission, "holder", order, 0.5))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_hold(admission, "waiter", order, 0))
    await asyncio.sleep(0)
    with pytest.raises(OverloadedError, match="and 1 waiting"):
        admission.check()  # the line overflows
    waiter.cancel()
    await asyncio.sleep(0)  # it leaves the line
    started = asyncio.get_running_loop().time()
    with pytest.raises(OverloadedError, match="no place freed within"):
        async with admission.admit():
            pass
    # Not the 5 s a waiter may take in a burst.
    assert asyncio.get_running_loop().time() - started < 0.2
    assert refused._value.get() == 2
    await holder
    assert admission.current == 0 and admission.waiting == 0


@_in_a_loop
async def test_a_patient_request_waits_behind_the_line_and_is_refused_after_its_patience() -> None:
    admission, in_flight, refused = _admission(1, max_waiting=1, max_wait_s=1.0)
    async with admission.admit():
        with pytest.raises(OverloadedError, match=r"no place freed within 0\.05 s"):
            async with admission.admit(patient_s=0.05):
                pass
        assert refused._value.get() == 1  # type: ignore[attr-defined]
        admission.check()  # the patient one never took a place in the line
    async with admission.admit(patient_s=0.05):  # a free place is taken at once
        assert in_flight._value.get() == 1  # type: ignore[attr-defined]
