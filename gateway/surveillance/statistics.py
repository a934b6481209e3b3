"""A clinic's own referral threshold, chosen from its audit cases with honest intervals.

The audit cases are a random sample of the clinic's assessable analyses, each
with the malignant probability the model gave and the diagnosis a
dermatologist confirmed. Cases a clinician chose to send for review are not
used: they lean towards the suspicious, and a threshold fitted on them would
be set for another population.

- **Sensitivity** at a threshold is k of n confirmed malignant cases referred
  (probability at or above the threshold, as skinscan_pipeline.decision
  decides). Its guarantee is the **one-sided exact (Clopper-Pearson) lower
  95% bound**: the smallest true sensitivity under which k or more of n would
  be referred with probability 5%. The proposed threshold is the highest one
  whose bound meets the model's target, so the clinic's true sensitivity is
  at least the target with 95% confidence. With n malignant cases the bound
  reaches 0.90 only if n >= 29 and every one is referred; that is why a
  threshold is proposed only from MIN_MALIGNANT confirmed malignant cases.
- **Specificity** depends on the chosen threshold, which itself depends on the
  few malignant cases near it; its 95% interval is a **percentile bootstrap
  over cases**: the cases are drawn again with replacement, the threshold is
  chosen again on each draw, and its specificity on that draw is kept.
- Two-sided 95% intervals shown beside a rate are Wilson score intervals
  (sound for small counts), as the performance page has them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import beta

__all__ = [
    "CONFIDENCE",
    "MIN_MALIGNANT",
    "Proposal",
    "Rate",
    "lower_bound",
    "malignant_needed",
    "propose_threshold",
    "rate_at",
]

CONFIDENCE = 0.95
# Fewer confirmed malignant cases cannot bound sensitivity at 0.90 from below (see above).
MIN_MALIGNANT = 30
BOOTSTRAP_DRAWS = 2000
_Z = 1.959963984540054  # two-sided 95%


def lower_bound(hits: int, total: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided exact (Clopper-Pearson) lower confidence bound of a proportion."""
    if not 0 <= hits <= total:
        raise ValueError(f"hits must be between 0 and total, got {hits} of {total}")
    if hits == 0:
        return 0.0
    return float(beta.ppf(1 - confidence, hits, total - hits + 1))


