"""The caller's deadline, carried to the calls a request makes."""

from __future__ import annotations

import asyncio
import time

from skinscan_kit import deadline


def test_the_callers_deadline_cuts_the_timeout_of_calls_it_makes() -> None:
    async def scenario() -> tuple[float, float, float]:
        no_deadline = deadline.timeout_s(30)

        async def handler() -> tuple[float, float]:
            deadline.set_remaining(0.5)
            soon = deadline.timeout_s(30)
            await asyncio.sleep(0.6)
            return soon, deadline.timeout_s(30)

        soon, passed = await asyncio.create_task(handler())
        return no_deadline, soon, passed

    no_deadline, soon, passed = asyncio.run(scenario())
    assert no_deadline == 30
    assert 0.4 < soon <= 0.5
    assert passed == deadline.MIN_TIMEOUT_S  # already passed: the next call fails at once


def test_a_deadline_belongs_to_its_own_request() -> None:
    async def scenario() -> float:
        async def other_request() -> None:
            deadline.set_remaining(0.01)

        await asyncio.create_task(other_request())
        started = time.monotonic()
        return deadline.timeout_s(30) - (time.monotonic() - started)

    assert asyncio.run(scenario()) > 29
