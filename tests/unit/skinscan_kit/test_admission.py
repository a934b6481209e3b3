from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from skinscan.errors import OverloadedError, RateLimitedError
from skinscan_kit.admission import Admission


def _admission(limit: int) -> tuple[Admission, Gauge, Counter]:
    registry = CollectorRegistry()
    in_flight = Gauge("in_flight", "", registry=registry)
    refused = Counter("refused", "", registry=registry)
    return Admission(limit, "analyses", in_flight, refused, retry_after_s=2), in_flight, refused


def test_admits_up_to_the_limit_refuses_the_next_at_once_and_recovers() -> None:
    admission, in_flight, refused = _admission(2)
    with admission.admit(), admission.admit():
        assert in_flight._value.get() == 2
        with pytest.raises(OverloadedError) as error, admission.admit():
            pass
        # Mapped like a rate limit: RESOURCE_EXHAUSTED / 429 with Retry-After.
        assert isinstance(error.value, RateLimitedError) and error.value.retry_after_s == 2
        assert "2 analyses in progress" in str(error.value) and "retry in 2 s" in str(error.value)
        assert refused._value.get() == 1
    assert admission.current == 0 and in_flight._value.get() == 0
    with admission.admit():
        assert admission.current == 1


def test_a_failing_request_gives_its_place_back() -> None:
    admission, _, _ = _admission(1)
    with pytest.raises(ValueError), admission.admit():
        raise ValueError("the preprocessor failed")
    with admission.admit():
        pass
