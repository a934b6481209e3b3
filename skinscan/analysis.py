"""The result of analysing one image, as every interface returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DISCLAIMER", "Analysis", "ModelRef", "decide"]

DISCLAIMER = (
    "skinscan is decision support for clinicians. It does not replace examination and "
    "diagnosis by a dermatologist; any lesion of concern must be assessed in person."
)


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


@dataclass(frozen=True)
class Analysis:
    """One classified image. `to_dict` is the REST body; the proto mirrors it field for field."""

    request_id: str
    label: str
    probabilities: dict[str, float]
    confidence: float
    model: ModelRef
    decision_threshold: float
    disclaimer: str = DISCLAIMER

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "label": self.label,
            "probabilities": dict(self.probabilities),
            "confidence": self.confidence,
            "model": {"name": self.model.name, "version": self.model.version},
            "decision_threshold": self.decision_threshold,
            "disclaimer": self.disclaimer,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Analysis:
        return cls(
            request_id=raw["request_id"],
            label=raw["label"],
            probabilities={k: float(v) for k, v in raw["probabilities"].items()},
            confidence=float(raw["confidence"]),
            model=ModelRef(**raw["model"]),
            decision_threshold=float(raw["decision_threshold"]),
            disclaimer=raw.get("disclaimer", DISCLAIMER),
        )


def decide(
    request_id: str,
    probabilities: np.ndarray,
    labels: tuple[str, ...],
    positive_label: str,
    decision_threshold: float,
    model: ModelRef,
) -> Analysis:
    """Turns one row of class probabilities into an Analysis.

    The positive class ("malignant") wins whenever its probability reaches the
    threshold chosen at training time for a target sensitivity, so a missed
    melanoma is rarer than with a plain argmax. Otherwise the most probable of
    the other classes is the label.
    """
    if probabilities.shape != (len(labels),) or not np.all(np.isfinite(probabilities)):
        raise ValueError(f"expected {len(labels)} finite probabilities, got {probabilities!r}")
    # Renormalize in float64 so the values a client sees sum to 1 exactly enough.
    probs = probabilities.astype(np.float64)
    probs = probs / probs.sum()
    by_label = {label: float(p) for label, p in zip(labels, probs, strict=True)}
    if by_label[positive_label] >= decision_threshold:
        label = positive_label
    else:
        label = max((x for x in labels if x != positive_label), key=by_label.__getitem__)
    return Analysis(
        request_id=request_id,
        label=label,
        probabilities=by_label,
        confidence=by_label[label],
        model=model,
        decision_threshold=decision_threshold,
    )
