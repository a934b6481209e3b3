"""What an exported model declares about itself: `metadata.json` beside every model.onnx."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skinscan_model.quality import QualityLimits

__all__ = ["InputSpec", "ModelMetadata", "sha256_of"]


@dataclass(frozen=True)
class InputSpec:
    """What the exported graph takes: uint8 RGB pixels, NHWC, size x size.

    Colour constancy, then mean and std (on the 0-1 scale), are applied inside
    the graph; they are recorded here for model cards and for anyone reusing
    the network.
    """

    name: str = "pixels"
    size: int = 224
    layout: str = "NHWC"
    datatype: str = "UINT8"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    color_constancy: str = "none"


@dataclass(frozen=True)
class ModelMetadata:
    """Everything besides the weights that a served model needs, and its provenance."""

    name: str
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    input: InputSpec
    logits_output: str = "logits"
    probabilities_output: str = "probabilities"
    architecture: str = "resnet50"
    # "int8" (statically quantized QDQ graph) or "fp32".
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    # SHA-256 of model.onnx, recorded when the version is published, so a
    # store can tell a damaged or half-copied file from the one trained.
    model_sha256: str = ""
    # Where image-quality warnings and refusals start, read off the training images.
    quality: QualityLimits | None = None
    # Above this `ood_output` score an image is not like the dermoscopy the
    # model knows; None for models exported without the score.
    ood_threshold: float | None = None
    ood_output: str = "ood_score"
    # None where the graph's heat map is not served: its check did not hold
    # (trainer.export.output_gates), or the model has none.
    heatmap_output: str | None = "heatmap"
    # The diagnosis head's classes (skinscan_model.diagnoses codes); empty without
    # one, or where its diagnosis is not served (trainer.export.output_gates).
    diagnoses: tuple[str, ...] = ()
    diagnosis_output: str = "diagnosis_probabilities"
    # With an acquisition head (skinscan_model.acquisition): an image whose dermoscopy
    # probability in `acquisition_output` is under this level is refused as a clinical
    # photograph or as no picture of skin; None for models without the head.
    acquisition_level: float | None = None
    acquisition_output: str = "acquisition_probabilities"

    @property
    def target_sensitivity(self) -> float | None:
        """The sensitivity `decision_threshold` was chosen for (the trainer's config), if known."""
        value = (self.training.get("config") or {}).get("target_sensitivity")
        return float(value) if value is not None else None

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be two or more distinct names, got {self.labels}")
        if self.positive_label not in self.labels:
            raise ValueError(f"positive_label {self.positive_label!r} is not in {self.labels}")
        if not 0.0 < self.decision_threshold < 1.0:
            raise ValueError(f"decision_threshold must be in (0, 1), got {self.decision_threshold}")
        if self.input.size < 16:
            raise ValueError(f"input size {self.input.size} is too small")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelMetadata:
        spec = dict(raw["input"])
        spec["mean"] = tuple(spec.get("mean", InputSpec.mean))
        spec["std"] = tuple(spec.get("std", InputSpec.std))
        fields = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        fields["labels"] = tuple(raw["labels"])
        fields["diagnoses"] = tuple(raw.get("diagnoses", ()))
        fields["input"] = InputSpec(**spec)
        if raw.get("quality"):
            fields["quality"] = QualityLimits.from_dict(raw["quality"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
