"""skinscan evaluate reports what the model refuses: held-out dermoscopy, spoilt copies, non-dermoscopy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TEST_MODEL_NAME, run_cli
from trainer.data.not_dermoscopy import not_dermoscopy

pytestmark = pytest.mark.integration


def test_the_probe_images_are_made_the_same_every_time() -> None:
    first, second = not_dermoscopy(), not_dermoscopy()
    assert first == second
    assert {
        "random noise",
        "flat colours",
        "gradients",
        "text",
        "scanned pages",
        "everyday photographs",
        "other medical images",
    } <= set(first)
    assert all(len(images) >= 5 for images in first.values())


def test_evaluate_reports_pass_and_refusal_rates(
    model_repository: Path, small_dataset: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "evaluate",
        "--model",
        str(model_repository / TEST_MODEL_NAME),
        "--data",
        str(small_dataset),
        "--split",
        "validation",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "images that are not dermoscopy" in result.stdout
    report = json.loads((tmp_path / "metrics.json").read_text())["assessability"]
    held_out = report["held_out_dermoscopy"]
    assert held_out["images"] == 8 and held_out["pass_rate"] >= 7 / 8
    by_kind = report["not_dermoscopy"]["by_kind"]
    # Flat colours and gradients have no detail at all: refused by their measures alone.
    assert by_kind["flat colours"]["refusal_rate"] == 1.0
    assert by_kind["gradients"]["refusal_rate"] == 1.0
    spoilt = report["spoilt_dermoscopy"]
    assert (
        spoilt["darkened (8% brightness)"]["reasons"]["too_dark"]
        == spoilt["darkened (8% brightness)"]["images"]
    )
