"""Training only what is new on top of a frozen network, from cached features.

When the network's front is frozen, running it again every epoch is wasted
work: its output for an image changes only with the image's augmentation. So
the front runs once per augmentation draw over every training image, its
output is kept in memory in half precision, and the new part (a head, or a
copy of the last stage with a head) trains for as many epochs as wanted at a
fraction of a full pass: epoch e reads draw e mod draws. Validation features
are computed once, without augmentation.

Images per second are reported for both stages, the frozen front and the
trained part, so the saving is measured, not assumed.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from trainer.data.augment import Augmentation
from trainer.evaluation.metrics import balanced_accuracy
from trainer.training.loop import EpochRecord, FitResult
from trainer.training.sampling import class_weights

__all__ = ["FeatureCache", "FrozenFitConfig", "cache_features", "fit_on_features"]


@dataclass(frozen=True)
class FeatureCache:
    """The frozen front's output for the training images (one tensor per draw) and validation."""

    draws: list[torch.Tensor]
    validation: torch.Tensor
    images_per_second: float  # of the frozen front, augmentation included
    seconds: float

    @property
    def megabytes(self) -> float:
        tensors = [*self.draws, self.validation]
        return sum(t.numel() * t.element_size() for t in tensors) / 2**20


@dataclass(frozen=True)
class FrozenFitConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int
    # The new head learns faster than a pretrained stage it sits on.
    head_learning_rate_factor: float = 10.0
    weight_decay: float = 1e-2


@torch.no_grad()
def _run_front(
    front: Callable[[torch.Tensor], torch.Tensor],
    pixels: np.ndarray,
    batch_size: int,
    augmentation: Augmentation | None,
    generator: torch.Generator,
    description: str,
) -> torch.Tensor:
    parts = []
    for start in tqdm(
        range(0, len(pixels), batch_size), desc=description, leave=False, file=sys.stderr
    ):
        batch = torch.from_numpy(pixels[start : start + batch_size])
        if augmentation is not None:
            batch = augmentation(batch, generator)
        parts.append(front(batch).half())
    return torch.cat(parts)


def cache_features(
    front: Callable[[torch.Tensor], torch.Tensor],
    train_pixels: np.ndarray,
    validation_pixels: np.ndarray,
    draws: int,
    seed: int,
    batch_size: int = 64,
    augmentation: Augmentation | None = None,
) -> FeatureCache:
    """`draws` augmented passes of the frozen `front` over the training images, one plain
    pass over validation; `front` takes uint8-valued NHWC pixels."""
    if draws < 1:
        raise ValueError("at least one augmentation draw is needed")
    augmentation = augmentation or Augmentation()
    generator = torch.Generator().manual_seed(seed)
    started = time.monotonic()
    cached = [
        _run_front(
            front, train_pixels, batch_size, augmentation, generator, f"frozen features {d + 1}"
        )
        for d in range(draws)
    ]
    front_seconds = time.monotonic() - started
    validation = _run_front(
        front, validation_pixels, batch_size, None, generator, "frozen validation features"
    )
    images = draws * len(train_pixels)
    return FeatureCache(
        cached,
        validation,
        images / front_seconds if front_seconds > 0 else math.inf,
        time.monotonic() - started,
    )


def _frozen_batchnorm(module: nn.Module) -> None:
    """BatchNorm keeps its running statistics while fine-tuning (eval mode, affine still learnt).

    A layer restored from an export holds folded statistics that batch
    statistics would overwrite, and small CPU batches estimate them badly anyway.
    """
    for child in module.modules():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            child.eval()


def fit_on_features(
    trainable: nn.Module,
    head_parameters: set[int],
    cache: FeatureCache,
    targets: np.ndarray,
    validation_targets: np.ndarray,
    classes: int,
    config: FrozenFitConfig,
) -> tuple[FitResult, float]:
    """Trains `trainable` (cached features -> logits) with class-weighted cross-entropy.

    Parameters whose id is in `head_parameters` get the larger learning rate.
    Keeps the epoch with the lowest validation loss; returns the result and the
    trained part's images per second.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    heads = [p for p in trainable.parameters() if id(p) in head_parameters]
    body = [p for p in trainable.parameters() if id(p) not in head_parameters]
    groups: list[dict[str, Any]] = [
        {"params": heads, "lr": config.learning_rate * config.head_learning_rate_factor}
    ]
    if body:
        groups.append({"params": body, "lr": config.learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps = len(targets) // config.batch_size
    if steps == 0:
        raise ValueError(
            f"{len(targets)} training images do not fill one batch of {config.batch_size}"
        )
    # One cycle: warm-up, then annealed to nothing by the last epoch, so a run of
    # any length ends converged instead of wherever a plateau schedule left it.
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[g["lr"] for g in groups],
        total_steps=config.epochs * steps,
        pct_start=0.15,
    )
    y = torch.from_numpy(targets)
    weights = class_weights(y, classes)
    loss_of = nn.CrossEntropyLoss(weight=weights)
    y_val = torch.from_numpy(validation_targets)
    result = FitResult(
        best_state={k: v.clone() for k, v in trainable.state_dict().items()}, best_epoch=0
    )
    best_loss, stale, trained_images, trained_seconds = math.inf, 0, 0, 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.monotonic()
        trainable.train()
        _frozen_batchnorm(trainable)
        features = cache.draws[(epoch - 1) % len(cache.draws)]
        order = torch.randperm(len(targets), generator=generator)
        total = 0.0
        for step in range(steps):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            loss = loss_of(trainable(features[index].float()), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        trained_seconds += time.monotonic() - started
        trained_images += steps * config.batch_size
        trainable.eval()
        with torch.no_grad():
            logits = torch.cat(
                [
                    trainable(cache.validation[i : i + 256].float())
                    for i in range(0, len(cache.validation), 256)
                ]
            )
        val_loss = float(nn.functional.cross_entropy(logits, y_val, weight=weights))
        predicted = logits.argmax(1).numpy()
        balanced = balanced_accuracy(validation_targets, predicted)
        record = EpochRecord(
            epoch=epoch,
            train_loss=total / steps,
            val_loss=val_loss,
            val_accuracy=float(np.mean(predicted == validation_targets)),
            val_balanced_accuracy=balanced,
            val_roc_auc=math.nan,
            learning_rate=optimizer.param_groups[-1]["lr"],
            seconds=round(time.monotonic() - started, 1),
            val_diagnosis_balanced_accuracy=balanced,
        )
        result.history.append(record)
        print(
            f"frozen-feature epoch {epoch}/{config.epochs}: train loss {record.train_loss:.4f}, "
            f"val loss {val_loss:.4f}, balanced accuracy {record.val_balanced_accuracy:.3f}, "
            f"{record.seconds:.0f} s",
            flush=True,
        )
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            result.best_state = {k: v.detach().clone() for k, v in trainable.state_dict().items()}
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                result.stopped_early = True
                print(f"early stop: keeping epoch {result.best_epoch}")
                break
    trainable.load_state_dict(result.best_state)
    return result, trained_images / trained_seconds if trained_seconds > 0 else math.inf
