"""Which explanations a version serves: each only when its validation check reached its level."""

from __future__ import annotations

from typing import Any

import pytest

from trainer.export.output_gates import withheld_outputs


def _evaluations(on_lesion: float | None, accuracy: float | None) -> dict[str, Any]:
    evaluations: dict[str, Any] = {}
    if on_lesion is not None:
        evaluations["heatmap"] = {"images": 812, "peak_on_lesion_rate": on_lesion}
    if accuracy is not None:
        evaluations["diagnosis"] = {
            "validation": {
                "images": 453,
                "balanced_accuracy": {"value": accuracy, "ci95": [accuracy - 0.1, accuracy + 0.1]},
            }
        }
    return evaluations


def test_outputs_that_reach_their_levels_are_served() -> None:
    assert withheld_outputs(_evaluations(0.93, 0.71), True, True, 0.90, 0.70) == {}


def test_outputs_below_their_levels_are_withheld_with_the_figures_that_decided_it() -> None:
    withheld = withheld_outputs(_evaluations(0.369, 0.572), True, True, 0.90, 0.70)
    assert withheld["heatmap"] == (
        "its peak lies on the lesion for 36.9% of 812 validation images, under the 90% it must "
        "reach"
    )
    assert withheld["diagnosis"] == (
        "its balanced accuracy on 453 validation images is 0.572 (0.472-0.672), under the 0.70 "
        "it must reach"
    )


@pytest.mark.parametrize("missing", ["heatmap", "diagnosis"])
def test_an_output_that_could_not_be_checked_is_withheld(missing: str) -> None:
    evaluations = _evaluations(
        None if missing == "heatmap" else 0.95, None if missing == "diagnosis" else 0.8
    )
    withheld = withheld_outputs(evaluations, True, True, 0.90, 0.70)
    assert set(withheld) == {missing} and "no validation images" in withheld[missing]


def test_level_zero_serves_whatever_the_figures_and_absent_outputs_are_not_listed() -> None:
    assert withheld_outputs(_evaluations(0.1, 0.2), True, True, 0.0, 0.0) == {}
    assert withheld_outputs({}, False, False, 0.90, 0.70) == {}
