"""`skinscan train --init-from MODEL`: a new version built on an exported one.

The committed model is the checkpoint. Its network is rebuilt from its ONNX
graph (trainer.export.onnx_import) and its decision path (backbone and decision
head) is kept as it is, with its temperature and threshold: the new version
decides exactly as its parent did, which the export checks. What is new is
trained on top, from features the frozen front computes once per
augmentation draw (trainer.training.frozen_features):

- the diagnosis head, on the images that carry a diagnosis (HAM10000);
- with --diagnosis-branch, also a copy of the backbone's last stage that only
  the diagnosis head reads, fine-tuned from the parent's weights.

The parent's split is kept (its split.csv, or --split-from), so the two
versions' validation numbers are on the same images. The out-of-distribution
score, the heat map and the quality limits are fitted anew at export
(trainer.finalize) on every source's training images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.repositories import resolve_version
from skinscan_model.store import ModelVersion
from trainer.config import TrainConfig
from trainer.data.prepare import PreparedData, prepare_sources
from trainer.data.samples import DataError, LabelledImages, decode
from trainer.data.split_file import apply_split_file
from trainer.export.onnx_import import ImportedModel, import_model
from trainer.finalize import finalize
from trainer.network.model import SkinLesionClassifier, build_classifier, diagnosis_logits
from trainer.run import Inherited, SplitImages, Trained
from trainer.training.frozen_features import FrozenFitConfig, cache_features, fit_on_features
from trainer.training.loop import FitResult

__all__ = [
    "decode_part",
    "decode_split",
    "network_with_diagnoses",
    "parent_and_config",
    "prepare_on_parents_split",
    "train_from_parent",
]


class _DiagnosisPath(nn.Module):
    """What the diagnosis head reads, from the frozen front's output, to its logits."""

    def __init__(self, classifier: SkinLesionClassifier) -> None:
        super().__init__()
        assert classifier.diagnosis_head is not None
        self.stage = classifier.diagnosis_stage
        self.head = classifier.diagnosis_head

    def forward(self, start: torch.Tensor) -> torch.Tensor:
        return diagnosis_logits(self.stage, self.head, start)


@dataclass(frozen=True)
class _Front:
    """The frozen part of the network, as the frozen-feature trainer runs it."""

    classifier: SkinLesionClassifier

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classifier.diagnosis_input(self.classifier.stage_maps(pixels))


def network_with_diagnoses(
    config: TrainConfig, parent: ImportedModel, diagnoses: int
) -> SkinLesionClassifier:
    """The parent's network, with a diagnosis head (and branch) where it had none."""
    metadata = parent.metadata
    branch = config.diagnosis_branch or parent.classifier.diagnosis_stage is not None
    classifier = build_classifier(
        metadata.architecture,
        "none",
        len(metadata.labels),
        metadata.input,
        diagnoses,
        branch,
    )
    missing, unexpected = classifier.load_state_dict(parent.classifier.state_dict(), strict=False)
    new = [k for k in missing if not k.startswith(("diagnosis_head.", "diagnosis_stage."))]
    if new or unexpected:
        raise DataError(f"{parent.identity} does not fit the network: {new or unexpected}")
    if branch and parent.classifier.diagnosis_stage is None:
        assert classifier.diagnosis_stage is not None
        last = classifier.backbone.stages[-1]
        classifier.diagnosis_stage.load_state_dict(
            classifier.backbone.get_submodule(last).state_dict()
        )
    return classifier.eval()


def _with_diagnoses(images: LabelledImages) -> tuple[np.ndarray, np.ndarray]:
    known = np.flatnonzero(images.diagnoses >= 0)
    return known, images.diagnoses[known]


def parent_and_config(config: TrainConfig) -> tuple[ImportedModel, TrainConfig]:
    """The --init-from version rebuilt from its graph, and the run's settings with its network
    and preprocessing, whatever the options said, and its input size unless a continued run
    gives another: the record (and the card's command) then says what was really used."""
    assert config.init_from is not None
    parent = import_model(resolve_version(config.init_from, config.data_cache))
    metadata = parent.metadata
    size = config.image_size or metadata.input.size
    if size != metadata.input.size and not config.continues:
        raise DataError(
            f"--image-size {size}: {parent.identity}'s decision path is kept as it is, at its "
            f"{metadata.input.size} px; train the whole network on at another size with "
            "--budget-minutes, or leave --image-size out"
        )
    return parent, replace(
        config,
        image_size=size,
        architecture=metadata.architecture,
        color_constancy=metadata.input.color_constancy,
        weights="none",
    )


def prepare_on_parents_split(
    config: TrainConfig, parent: ImportedModel
) -> tuple[PreparedData, Path]:
    """The data, split as the parent's was (its split.csv, or --split-from), and that file."""
    prepared = prepare_sources(
        config.data, config.labels, config.validation_fraction, config.test_fraction, config.seed
    )
    if prepared.dataset.classes != parent.metadata.labels:
        raise DataError(
            f"the data's classes {prepared.dataset.classes} are not {parent.identity}'s "
            f"{parent.metadata.labels}"
        )
    split_file = config.split_from or parent.version.path / "split.csv"
    if not split_file.is_file():
        raise DataError(f"{parent.identity} has no split.csv; give one with --split-from")
    return apply_split_file(prepared, split_file), split_file


