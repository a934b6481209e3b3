"""Fitting the out-of-distribution score at export, and choosing where it refuses.

The statistics are fitted on the training images of every source, with each
source's classes as the classes (benign and malignant of a binary source, the
seven diagnoses where a source names them). The refusal level starts where
99% of each source's validation dermoscopy stays under, the highest of those.

A refusal of real dermoscopy from a clinic whose camera the model never saw
is worse than no score at all, so the level is also checked leave-one-source-
out: fitted on one source alone with its own 99% level, how much of another
source's validation dermoscopy passes. Where that is under 97%, the level is
raised by the factor that lets 97% of the left-out source pass, and the same
factor applies to the served level; both directions are reported. Sources with
fewer than 100 validation images are too small to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trainer.network.ood import OodScore, OodStatistics, fit_statistics

__all__ = [
    "LEFT_OUT_PASS_RATE",
    "OOD_PASS_RATE",
    "OodFit",
    "fit_ood",
    "ood_classes",
    "pass_rates",
    "refusal_level",
]

# The share of each source's held-out dermoscopy the refusal level lets through.
OOD_PASS_RATE = 0.99
# The share of a source the statistics never saw that must pass (leave-one-source-out).
LEFT_OUT_PASS_RATE = 0.97
# Fewer validation images than this make a 97% or 99% quantile noise: no check, no margin.
MIN_CHECK_IMAGES = 100


def ood_classes(labels: np.ndarray, diagnoses: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Each image's class for the class-conditional means: its diagnosis where it has one,
    else its label within its source."""
    return np.where(diagnoses >= 0, 1000 + diagnoses, sources * 100 + labels)


def _scores(statistics: OodStatistics, features: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        score = OodScore(statistics)([torch.from_numpy(f.astype(np.float32)) for f in features])
    return score.numpy()


def _rows(features: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
    return [f[rows] for f in features]


@dataclass(frozen=True)
class OodFit:
    statistics: OodStatistics
    # The factor on the per-source 99% level that lets a left-out source pass (>= 1).
    margin: float
    leave_one_source_out: list[dict[str, Any]]


def fit_ood(
    train: list[np.ndarray],
    train_classes: np.ndarray,
    train_sources: np.ndarray,
    validation: list[np.ndarray],
    validation_sources: np.ndarray,
    source_names: list[str],
) -> OodFit:
    """Fits on every source; with two or more, measures each left out and sets the margin."""
    if not train or len(train[0]) == 0:
        raise ValueError("no training features to fit the out-of-distribution score on")
    statistics = fit_statistics(train, train_classes)
    checks: list[dict[str, Any]] = []
    margin = 1.0
    present = [
        s for s in np.unique(train_sources) if (validation_sources == s).sum() >= MIN_CHECK_IMAGES
    ]
    if len(present) > 1:
        for fitted in present:
            alone = fit_statistics(
                _rows(train, train_sources == fitted), train_classes[train_sources == fitted]
            )
            own = _scores(alone, _rows(validation, validation_sources == fitted))
            level = float(np.quantile(own, OOD_PASS_RATE))
            for left_out in present:
                if left_out == fitted:
                    continue
                theirs = _scores(alone, _rows(validation, validation_sources == left_out))
                needed = float(np.quantile(theirs, LEFT_OUT_PASS_RATE)) / level
                checks.append(
                    {
                        "fitted_on": source_names[fitted],
                        "left_out": source_names[left_out],
                        "images": len(theirs),
                        "pass_rate_at_own_level": float(np.mean(theirs <= level)),
                        "margin_for_97_percent": needed,
                    }
                )
                margin = max(margin, needed)
    return OodFit(statistics, margin, checks)


def refusal_level(
    scores: np.ndarray, sources: np.ndarray, source_names: list[str], margin: float
) -> tuple[float, dict[str, Any]]:
    """The served level from the served graph's validation scores: the highest per-source
    99% level, times the leave-one-source-out margin; and each source's pass rate."""
    per_source = {
        source_names[s]: float(np.quantile(scores[sources == s], OOD_PASS_RATE))
        for s in np.unique(sources)
    }
    level = max(per_source.values()) * margin
    passing = pass_rates(scores, sources, source_names, level)
    return level, {"per_source_level": per_source, "validation": passing}


def pass_rates(
    scores: np.ndarray, sources: np.ndarray, source_names: list[str], level: float
) -> dict[str, dict[str, float]]:
    """Each source's images and the share of them at or under `level`."""
    return {
        source_names[s]: {
            "images": int((sources == s).sum()),
            "pass_rate": float(np.mean(scores[sources == s] <= level)),
        }
        for s in np.unique(sources)
    }
