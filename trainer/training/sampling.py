"""Which training images an epoch sees, and how much each class weighs: class weights, the
chance a source's images are drawn, balanced and plain epoch orders."""

from __future__ import annotations

import torch

__all__ = ["balanced_order", "class_weights", "epoch_order", "inclusion_chances"]


def class_weights(
    labels: torch.Tensor, classes: int, inclusion: torch.Tensor | None = None
) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over samples: each class counts equally.

    Labels below 0 (unknown) are not counted. `inclusion` is each sample's
    chance of being in an epoch (per-source sampling), so the weights balance
    the classes as the network sees them, not as they sit on disk.
    """
    known = labels >= 0
    chance = torch.ones(len(labels)) if inclusion is None else inclusion.float().cpu()
    counts = torch.zeros(classes).index_add_(0, labels[known].cpu(), chance[known.cpu()])
    return (chance[known.cpu()].sum() / (classes * counts.clamp_min(1e-6))).to(labels.device)


def inclusion_chances(
    sources: torch.Tensor | None, cap: int, count: int, balanced: bool = False
) -> torch.Tensor | None:
    """How often each sample is drawn into an epoch, on average: under a per-source cap (a
    chance, at most 1), or with balanced sources (a small source's images more than once)."""
    if sources is None or (cap <= 0 and not balanced):
        return None
    sizes = torch.bincount(sources.cpu()).clamp_min(1).float()
    if balanced:
        share = count // int((sizes > 0).sum())
        return (share / sizes)[sources.cpu()][:count]
    return (cap / sizes).clamp(max=1.0)[sources.cpu()][:count]


def balanced_order(count: int, sources: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An epoch of `count` draws in which the sources take turns, so every batch of a multiple
    of their number holds as many images of each. A source smaller than its share repeats,
    shuffled afresh each pass; a larger one gives a fresh sample every epoch."""
    present = torch.unique(sources.cpu())
    share = count // len(present)
    turns = []
    for source in present:
        members = torch.nonzero(sources.cpu() == source).flatten()
        passes = -(-share // len(members))
        drawn = [members[torch.randperm(len(members), generator=generator)] for _ in range(passes)]
        turns.append(torch.cat(drawn)[:share])
    return torch.stack(turns, dim=1).reshape(-1)


def epoch_order(
    count: int,
    sources: torch.Tensor | None,
    cap: int,
    generator: torch.Generator,
    balanced: bool = False,
) -> torch.Tensor:
    """The indices one epoch visits, shuffled: all of them, at most `cap` of each source, or
    the sources in equal shares of every batch (`balanced`)."""
    if balanced and sources is not None:
        return balanced_order(count, sources, generator)
    if sources is None or cap <= 0:
        return torch.randperm(count, generator=generator)
    chosen = []
    for source in torch.unique(sources.cpu()):
        members = torch.nonzero(sources.cpu() == source).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:cap]])
    drawn = torch.cat(chosen)
    return drawn[torch.randperm(len(drawn), generator=generator)]
