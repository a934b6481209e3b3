"""Stochastic weight averaging of a budgeted phase's last epochs (issue 27's ablation list).

The weights at the end of each of the last epochs are averaged, one equal share each; the
average lies in a flatter part of the loss than any one of them, which tends to carry better to
data the network has not seen. BatchNorm statistics of averaged weights are not the average of
the statistics, so they are measured again on training images before the average is validated;
the phase keeps the average only if its validation loss beats the best single epoch's.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

__all__ = ["WeightAverage", "measure_batchnorm"]


class WeightAverage:
    """A running mean of state dicts; integer buffers (BatchNorm's counters) keep the last."""

    def __init__(self, state: dict[str, torch.Tensor] | None = None, count: int = 0) -> None:
        self.state = state
        self.count = count

    def add(self, state: dict[str, torch.Tensor]) -> None:
        self.count += 1
        if self.state is None:
            self.state = {k: v.detach().clone() for k, v in state.items()}
            return
        for name, value in state.items():
            if value.is_floating_point():
                self.state[name] += (value.detach() - self.state[name]) / self.count
            else:
                self.state[name] = value.detach().clone()


def measure_batchnorm(
    model: nn.Module, pixels: torch.Tensor, batch_size: int, keep: tuple[str, ...] = ()
) -> None:
    """Every BatchNorm's running statistics measured afresh: the plain mean over `pixels` (uint8
    NHWC) in train mode, batch by batch (torch.optim.swa_utils.update_bn). Those inside the
    submodules named in `keep` (frozen ones, whose weights were not averaged) keep theirs."""
    kept = {name: copy.deepcopy(model.get_submodule(name).state_dict()) for name in keep}
    update_bn(pixels.split(batch_size), model)
    for name, state in kept.items():
        model.get_submodule(name).load_state_dict(state)
