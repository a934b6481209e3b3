"""The result of analysing one image, as every interface returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DISCLAIMER", "Analysis", "ModelRef"]

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
