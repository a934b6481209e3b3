"""The benchmark's own arithmetic: closed-loop counting, percentiles, errors, images."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from PIL import Image

from skinscan_cli.bench.images import bench_images
from skinscan_cli.bench.load import closed_loop


def test_closed_loop_counts_answers_in_the_window_and_every_error() -> None:
    calls = {"n": 0}

    def make_sender() -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            calls["n"] += 1
            time.sleep(0.01)
            if data == b"bad":
                raise ValueError("refused")

        return send

    result = closed_loop(make_sender, [b"good", b"bad"], clients=2, seconds=0.5, warm_up_s=0.2)
    # Each client alternates good and bad: about half fail, none hidden.
    assert result.errors["ValueError"] > 0
    assert len(result.latencies_s) > 0
    assert calls["n"] >= len(result.latencies_s) + result.errors["ValueError"]
    assert result.images_per_s == len(result.latencies_s) / 0.5
    # Each answer took at least its 10 ms of sleep.
    p50, p99 = result.percentile_ms(50), result.percentile_ms(99)
    assert p50 is not None and p99 is not None and 10 <= p50 <= p99


def test_generated_images_have_the_asked_size() -> None:
    images = bench_images(2, size=(1024, 768))
    assert images.source == "generated 1024x768 JPEGs"
    for data in images.encoded:
        assert Image.open(io.BytesIO(data)).size == (1024, 768)


def test_open_loop_sends_at_its_rate_and_tells_refusals_from_errors() -> None:
    from skinscan.errors import OverloadedError
    from skinscan_cli.bench.load import open_loop

    def make_sender() -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            time.sleep(0.02)
            if data == b"refuse":
                raise OverloadedError("2 analyses in progress")
            if data == b"break":
                raise RuntimeError("broken")

        return send

    started = time.perf_counter()
    result = open_loop(make_sender, [b"ok", b"refuse", b"ok", b"break"], 100, 1.0)
    elapsed = time.perf_counter() - started
    # 100 sent in one second (plus the last answers), whatever each took.
    assert 1.0 <= elapsed < 1.5
    assert len(result.latencies_s) == 50
    assert len(result.refused_latencies_s) == 25
    assert result.errors == {"RuntimeError": 25}
    assert result.as_dict()["refused"] == 25 and result.offered_per_s == 100


def test_every_path_overload_drives_each_path_at_once_and_samples_memory() -> None:
    import os

    from skinscan.errors import OverloadedError
    from skinscan_cli.bench.every_path_overload import overload_every_path

    def sender(refuses: bool) -> Callable[[], Callable[[bytes], None]]:
        def make() -> Callable[[bytes], None]:
            def send(data: bytes) -> None:
                time.sleep(0.01)
                if refuses:
                    raise OverloadedError("full")

            return send

        return make

    started = time.perf_counter()
    report = overload_every_path(
        {"grpc": sender(False), "jobs": sender(True)}, [b"x"], 50, 2.0, {"me": os.getpid()}
    )
    # The paths ran together: two seconds, not four.
    assert time.perf_counter() - started < 3.5
    assert report["paths"]["grpc"]["answered"] == 100 and report["paths"]["grpc"]["refused"] == 0
    assert report["paths"]["jobs"]["refused"] == 100
    memory = report["rss_mb"]["me"]
    assert 0 < memory["first"] <= memory["peak"]
    # This process is both "me" and the load generator; it mostly slept.
    cores = report["cores_while_sending"]
    assert set(cores) == {"me", "load generator"} and cores["me"] == cores["load generator"]
    assert 0 <= cores["me"] < 1.5


def test_soak_latency_is_reported_by_part_of_the_run() -> None:
    from skinscan_cli.bench.soak import latency_by_part

    latencies = [0.010] * 60 + [0.030] * 60
    parts = latency_by_part(latencies, 6)
    assert [p["p50_ms"] for p in parts] == [10.0, 10.0, 10.0, 30.0, 30.0, 30.0]
    assert latency_by_part([0.01] * 3, 6) == []


def test_open_loop_frees_the_place_of_work_accepted_for_later_and_counts_it_when_done() -> None:
    """A job holds a place only while it is submitted: with one place, jobs that finish
    after 0.3 s each do not hold up the submissions after them."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from skinscan.errors import OverloadedError
    from skinscan_cli.bench.load import Sender, open_loop

    finishing = ThreadPoolExecutor(64)

    def finish(data: bytes) -> None:
        time.sleep(0.3)
        if data == b"fail":
            raise RuntimeError("the job failed")

    def make_sender() -> Sender:
        def send(data: bytes) -> Future[None] | None:
            if data == b"refuse":
                raise OverloadedError("2000 jobs or more waiting")
            return finishing.submit(finish, data)

        return send

    result = open_loop(make_sender, [b"ok", b"refuse", b"ok", b"fail"], 40, 0.5, max_outstanding=1)
    finishing.shutdown()
    assert len(result.latencies_s) == 10 and min(result.latencies_s) >= 0.3
    assert len(result.refused_latencies_s) == 5 and max(result.refused_latencies_s) < 0.2
    assert result.errors == {"RuntimeError": 5}


def test_what_a_sender_answers_is_an_answer_unless_it_is_a_future() -> None:
    """The SDK's analyze returns the analysis: that is the request answered."""
    from skinscan_cli.bench.load import Sender, open_loop

    def make_sender() -> Sender:
        return lambda data: {"analysis": data}

    looped = closed_loop(make_sender, [b"ok"], 2, 0.3, warm_up_s=0)
    assert looped.answered_total > 0 and not looped.errors
    opened = open_loop(make_sender, [b"ok"], 50, 0.2)
    assert len(opened.latencies_s) == 10 and not opened.errors
