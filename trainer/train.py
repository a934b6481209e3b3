"""`skinscan train`: data set -> leak-free split -> (pretraining) -> training -> calibrated export.

The steps, each printed as it happens:
1. load the data set (folder-per-class, HAM10000 or an isic-cli download) and
   print its statistics;
2. join near-duplicate images into one group and split train / validation /
   test by group, stratified by class; the split is saved with the model;
3. optionally pretrain on a second data set (HAM10000's seven diagnoses),
   leaving out every pretraining image that nearly duplicates a validation or
   test image, then keep the backbone;
4. train (trainer.training.loop), resumably, keeping the epoch with the lowest
   validation loss;
5. calibrate, choose the decision threshold, export fp32 and int8 ONNX with
   parity checks, and write the version, its metrics and its model card
   (trainer.finalize).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.metadata import InputSpec
from skinscan_model.store import ModelVersion
from trainer.config import TrainConfig
from trainer.data.datasets import Dataset
from trainer.data.prepare import PreparedData, prepare, prepare_sources
from trainer.data.samples import DataError, Sample, decode
from trainer.data.splits import grouped_split, near_duplicate_pairs
from trainer.finalize import finalize
from trainer.network.model import SkinLesionClassifier, build_classifier
from trainer.run import SplitImages, Trained
from trainer.training.distributed import Distributed, choose_device
from trainer.training.loop import FitResult, fit
from trainer.training.phases import as_tensors, augmentation_for, data_identity, phase_config

__all__ = ["train"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuDNN's autotuner picks kernels by timing, which can differ run to run.
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def _subset(dataset: Dataset, indices: tuple[int, ...] | list[int]) -> list[Sample]:
    return [dataset.samples[i] for i in indices]


def _starting_point(config: TrainConfig) -> str:
    """What the training phase starts from, so a checkpoint from another start is refused."""
    if config.pretrains:
        return (
            f"pretrained on {config.pretrain_data} ({config.pretrain_labels}, "
            f"{config.pretrain_size} px, {config.pretrain_epochs} epochs, "
            f"lr {config.pretrain_learning_rate:g})"
        )
    return f"{config.weights} weights"


def _pretrain(
    config: TrainConfig,
    main: PreparedData,
    spec: InputSpec,
    distributed: Distributed,
    checkpoints: Path | None,
) -> tuple[SkinLesionClassifier, FitResult]:
    assert config.pretrain_data is not None
    print(f"pretraining on {config.pretrain_data} ({config.pretrain_labels} labels)")
    pre = prepare(config.pretrain_data, config.pretrain_labels, 0.0, 0.0, config.seed)
    # Pretraining on a copy of a validation or test image would leak its label
    # into the numbers we report, so those images are left out.
    held_out = list(main.split.validation + main.split.test)
    leaks = {i for i, _ in near_duplicate_pairs(pre.hashes, main.hashes[held_out])}
    # The rest is split again, with another seed: when the pretraining data is
    # also a training source, the same seed would pick the same first groups
    # for its validation part as the source's own held-out parts, all left out.
    kept = [i for i in range(len(pre.dataset.samples)) if i not in leaks]
    split = grouped_split(
        [pre.dataset.samples[i].label for i in kept],
        [pre.groups[i] for i in kept],
        0.1,
        0.0,
        config.seed + 1,
    )
    train_indices = [kept[i] for i in split.train]
    val_indices = [kept[i] for i in split.validation]
    print(
        f"  left out {len(leaks)} pretraining images that nearly duplicate a validation or test "
        f"image; {len(train_indices)} train, {len(val_indices)} validate the pretraining"
    )
    size = config.pretrain_size
    x_train = as_tensors(decode(_subset(pre.dataset, train_indices), size), distributed.device)
    x_val = as_tensors(decode(_subset(pre.dataset, val_indices), size), distributed.device)
    classifier = build_classifier(
        config.architecture, config.weights, len(pre.dataset.classes), spec
    ).to(distributed.device)
    if distributed.device.type == "cuda":
        classifier = classifier.to(memory_format=torch.channels_last)
    result = fit(
        classifier,
        x_train,
        x_val,
        phase_config(
            config,
            "pretrain",
            config.pretrain_epochs,
            config.pretrain_learning_rate,
            size,
            f"{config.weights} weights",
            data_identity(
                (config.pretrain_data,),
                config.pretrain_labels,
                len(train_indices),
                len(val_indices),
            ),
            device=distributed.device,
        ),
        classes=len(pre.dataset.classes),
        positive=None,
        checkpoint=checkpoints / "pretrain.pt" if checkpoints else None,
        distributed=distributed,
    )
    classifier.load_state_dict(result.best_state)
    return classifier, result


def _transfer(source: SkinLesionClassifier, target: SkinLesionClassifier, diagnoses: bool) -> None:
    """Backbone and the first dense + BatchNorm layers carry over; the output layer is new.

    A network pretrained on the seven diagnoses (`diagnoses`) also gives its
    whole head to the diagnosis head, which has learnt exactly that.
    """
    target.backbone.load_state_dict(source.backbone.state_dict())
    target.head[0].load_state_dict(source.head[0].state_dict())
    target.head[1].load_state_dict(source.head[1].state_dict())
    if diagnoses and target.diagnosis_head is not None:
        target.diagnosis_head.load_state_dict(source.head.state_dict())


def train(config: TrainConfig) -> ModelVersion | None:
    """Trains and exports; returns the new version (None on every process but the first)."""
    device = choose_device(config.device)
    distributed = Distributed.from_environment(device)
    if config.init_from is not None:
        if distributed.enabled:
            raise DataError("--init-from trains on one process: run it without torchrun")
        seed_everything(config.seed)
        if config.continues:
            from trainer.continue_training import continue_from_parent

            return continue_from_parent(config, device)
        from trainer.init_from import train_from_parent

        return train_from_parent(config)
    seed_everything(config.seed)
    # Every record of the run (its card's command included) names the size it used.
    config = replace(config, image_size=config.input_size)
    if config.budget_minutes and distributed.enabled:
        raise DataError("--budget-minutes is for one process: run it without torchrun")
    if distributed.enabled and distributed.is_main:
        print(
            f"distributed training: {distributed.world_size} processes on {device.type} "
            f"({'nccl' if device.type == 'cuda' else 'gloo'}), {config.batch_size} images each per step"
        )
    started = time.monotonic()
    checkpoints = config.checkpoint_dir
    if checkpoints is not None and distributed.is_main:
        checkpoints.mkdir(parents=True, exist_ok=True)
        (checkpoints / "config.json").write_text(json.dumps(config.describe(), indent=2) + "\n")

    main = prepare_sources(
        config.data, config.labels, config.validation_fraction, config.test_fraction, config.seed
    )
    classes = main.dataset.classes
    if config.positive_label not in classes:
        raise ValueError(
            f"positive label {config.positive_label!r} is not a class of {config.data}: {classes}"
        )
    positive = classes.index(config.positive_label)
    spec = InputSpec(size=config.image_size, color_constancy=config.color_constancy)

    # A diagnosis head is trained when the data carries diagnoses (HAM10000).
    diagnosing = any(s.diagnosis >= 0 for s in main.dataset.samples)
    diagnoses = len(DIAGNOSIS_CODES) if diagnosing else 0
    classifier = build_classifier(
        config.architecture, config.weights, len(classes), spec, diagnoses
    ).to(device)
    if device.type == "cuda":
        # Tensor cores want NHWC; the input already is, and bf16 autocast does the rest.
        classifier = classifier.to(memory_format=torch.channels_last)
    pretrain_result = None
    if config.pretrains:
        pretrained, pretrain_result = _pretrain(config, main, spec, distributed, checkpoints)
        pretrained_diagnoses = config.pretrain_labels == "dx" and pretrained.classes == diagnoses
        _transfer(pretrained, classifier, pretrained_diagnoses)
        del pretrained

    decode_started = time.monotonic()
    train_images = decode(_subset(main.dataset, main.split.train), config.image_size)
    val_images = decode(_subset(main.dataset, main.split.validation), config.image_size)
    test_images = decode(_subset(main.dataset, main.split.test), config.image_size)
    print(
        f"decoded at {config.image_size}x{config.image_size} in {time.monotonic() - decode_started:.1f} s"
    )
    result = fit(
        classifier,
        as_tensors(train_images, device, diagnosing),
        as_tensors(val_images, device, diagnosing),
        phase_config(
            config,
            "train",
            config.epochs,
            config.learning_rate,
            config.image_size,
            _starting_point(config),
            data_identity(
                config.data, config.labels, len(main.split.train), len(main.split.validation)
            ),
            config.images_per_source,
            config.budget_minutes,
            device,
        ),
        classes=len(classes),
        positive=positive,
        checkpoint=checkpoints / "train.pt" if checkpoints else None,
        distributed=distributed,
        augmentation=augmentation_for(config),
        diagnoses=diagnoses,
        sources=torch.from_numpy(main.source[list(main.split.train)]),
    )
    classifier.load_state_dict(result.best_state)
    version = None
    if distributed.is_main:
        version = finalize(
            Trained(
                config=config,
                classifier=classifier,
                spec=spec,
                prepared=main,
                images=SplitImages(train_images, val_images, test_images),
                history=result,
                pretrain_history=pretrain_result,
                seconds=time.monotonic() - started,
                device=str(device),
            )
        )
    distributed.barrier()
    distributed.close()
    return version
