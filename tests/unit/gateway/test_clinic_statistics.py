"""gateway.surveillance.statistics: the bounds hold what they promise, on simulated cases."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.surveillance.statistics import (
    MIN_MALIGNANT,
    Rate,
    lower_bound,
    malignant_needed,
    propose_threshold,
    rate_at,
)


def test_the_exact_lower_bound_matches_its_closed_forms() -> None:
    # All n of n referred: the bound solves p**n = 0.05; none referred bounds nothing.
    for n in (1, 10, 29, 30, 64):
        assert lower_bound(n, n) == pytest.approx(0.05 ** (1 / n), rel=1e-9)
    assert lower_bound(0, 40) == 0.0
    assert lower_bound(28, 28) < 0.9 < lower_bound(29, 29)
    with pytest.raises(ValueError):
        lower_bound(5, 4)


def test_the_lower_bound_covers_the_true_rate_in_95_percent_of_samples() -> None:
    rng = np.random.default_rng(1)
    for true, n in ((0.9, 40), (0.8, 100), (0.95, 60)):
        hits = rng.binomial(n, true, 4000)
        covered = np.mean([lower_bound(int(k), n) <= true for k in hits])
        assert covered >= 0.95  # exact bounds are conservative: never under


def test_enough_malignant_cases_are_needed_and_counted_down() -> None:
    assert malignant_needed(0.9) == MIN_MALIGNANT
    assert malignant_needed(0.95) == 59  # 0.95**59 < 0.05 <= 0.95**58
    rng = np.random.default_rng(2)
    malignant = np.r_[np.ones(12, bool), np.zeros(200, bool)]
    scores = rng.random(len(malignant))
    proposal = propose_threshold(scores, malignant, 0.9, 0.5)
    assert proposal.threshold is None and proposal.sensitivity is None
    assert proposal.more_malignant_needed == MIN_MALIGNANT - 12
    # The model's own threshold is still measured on what there is.
    assert proposal.model_sensitivity.total == 12


def _clinic(rng: np.random.Generator, cases: int, share: float, shift: float) -> tuple:
    """Scores of a clinic where malignant lesions score lower than where the model learnt
    (`shift` on the logit): the model's threshold then refers too few of them."""
    malignant = rng.random(cases) < share
    logits = np.where(malignant, rng.normal(1.2, 1.2, cases), rng.normal(-1.5, 1.2, cases))
    return 1 / (1 + np.exp(-(logits + shift))), malignant


def test_the_proposed_threshold_keeps_the_target_on_later_cases_where_the_model_misses() -> None:
    rng = np.random.default_rng(3)
    target, model_threshold = 0.9, 0.5
    kept, model_kept = [], []
    for _ in range(200):
        scores, malignant = _clinic(rng, 1200, 0.12, shift=-1.2)
        audit, later = slice(0, 500), slice(500, None)
        proposal = propose_threshold(
            scores[audit], malignant[audit], target, model_threshold, draws=200
        )
        assert proposal.threshold is not None and proposal.malignant >= MIN_MALIGNANT
        assert proposal.sensitivity is not None and proposal.sensitivity.lower_bound is not None
        assert proposal.sensitivity.lower_bound >= target
        sensitivity, _ = rate_at(scores[later], malignant[later], proposal.threshold)
        model, _ = rate_at(scores[later], malignant[later], model_threshold)
        kept.append(sensitivity.hits / sensitivity.total >= target - 0.05)
        model_kept.append(model.hits / model.total >= target - 0.05)
    assert np.mean(kept) >= 0.9
    assert np.mean(model_kept) < 0.1


def test_the_specificity_interval_is_a_bootstrap_around_the_estimate() -> None:
    rng = np.random.default_rng(4)
    scores, malignant = _clinic(rng, 800, 0.15, shift=0.0)
    first = propose_threshold(scores, malignant, 0.9, 0.5, seed=7, draws=300)
    again = propose_threshold(scores, malignant, 0.9, 0.5, seed=7, draws=300)
    assert first == again
    assert first.specificity is not None and first.specificity_interval is not None
    low, high = first.specificity_interval
    assert 0 <= low < first.specificity.value < high <= 1  # type: ignore[operator]
    # A looser target refers fewer benign lesions.
    looser = propose_threshold(scores, malignant, 0.8, 0.5, draws=50)
    assert looser.threshold is not None and first.threshold is not None
    assert looser.threshold > first.threshold


def test_the_model_threshold_is_judged_against_the_target() -> None:
    rng = np.random.default_rng(5)
    scores, malignant = _clinic(rng, 2000, 0.2, shift=-1.5)
    missed = propose_threshold(scores, malignant, 0.9, 0.5, draws=20).model_sensitivity
    assert missed.below(0.9) is True
    scores, malignant = _clinic(rng, 2000, 0.2, shift=3.0)
    kept = propose_threshold(scores, malignant, 0.9, 0.5, draws=20).model_sensitivity
    assert kept.below(0.9) is False
    assert kept.lower_bound is not None and kept.lower_bound >= 0.9
    assert Rate(0, 0).below(0.9) is False  # no cases say nothing


def test_cases_must_pair_one_score_with_one_diagnosis() -> None:
    with pytest.raises(ValueError, match="one score"):
        propose_threshold([0.1, 0.2], [True], 0.9, 0.5)
    with pytest.raises(ValueError, match="target"):
        propose_threshold([0.1], [True], 1.0, 0.5)
