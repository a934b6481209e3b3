"""What a training phase is given, from a run's options: its settings, its tensors, its augmentation.

Shared by a full run (trainer.train) and a run that trains on from a version
(trainer.continue_training).
"""

from __future__ import annotations

from pathlib import Path

import torch

from trainer.config import TrainConfig
from trainer.data.augment import Augmentation
from trainer.data.samples import LabelledImages
from trainer.training.distributed import trains_in_bf16
from trainer.training.loop import FitConfig

__all__ = ["as_tensors", "augmentation_for", "data_identity", "phase_config"]


def as_tensors(
    images: LabelledImages, device: torch.device, diagnosing: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels and targets on the training device; (label, diagnosis) pairs when `diagnosing`."""
    targets = images.targets() if diagnosing else images.labels
    return torch.from_numpy(images.pixels).to(device), torch.from_numpy(targets).to(device)


def phase_config(
    config: TrainConfig,
    phase: str,
    epochs: int,
    learning_rate: float,
    image_size: int,
    starts_from: str,
    data: str,
    images_per_source: int = 0,
    budget_minutes: float = 0.0,
    device: torch.device | None = None,
    frozen_modules: tuple[str, ...] = (),
) -> FitConfig:
    """A phase's settings: length, learning rate, size, start and data differ between phases;
    the sampling, smoothing and precision are the run's."""
    return FitConfig(
        phase=phase,
        epochs=epochs,
        batch_size=config.batch_size,
        learning_rate=learning_rate,
        patience=config.patience,
        seed=config.seed,
        class_weighting=config.class_weighting,
        image_size=image_size,
        starts_from=starts_from,
        data=data,
        images_per_source=images_per_source,
        budget_s=budget_minutes * 60,
        balance_sources=config.balance_sources,
        label_smoothing=config.label_smoothing,
        bf16=trains_in_bf16(config.train_precision, device or torch.device("cpu")),
        # Averaging follows a budget's plan; a phase without one (pretraining) does not average.
        average_epochs=config.average_epochs if budget_minutes else 0,
        frozen_modules=frozen_modules,
    )


def augmentation_for(config: TrainConfig) -> Augmentation:
    """The training augmentation the run's options ask for (trainer.data.augment)."""
    jitter = config.colour_jitter
    return Augmentation(
        brightness=jitter,
        contrast=jitter,
        saturation=jitter,
        channel_gain=jitter / 3,
        crop_scale=(config.crop_scale, 1.0) if config.crop_scale else None,
        gamma=config.tone_jitter,
    )


def data_identity(paths: tuple[Path, ...], labels: str, train: int, validation: int) -> str:
    """What a phase trained on, so a checkpoint from other data is refused."""
    sources = " + ".join(str(p) for p in paths)
    return f"{sources} ({labels} labels): {train} training, {validation} validation images"
