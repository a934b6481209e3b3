from __future__ import annotations

import numpy as np
import pytest

from preprocessor.decision import decide
from skinscan.analysis import DISCLAIMER, ModelRef

LABELS = ("benign", "malignant")
MODEL = ModelRef("m", "3")


@pytest.mark.parametrize(
    ("malignant", "threshold", "label"),
    [
        (0.31, 0.3, "malignant"),
        (0.29, 0.3, "benign"),
        (0.6, 0.5, "malignant"),
        (0.4, 0.5, "benign"),
    ],
)
def test_threshold_decides_the_label(malignant: float, threshold: float, label: str) -> None:
    analysis = decide(
        "r", np.array([1 - malignant, malignant], np.float32), LABELS, "malignant", threshold, MODEL
    )
    assert analysis.label == label
    assert analysis.confidence == pytest.approx(analysis.probabilities[label])
    assert sum(analysis.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert analysis.disclaimer == DISCLAIMER
    assert analysis.to_dict()["model"] == {"name": "m", "version": "3"}


def test_non_finite_probabilities_are_refused_not_reported() -> None:
    with pytest.raises(ValueError, match="finite"):
        decide("r", np.array([np.nan, 0.5]), LABELS, "malignant", 0.5, MODEL)
