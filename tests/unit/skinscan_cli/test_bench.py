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
