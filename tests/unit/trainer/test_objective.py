"""The two-headed objective is each head's own weighted cross-entropy, summed."""

from __future__ import annotations

import torch
from torch.nn import functional

from trainer.loop import Objective, class_weights


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