@dataclass(frozen=True)
class Rate:
    """`hits` of `total`, with its Wilson 95% interval and its one-sided lower bound."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.total:
            return None
        n, p = self.total, self.hits / self.total
        centre = (p + _Z**2 / (2 * n)) / (1 + _Z**2 / n)
        half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n**2)) / (1 + _Z**2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    @property
    def lower_bound(self) -> float | None:
        return lower_bound(self.hits, self.total) if self.total else None

    def below(self, target: float) -> bool:
        """Whether the cases say the rate misses `target`: even the upper end of its 95%
        interval is under it (False where there are no cases to say so)."""
        interval = self.interval
        return interval is not None and interval[1] < target


def rate_at(scores: np.ndarray, malignant: np.ndarray, threshold: float) -> tuple[Rate, Rate]:
    """(sensitivity, specificity) of referring at `threshold` (score >= threshold)."""
    referred = scores >= threshold
    return (
        Rate(int((referred & malignant).sum()), int(malignant.sum())),
        Rate(int((~referred & ~malignant).sum()), int((~malignant).sum())),
    )


def _needed_hits(total: int, target: float) -> int | None:
    """The fewest referred of `total` malignant cases whose lower bound meets `target`
    (None where even all of them would not)."""
    if not total or lower_bound(total, total) < target:
        return None
    hits = total
    while hits > 0 and lower_bound(hits - 1, total) >= target:
        hits -= 1
    return hits


def malignant_needed(target: float, confidence: float = CONFIDENCE) -> int:
    """Confirmed malignant cases needed before a threshold is proposed: MIN_MALIGNANT, or more
    where the target is so high that fewer, all referred, could not bound it."""
    smallest = math.ceil(math.log(1 - confidence) / math.log(target))
    while lower_bound(smallest, smallest, confidence) < target:
        smallest += 1
    return max(MIN_MALIGNANT, smallest)


def _choose(malignant_scores: np.ndarray, needed: int) -> float:
    """The highest threshold that refers `needed` of the malignant scores: the needed-th
    highest of them (a higher one would refer fewer; any lower one refers more benign)."""
    return float(np.sort(malignant_scores)[::-1][needed - 1])


@dataclass(frozen=True)
class Proposal:
    """A clinic's threshold and what it is expected to do, against the model's own."""

    threshold: float | None  # None until there are enough confirmed malignant cases
    target: float
    cases: int
    malignant: int
    more_malignant_needed: int  # 0 once a threshold can be proposed
    sensitivity: Rate | None
    specificity: Rate | None
    specificity_interval: tuple[float, float] | None  # bootstrap over cases
    model_threshold: float
    model_sensitivity: Rate
    model_specificity: Rate


def propose_threshold(
    scores: Sequence[float] | np.ndarray,
    malignant: Sequence[bool] | np.ndarray,
    target: float,
    model_threshold: float,
    *,
    seed: int = 0,
    draws: int = BOOTSTRAP_DRAWS,
) -> Proposal:
    """The clinic's threshold from its confirmed audit cases (malignant probability, and
    whether the lesion was malignant), as the module's statistics choose it."""
    if not 0 < target < 1:
        raise ValueError(f"target sensitivity must be in (0, 1), got {target}")
    s = np.asarray(scores, dtype=np.float64)
    m = np.asarray(malignant, dtype=bool)
    if s.shape != m.shape or s.ndim != 1:
        raise ValueError("one score and one confirmed diagnosis per case")
    model_sensitivity, model_specificity = rate_at(s, m, model_threshold)
    n_malignant = int(m.sum())
    needed_malignant = malignant_needed(target)
    waiting = Proposal(
        threshold=None,
        target=target,
        cases=len(s),
        malignant=n_malignant,
        more_malignant_needed=max(needed_malignant - n_malignant, 0),
        sensitivity=None,
        specificity=None,
        specificity_interval=None,
        model_threshold=model_threshold,
        model_sensitivity=model_sensitivity,
        model_specificity=model_specificity,
    )
    needed = _needed_hits(n_malignant, target)
    if n_malignant < needed_malignant or needed is None or n_malignant == len(s):
        return waiting
    threshold = _choose(s[m], needed)
    sensitivity, specificity = rate_at(s, m, threshold)
    return replace(
        waiting,
        threshold=threshold,
        sensitivity=sensitivity,
        specificity=specificity,
        specificity_interval=_bootstrap_specificity(s, m, target, seed, draws),
    )


def _bootstrap_specificity(
    scores: np.ndarray, malignant: np.ndarray, target: float, seed: int, draws: int
) -> tuple[float, float]:
    """Percentile 95% interval of the specificity of a threshold chosen afresh on each draw."""
    rng = np.random.default_rng(seed)
    kept = []
    needed_for: dict[int, int] = {}
    for _ in range(draws):
        pick = rng.integers(0, len(scores), len(scores))
        s, m = scores[pick], malignant[pick]
        n = int(m.sum())
        if n in (0, len(s)):
            continue  # a draw with no malignant or no benign case has no specificity to give
        if n not in needed_for:
            # A draw too poor in malignant cases to bound refers every one of them.
            needed_for[n] = _needed_hits(n, target) or n
        _, specificity = rate_at(s, m, _choose(s[m], needed_for[n]))
        kept.append(specificity.hits / specificity.total)
    if not kept:
        return (0.0, 1.0)
    low, high = np.quantile(kept, [0.025, 0.975])
    return float(low), float(high)
