"""The result of analysing one image, as every interface returns it."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DISCLAIMER",
    "MODEL_THRESHOLD",
    "Analysis",
    "CropBox",
    "Diagnosis",
    "Finding",
    "HeatMap",
    "ModelRef",
    "Severity",
]

# What a result's threshold_basis says when the model's own threshold decided it (otherwise
# the clinic's, in words: gateway.surveillance.thresholds).
MODEL_THRESHOLD = "the model's threshold"
DISCLAIMER = (
    "skinscan is decision support for clinicians. It does not replace examination and "
    "diagnosis by a dermatologist; any lesion of concern must be assessed in person."
)


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


class Severity(StrEnum):
    # The result stands, but the clinician should know this.
    WARNING = "warning"
    # The image cannot be assessed: no result is given.
    REFUSAL = "refusal"


@dataclass(frozen=True)
class Finding:
    """One thing noticed about an image or its result."""

    code: str
    severity: Severity
    reason: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "reason": self.reason,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Finding:
        return cls(raw["code"], Severity(raw["severity"]), raw["reason"], float(raw["value"]))


@dataclass(frozen=True)
class CropBox:
    """A rectangle in an image's pixels, from its top-left corner."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class HeatMap:
    """Grad-CAM for the decided class: a greyscale PNG at the model's input size, and
    the square of the upright upload it covers (stretch the PNG over `crop`)."""

    png: bytes
    crop: CropBox

    def to_dict(self) -> dict[str, Any]:
        return {"png_base64": base64.b64encode(self.png).decode(), "crop": asdict(self.crop)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HeatMap:
        return cls(base64.b64decode(raw["png_base64"]), CropBox(**raw["crop"]))


@dataclass(frozen=True)
class Diagnosis:
    """The most likely of the seven HAM10000 diagnoses, with every code's probability."""

    code: str
    name: str
    malignant: bool
    # In a stable order (the codes sorted), whatever the transport.
    probabilities: dict[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", dict(sorted(self.probabilities.items())))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Diagnosis:
        probabilities = {k: float(v) for k, v in raw["probabilities"].items()}
        return cls(raw["code"], raw["name"], bool(raw["malignant"]), probabilities)


@dataclass(frozen=True)
class Analysis:
    """One analysed image. `to_dict` is the REST body; the proto mirrors it field for field.

    When `assessable` is false the image could not be judged: there is no
    label and no probability, only the findings that say why (and the model
    and the disclaimer, which every result carries).
    """

    request_id: str
    model: ModelRef
    assessable: bool
    findings: tuple[Finding, ...] = ()
    label: str = ""
    # In a stable order (the labels' names sorted), whatever the transport.
    probabilities: dict[str, float] = field(default_factory=dict)
    malignant_probability: float = 0.0
    decision_threshold: float = 0.0
    explanation: str = ""
    heatmap: HeatMap | None = None
    diagnosis: Diagnosis | None = None
    disclaimer: str = DISCLAIMER
    # Which threshold decided ("the model's threshold", or a clinic's own, in words), and the
    # sensitivity it was chosen for (0 where the model does not declare one).
    threshold_basis: str = ""
    target_sensitivity: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", dict(sorted(self.probabilities.items())))

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.REFUSAL)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"request_id": self.request_id, "assessable": self.assessable}
        if self.assessable:
            body |= {
                "label": self.label,
                "probabilities": dict(self.probabilities),
                "malignant_probability": self.malignant_probability,
                "decision_threshold": self.decision_threshold,
                "threshold_basis": self.threshold_basis,
                "target_sensitivity": self.target_sensitivity,
                "explanation": self.explanation,
            }
            if self.diagnosis is not None:
                body["diagnosis"] = self.diagnosis.to_dict()
            if self.heatmap is not None:
                body["heatmap"] = self.heatmap.to_dict()
        return body | {
            "findings": [f.to_dict() for f in self.findings],
            "model": {"name": self.model.name, "version": self.model.version},
            "disclaimer": self.disclaimer,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Analysis:
        return cls(
            request_id=raw["request_id"],
            model=ModelRef(**raw["model"]),
            # Results stored before assessability existed were all assessed.
            assessable=bool(raw.get("assessable", True)),
            findings=tuple(Finding.from_dict(f) for f in raw.get("findings", ())),
            label=raw.get("label", ""),
            probabilities={k: float(v) for k, v in raw.get("probabilities", {}).items()},
            malignant_probability=float(raw.get("malignant_probability", 0.0)),
            decision_threshold=float(raw.get("decision_threshold", 0.0)),
            explanation=raw.get("explanation", ""),
            heatmap=HeatMap.from_dict(raw["heatmap"]) if raw.get("heatmap") else None,
            diagnosis=Diagnosis.from_dict(raw["diagnosis"]) if raw.get("diagnosis") else None,
            disclaimer=raw.get("disclaimer", DISCLAIMER),
            threshold_basis=raw.get("threshold_basis", ""),
            target_sensitivity=float(raw.get("target_sensitivity", 0.0)),
        )
