"""Training loop: Adam, cross-entropy, augmentation, LR schedule, early stopping."""

from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skinscan.model_repository import DEFAULT_MODEL_NAME, InputSpec, ModelVersion
from trainer.data import decode, load_folder_dataset, stratified_split
from trainer.export import export_to_repository
from trainer.model import build_classifier

__all__ = ["TrainConfig", "train"]


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 30
    batch_size: int = 32
    image_size: int = 224
    learning_rate: float = 1e-4
    weights: str = "imagenet"
    architecture: str = "resnet50"
    validation_fraction: float = 0.2
    patience: int = 5
    seed: int = 0
    model_name: str = DEFAULT_MODEL_NAME
    positive_label: str = "malignant"
    decision_threshold: float = 0.5


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips and right-angle rotations of an NHWC batch: a lesion has no up or left."""
    n = pixels.shape[0]
    flip_h = torch.rand(n, generator=generator) < 0.5
    flip_v = torch.rand(n, generator=generator) < 0.5
    pixels = torch.where(flip_h.view(n, 1, 1, 1), pixels.flip(2), pixels)
    pixels = torch.where(flip_v.view(n, 1, 1, 1), pixels.flip(1), pixels)
    turn = torch.rand(n, generator=generator) < 0.5
    return torch.where(turn.view(n, 1, 1, 1), pixels.transpose(1, 2), pixels)


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) identity, ties averaged."""
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = scores.argsort()
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def evaluate(
    model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, positive: int, batch: int
) -> dict[str, float]:
    model.eval()
    logits = torch.cat([model(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])
    loss = nn.functional.cross_entropy(logits, labels).item()
    probabilities = logits.softmax(1)
    accuracy = (probabilities.argmax(1) == labels).float().mean().item()
    auc = roc_auc(probabilities[:, positive].numpy(), (labels == positive).numpy())
    return {"loss": loss, "accuracy": accuracy, "roc_auc": auc}


def train(config: TrainConfig) -> ModelVersion:
    seed_everything(config.seed)
    samples, classes = load_folder_dataset(config.data)
    if config.positive_label not in classes:
        raise ValueError(
            f"positive label {config.positive_label!r} is not a class of {config.data}: {classes}"
        )
    positive = classes.index(config.positive_label)
    train_samples, val_samples = stratified_split(samples, config.validation_fraction, config.seed)
    counts = {c: sum(s.label == i for s in samples) for i, c in enumerate(classes)}
    print(
        f"data {config.data}: {len(samples)} images {counts}; train {len(train_samples)}, validation {len(val_samples)}"
    )
    started = time.monotonic()
    train_set = decode(train_samples, config.image_size)
    val_set = decode(val_samples, config.image_size)
    print(
        f"decoded at {config.image_size}x{config.image_size} in {time.monotonic() - started:.1f} s"
    )

    spec = InputSpec(size=config.image_size)
    model = build_classifier(config.architecture, config.weights, len(classes), spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=max(1, config.patience // 2)
    )
    x_train, y_train = torch.from_numpy(train_set.pixels), torch.from_numpy(train_set.labels)
    x_val, y_val = torch.from_numpy(val_set.pixels), torch.from_numpy(val_set.labels)
    generator = torch.Generator().manual_seed(config.seed)
    best_loss, best_state, best_metrics, stale = (
        float("inf"),
        copy.deepcopy(model.state_dict()),
        {},
        0,
    )

    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total, seen = 0.0, 0
        for i in range(0, len(order), config.batch_size):
            index = order[i : i + config.batch_size]
            if len(index) < 2:  # BatchNorm needs two samples in training mode
                continue
            logits = model(augment(x_train[index], generator))
            loss = nn.functional.cross_entropy(logits, y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            seen += len(index)
        val = evaluate(model, x_val, y_val, positive, config.batch_size)
        schedule.step(val["loss"])
        print(
            f"epoch {epoch}/{config.epochs}: train loss {total / max(seen, 1):.4f}, "
            f"val loss {val['loss']:.4f}, val accuracy {val['accuracy']:.3f}, "
            f"val ROC-AUC {val['roc_auc']:.3f}, lr {optimizer.param_groups[0]['lr']:.1e}"
        )
        if val["loss"] < best_loss:
            best_loss, best_state, best_metrics, stale = (
                val["loss"],
                copy.deepcopy(model.state_dict()),
                val,
                0,
            )
        else:
            stale += 1
            if stale >= config.patience:
                print(f"early stopping: validation loss has not improved for {stale} epochs")
                break
    model.load_state_dict(best_state)
    elapsed = time.monotonic() - started
    training = {
        **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "classes": list(classes),
        "images": {"train": len(train_samples), "validation": len(val_samples)},
        "seconds": round(elapsed, 1),
        "device": "cpu",
    }
    metrics = {f"validation_{k}": v for k, v in best_metrics.items()}
    version = export_to_repository(
        model,
        config.out,
        config.model_name,
        classes,
        config.positive_label,
        config.decision_threshold,
        spec,
        val_set.pixels[: min(16, len(val_set.pixels))],
        training,
        metrics,
    )
    print(f"wrote {version.name} version {version.version} to {version.path}")
    return version