def decode_part(prepared: PreparedData, name: str, size: int) -> LabelledImages:
    """One part of the split ("train", "validation" or "test"), decoded at `size`."""
    indices = getattr(prepared.split, name)
    return decode([prepared.dataset.samples[i] for i in indices], size)


def decode_split(prepared: PreparedData, size: int) -> SplitImages:
    """Every part of the split, decoded at `size`."""
    return SplitImages(
        *(decode_part(prepared, name, size) for name in ("train", "validation", "test"))
    )


def _gate_only(
    config: TrainConfig,
    parent: ImportedModel,
    prepared: PreparedData,
    split_file: Path,
    images: SplitImages,
    started: float,
) -> ModelVersion:
    """The parent's whole network as it is, its diagnosis head and temperatures included; the
    acquisition gate is fitted at export (trainer.finalize), nothing else is trained."""
    metadata = parent.metadata
    lineage: dict[str, Any] = {
        "parent": {
            "name": parent.version.name,
            "version": parent.version.version,
            "model_sha256": metadata.model_sha256,
            "precision": metadata.precision,
        },
        "kept": "the whole network (backbone, decision head, diagnosis head), temperatures and "
        "threshold, as the parent's graph holds them",
        "trained": "acquisition gate",
        "split_from": str(split_file),
    }
    return finalize(
        Trained(
            config=config,
            classifier=parent.classifier,
            spec=metadata.input,
            prepared=prepared,
            images=images,
            history=FitResult(best_state={}, best_epoch=0),
            pretrain_history=None,
            seconds=time.monotonic() - started,
            device="cpu",
            inherited=Inherited(
                parent.version,
                parent.temperature,
                metadata.decision_threshold,
                lineage,
                parent.diagnosis_temperature,
            ),
        )
    )


def train_from_parent(config: TrainConfig) -> ModelVersion:
    started = time.monotonic()
    parent, config = parent_and_config(config)
    parent_version, metadata = parent.version, parent.metadata
    size = metadata.input.size
    print(
        f"starting from {parent.identity} ({metadata.architecture}, {size} px, "
        f"{metadata.precision}): decision path kept, temperature {parent.temperature:.3f}, "
        f"threshold {metadata.decision_threshold:.4f}"
    )
    prepared, split_file = prepare_on_parents_split(config, parent)
    images = decode_split(prepared, size)
    if config.gate_only:
        return _gate_only(config, parent, prepared, split_file, images, started)
    train_known, train_targets = _with_diagnoses(images.train)
    val_known, val_targets = _with_diagnoses(images.validation)
    if len(train_known) == 0 or len(val_known) == 0:
        raise DataError(
            "nothing new to train: no training or validation image carries a diagnosis "
            "(add HAM10000 with --data)"
        )
    classifier = network_with_diagnoses(config, parent, len(DIAGNOSIS_CODES))
    cache = cache_features(
        _Front(classifier),
        images.train.pixels[train_known],
        images.validation.pixels[val_known],
        config.feature_draws,
        config.seed,
        config.batch_size,
    )
    print(
        f"frozen front: {config.feature_draws} augmentation draws of {len(train_known)} images "
        f"at {cache.images_per_second:.1f} images/s, {cache.megabytes:.0f} MiB kept (fp16)"
    )
    path = _DiagnosisPath(classifier)
    result, trained_rate = fit_on_features(
        path,
        {id(p) for p in path.head.parameters()},
        cache,
        train_targets,
        val_targets,
        len(DIAGNOSIS_CODES),
        FrozenFitConfig(
            epochs=config.epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            patience=config.patience,
            seed=config.seed,
        ),
    )
    print(f"trained part: {trained_rate:.1f} images/s")
    trained_what = (
        "diagnosis branch (a copy of the last stage, fine-tuned) and diagnosis head"
        if classifier.diagnosis_stage is not None
        else "diagnosis head"
    )
    lineage: dict[str, Any] = {
        "parent": {
            "name": parent_version.name,
            "version": parent_version.version,
            "model_sha256": metadata.model_sha256,
            "precision": metadata.precision,
        },
        "kept": "backbone, decision head, temperature and threshold, as the parent's graph holds them",
        "trained": trained_what,
        "trained_on": f"{len(train_known)} training images with a diagnosis "
        f"(validation {len(val_known)})",
        "split_from": str(split_file),
        "feature_draws": config.feature_draws,
        "images_per_second": {
            "frozen_front": round(cache.images_per_second, 1),
            "trained_part": round(trained_rate, 1),
        },
        "feature_cache_mib": round(cache.megabytes),
        "feature_seconds": round(cache.seconds, 1),
    }
    return finalize(
        Trained(
            config=config,
            classifier=classifier,
            spec=metadata.input,
            prepared=prepared,
            images=images,
            history=result,
            pretrain_history=None,
            seconds=time.monotonic() - started,
            device="cpu",
            inherited=Inherited(
                parent_version,
                parent.temperature,
                metadata.decision_threshold,
                lineage,
            ),
        )
    )
