"""What a phase minimises and how it is judged on validation: the weighted, multi-task
objective, the network's logits, and the figures early stopping reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer.evaluation.metrics import balanced_accuracy, roc_auc
from trainer.training.sampling import class_weights

__all__ = ["Objective", "objective_for", "predict_logits", "validate"]


@torch.no_grad()
def predict_logits(model: nn.Module, pixels: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits for uint8 NHWC pixels, in eval mode, batched, on the pixels' device."""
    model.eval()
    device_type = pixels.device.type
    outputs = []
    for start in range(0, len(pixels), batch_size):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=device_type == "cuda"):
            outputs.append(model(pixels[start : start + batch_size]).float())
    return torch.cat(outputs) if outputs else torch.empty(0)


@dataclass(frozen=True)
class Objective:
    """What a phase minimises: class-weighted cross-entropy of the decision and, with a
    diagnosis head, of the diagnosis on the images that have one (targets then (N, 2))."""

    classes: int
    weights: torch.Tensor | None
    diagnosis_weights: torch.Tensor | None = None
    label_smoothing: float = 0.0

    def decision(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The decision's part of the loss alone (the diagnosis head's left out)."""
        labels = targets if targets.ndim == 1 else targets[:, 0]
        return nn.functional.cross_entropy(
            logits[:, : self.classes],
            labels,
            weight=self.weights,
            label_smoothing=self.label_smoothing,
        )

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        smoothing = self.label_smoothing
        loss = self.decision(logits, targets)
        if targets.ndim == 1:
            return loss
        diagnoses = targets[:, 1]
        per_image = nn.functional.cross_entropy(
            logits[:, self.classes :],
            diagnoses.clamp_min(0),
            reduction="none",
            label_smoothing=smoothing,
        )
        known = (diagnoses >= 0).float()
        # The weighted mean over the images with a diagnosis, as cross_entropy's own
        # weighted mean would be (a batch without one adds nothing).
        weight = (
            known
            if self.diagnosis_weights is None
            else known * self.diagnosis_weights[diagnoses.clamp_min(0)]
        )
        return loss + (per_image * weight).sum() / weight.sum().clamp_min(1e-6)


def objective_for(
    targets: torch.Tensor,
    classes: int,
    diagnoses: int,
    weighting: bool,
    inclusion: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Objective:
    if not weighting:
        return Objective(classes, None, label_smoothing=label_smoothing)
    if targets.ndim == 1:
        return Objective(
            classes, class_weights(targets, classes, inclusion), label_smoothing=label_smoothing
        )
    return Objective(
        classes,
        class_weights(targets[:, 0], classes, inclusion),
        class_weights(targets[:, 1], diagnoses, inclusion),
        label_smoothing,
    )


def validate(
    model: nn.Module,
    pixels: torch.Tensor,
    targets: torch.Tensor,
    positive: int | None,
    batch_size: int,
    objective: Objective,
) -> tuple[dict[str, float], torch.Tensor]:
    """The validation figures a phase chooses by (loss first), and the logits they came from."""
    logits = predict_logits(model, pixels, batch_size)
    # The loss being minimised, class weights included: unweighted, it rises as
    # the network learns the rare classes the weights ask for, and early
    # stopping would keep the first, majority-class epoch.
    loss = objective(logits, targets).item()
    labels = targets if targets.ndim == 1 else targets[:, 0]
    decision = logits[:, : objective.classes]
    predicted = decision.argmax(1).cpu().numpy()
    truth = labels.cpu().numpy()
    auc = float("nan")
    if positive is not None:
        scores = decision.softmax(1)[:, positive].cpu().numpy()
        auc = roc_auc(truth == positive, scores)
    diagnosis_accuracy = math.nan
    if targets.ndim == 2 and bool((targets[:, 1] >= 0).any()):
        known = (targets[:, 1] >= 0).cpu().numpy()
        diagnosis = logits[:, objective.classes :].argmax(1).cpu().numpy()
        diagnosis_accuracy = balanced_accuracy(targets[:, 1].cpu().numpy()[known], diagnosis[known])
    figures = {
        "loss": loss,
        "accuracy": float(np.mean(predicted == truth)),
        "balanced_accuracy": balanced_accuracy(truth, predicted),
        "roc_auc": auc,
        "diagnosis_balanced_accuracy": diagnosis_accuracy,
    }
    return figures, logits
