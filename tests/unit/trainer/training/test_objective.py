"""The two-headed objective is each head's own weighted cross-entropy, summed."""

from __future__ import annotations

import torch
from torch.nn import functional

from trainer.training.objective import Objective
from trainer.training.sampling import class_weights


def test_the_objective_is_the_sum_of_each_heads_weighted_cross_entropy() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 2 + 7, generator=generator)
    labels = torch.randint(0, 2, (12,), generator=generator)
    diagnoses = torch.randint(0, 7, (12,), generator=generator)
    diagnoses[::3] = -1  # images without a diagnosis (isic-binary)
    targets = torch.stack([labels, diagnoses], dim=1)
    weights, diagnosis_weights = class_weights(labels, 2), class_weights(diagnoses, 7)
    objective = Objective(2, weights, diagnosis_weights)
    known = diagnoses >= 0
    expected = functional.cross_entropy(logits[:, :2], labels, weight=weights) + (
        functional.cross_entropy(logits[known, 2:], diagnoses[known], weight=diagnosis_weights)
    )
    assert torch.allclose(objective(logits, targets), expected)
    # No image with a diagnosis: the decision's term alone.
    none = torch.stack([labels, torch.full_like(labels, -1)], dim=1)
    decision = functional.cross_entropy(logits[:, :2], labels, weight=weights)
    assert torch.allclose(objective(logits, none), decision)


def test_label_smoothing_applies_to_both_heads() -> None:
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(8, 2 + 7, generator=generator)
    labels = torch.randint(0, 2, (8,), generator=generator)
    diagnoses = torch.randint(0, 7, (8,), generator=generator)
    targets = torch.stack([labels, diagnoses], dim=1)
    smoothed = Objective(2, None, None, label_smoothing=0.1)(logits, targets)

    def smooth(part: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # (1 - e) on the label plus e spread evenly over the classes.
        log_p = part.log_softmax(1)
        soft = torch.full_like(log_p, 0.1 / part.shape[1])
        soft[torch.arange(len(target)), target] += 0.9
        return -(soft * log_p).sum(1).mean()

    expected = smooth(logits[:, :2], labels) + smooth(logits[:, 2:], diagnoses)
    assert torch.allclose(smoothed, expected, atol=1e-6)
    assert not torch.allclose(smoothed, Objective(2, None, None)(logits, targets))
