"""What a run hands from training to its finalization: the network, its images, its parent.

Training (trainer.train, trainer.init_from, trainer.continue_training) fills a Trained;
trainer.served_graph and trainer.finalize read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skinscan_model.metadata import InputSpec
from skinscan_model.store import ModelVersion
from trainer.config import TrainConfig
from trainer.data.prepare import PreparedData
from trainer.data.samples import LabelledImages
from trainer.network.model import SkinLesionClassifier
from trainer.training.loop import FitResult

__all__ = ["FP32_FILE", "Calibration", "Continued", "Export", "Inherited", "SplitImages", "Trained"]

FP32_FILE = "model.fp32.onnx"


@dataclass(frozen=True)
class SplitImages:
    """The decoded images of each part of the split, at the trained size."""

    train: LabelledImages
    validation: LabelledImages
    test: LabelledImages

    def held_out(self) -> dict[str, LabelledImages]:
        """The parts that are evaluated, when they hold any image."""
        parts = {"validation": self.validation, "test": self.test}
        return {name: images for name, images in parts.items() if len(images.labels)}


@dataclass(frozen=True)
class Inherited:
    """What a version trained on top of another keeps of it (trainer.init_from)."""

    parent: ModelVersion
    temperature: float
    threshold: float
    lineage: dict[str, Any]
    # The parent's diagnosis temperature, where its diagnosis head is kept as it was (None:
    # the head was trained anew, and its temperature is fitted).
    diagnosis_temperature: float | None = None


@dataclass(frozen=True)
class Continued:
    """A version whose whole network trained on from another (trainer.continue_training): a
    new model in full, published only if it beats its parent (trainer.evaluation.versus_parent)."""

    parent: ModelVersion
    lineage: dict[str, Any]
    # The validation images at the parent's input size, when the run trained at another.
    parent_validation: np.ndarray | None = None


@dataclass(frozen=True)
class Trained:
    """A trained network and what its export and model card need to know."""

    config: TrainConfig
    classifier: SkinLesionClassifier
    spec: InputSpec
    prepared: PreparedData
    images: SplitImages
    history: FitResult
    pretrain_history: FitResult | None
    seconds: float
    device: str
    inherited: Inherited | None = None
    continued: Continued | None = None

    @property
    def lineage(self) -> dict[str, Any] | None:
        if self.inherited is not None:
            return self.inherited.lineage
        return self.continued.lineage if self.continued is not None else None

    @property
    def positive(self) -> int:
        """The class index of the label the threshold is for."""
        return self.prepared.dataset.classes.index(self.config.positive_label)


@dataclass(frozen=True)
class Calibration:
    temperature: float
    threshold: float
    report: dict[str, Any]
    diagnosis_temperature: float = 1.0


@dataclass(frozen=True)
class Export:
    served: Path
    precision: str
    fp32: Path
    fp32_difference: float
    int8_parity: dict[str, Any] | None
    ood: dict[str, Any] | None = None
    # The acquisition gate's report (trainer.export.acquisition_export), where one was fitted.
    gate: dict[str, Any] | None = None
    # Training dermoscopy of collections only the gate learnt from (acral/): the quality
    # limits are read off every dermoscopy source, not only the decision's.
    gate_dermoscopy: np.ndarray | None = None
