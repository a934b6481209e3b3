"""A continued run's weights mixed with its parent's (WiSE-FT: Wortsman et al., 2022, "Robust
fine-tuning of zero-shot models").

Training on from a version moves the network towards the data of the run: three 70-minute runs
from version 3 each gained 0.02-0.03 ROC-AUC on HAM10000 and gave back 0.01-0.02 on isic-binary
(docs/model-lineage.md). Both ends start from the same weights and lie in one basin of the loss,
so the points on the straight line between them are networks too, and the paper found that a
point between often keeps most of the gain while giving back less of what the start did well.
Each mix is validated with its BatchNorm statistics measured afresh (the statistics of mixed
weights are not the mix of the statistics), beside the trained weights as they are, and the one
whose decision has the lowest validation loss is kept. The decision's loss alone, not the
phase's: the diagnosis head's loss falls the further the backbone moves from the parent, and in
run 7 (docs/model-lineage.md) the whole loss chose the trained weights (pooled ROC-AUC 0.868)
over mixes whose decision ranked better (0.871-0.872).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer.evaluation.metrics import roc_auc
from trainer.training.averaging import measure_batchnorm
from trainer.training.loop import batchnorm_sample
from trainer.training.objective import Objective, validate

__all__ = ["SHARES", "MixTried", "ParentMix", "mix_states", "mix_with_parent"]

# The trained weights' share of each mix tried (1, the trained weights, is always a candidate).
SHARES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class MixTried:
    share: float  # the trained weights' share (1: as trained, 0: the parent)
    loss: float  # the decision's validation loss (class-weighted cross-entropy)
    roc_auc: float
    by_source: dict[str, float]  # the decision's validation ROC-AUC per source


@dataclass(frozen=True)
class ParentMix:
    share: float  # the kept mix's share of the trained weights
    tried: tuple[MixTried, ...]

    def describe(self) -> str:
        rows = [
            f"  share {t.share:.2f}: decision's val loss {t.loss:.4f}, ROC-AUC {t.roc_auc:.4f} ("
            + ", ".join(f"{name} {auc:.4f}" for name, auc in t.by_source.items())
            + ")"
            + ("  <- kept" if t.share == self.share else "")
            for t in self.tried
        ]
        return "mixes with the parent's weights (WiSE-FT), chosen by the decision's loss:\n" + (
            "\n".join(rows)
        )

    def lineage(self) -> dict[str, object]:
        """What the model card's lineage records of the choice."""
        return {
            "share": self.share,
            "tried": [
                {"share": t.share, "loss": round(t.loss, 5), "roc_auc": round(t.roc_auc, 5)}
                for t in self.tried
            ],
        }


def mix_states(
    parent: dict[str, torch.Tensor], trained: dict[str, torch.Tensor], share: float
) -> dict[str, torch.Tensor]:
    """parent + share * (trained - parent) for every floating tensor; integer buffers
    (BatchNorm's batch counters) are the trained weights'."""
    if parent.keys() != trained.keys():
        raise ValueError("the parent's and the trained network's weights name different tensors")
    return {
        name: (
            torch.lerp(parent[name].to(value), value, share)
            if value.is_floating_point()
            else value.clone()
        )
        for name, value in trained.items()
    }


def mix_with_parent(
    model: nn.Module,
    parent: dict[str, torch.Tensor],
    trained: dict[str, torch.Tensor],
    train_pixels: torch.Tensor,
    validation: tuple[torch.Tensor, torch.Tensor],
    validation_sources: tuple[np.ndarray, tuple[str, ...]],
    objective: Objective,
    positive: int,
    batch_size: int,
    keep: tuple[str, ...] = (),
    shares: tuple[float, ...] = SHARES,
    seed: int = 0,
) -> ParentMix:
    """Tries each share's mix and the trained weights; leaves `model` holding the one whose
    decision has the lowest validation loss. `keep` names modules whose BatchNorm statistics
    are not measured again (frozen ones: both ends hold the same)."""
    if not all(0.0 < s < 1.0 for s in shares):
        raise ValueError(f"a mix's share of the trained weights lies between 0 and 1: {shares}")
    x_val, y_val = validation
    sources, names = validation_sources
    labels = (y_val if y_val.ndim == 1 else y_val[:, 0]).cpu().numpy() == positive
    measured_on = batchnorm_sample(train_pixels, seed)
    tried: list[MixTried] = []
    best: tuple[float, float, dict[str, torch.Tensor]] | None = None  # loss, share, weights
    for share in (*sorted(shares), 1.0):
        model.load_state_dict(trained if share == 1.0 else mix_states(parent, trained, share))
        if share != 1.0:
            measure_batchnorm(model, measured_on, batch_size, keep=keep)
        figures, logits = validate(model, x_val, y_val, positive, batch_size * 4, objective)
        loss = float(objective.decision(logits, y_val))
        scores = logits[:, : objective.classes].softmax(1)[:, positive].cpu().numpy()
        by_source = {
            name: roc_auc(labels[sources == index], scores[sources == index])
            for index, name in enumerate(names)
            if np.any(sources == index)
        }
        tried.append(MixTried(share, loss, figures["roc_auc"], by_source))
        if best is None or loss < best[0]:
            best = (loss, share, {k: v.clone() for k, v in model.state_dict().items()})
    assert best is not None
    model.load_state_dict(best[2])
    return ParentMix(best[1], tuple(tried))
