"""An int8 graph that would change decisions is refused, and the run serves fp32 saying why."""

from __future__ import annotations

from typing import Any

import numpy as np

from skinscan_model.metadata import InputSpec, ModelMetadata
from trainer.card.model_card import render_model_card
from trainer.export.graph import INT8_MIN_AGREEMENT, check_int8_parity


def _probabilities(malignant: np.ndarray) -> np.ndarray:
    return np.stack([1 - malignant, malignant], axis=1)


def _report(flipped: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(100, int), np.ones(100, int)]
    malignant = np.clip(labels * 0.6 + rng.uniform(0, 0.4, 200), 0, 1)
    quantized = malignant.copy()
    # Push the first `flipped` benign-looking images over the 0.5 threshold.
    quantized[:flipped] = 0.55
    return check_int8_parity(
        _probabilities(malignant),
        _probabilities(quantized),
        labels,
        positive=1,
        threshold=0.5,
        held_out=np.ones(200, bool),
    )


def test_int8_that_agrees_is_accepted() -> None:
    report = _report(flipped=0)
    assert report["accepted"] and "refused" not in report


def test_int8_that_changes_decisions_is_refused_with_the_reason() -> None:
    report = _report(flipped=10)  # 95% agreement
    assert report["decision_agreement"] < INT8_MIN_AGREEMENT
    assert report["accepted"] is False
    assert "decisions agree on 95.00%" in str(report["refused"])

    card = render_model_card(
        ModelMetadata(
            name="m",
            labels=("benign", "malignant"),
            positive_label="malignant",
            decision_threshold=0.5,
            input=InputSpec(size=32),
            metrics={"int8_parity": report},
        )
    )
    assert "int8 was refused and the fp32 graph is served" in card
    assert "Served precision: fp32" in card
