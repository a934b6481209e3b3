from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    threshold_for_sensitivity,
)


def _overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose calibrated form is known, then multiplied by 4: a network that is too sure."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    margin = rng.normal(1.0, 1.5, n) * np.where(labels == 1, 1, -1)
    calibrated = np.stack([-margin / 2, margin / 2], axis=1)
    # Draw labels from the calibrated probabilities so that T=4 is the truth.
    truth = (rng.random(n) < softmax(calibrated)[:, 1]).astype(np.int64)
    return calibrated * 4.0, truth


def test_temperature_scaling_lowers_nll_and_ece_on_an_overconfident_set() -> None:
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, labels)
    assert 3.3 < temperature < 4.7
    assert (
        negative_log_likelihood(logits, labels, temperature)
        < negative_log_likelihood(logits, labels) - 0.1
    )
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits, temperature), labels)
    assert after < before / 2
    # Temperature never changes which class wins.
    assert np.array_equal(softmax(logits).argmax(1), softmax(logits, temperature).argmax(1))


def test_threshold_reaches_the_target_sensitivity_with_the_best_specificity() -> None:
    rng = np.random.default_rng(1)
    positives = rng.random(500) < 0.4
    scores = np.clip(rng.normal(np.where(positives, 0.65, 0.35), 0.15), 0, 1)
    threshold = threshold_for_sensitivity(scores, positives, 0.9)
    sensitivity = np.mean(scores[positives] >= threshold)
    assert sensitivity >= 0.9
    # Any higher threshold that changes a decision loses the sensitivity.
    higher = np.sort(scores[scores > threshold])[0]
    assert np.mean(scores[positives] >= higher + 1e-12) < 0.9
    with pytest.raises(ValueError):
        threshold_for_sensitivity(scores, np.zeros(500, bool), 0.9)
