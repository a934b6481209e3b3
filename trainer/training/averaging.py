"""Stochastic weight averaging of a budgeted phase's last epochs (issue 27's ablation list).

The weights at the end of each of the last epochs are averaged, one equal share each; the
average lies in a flatter part of the loss than any one of them, which tends to carry better to
data the network has not seen. BatchNorm statistics of averaged weights are not the average of
the statistics, so they are measured again on training images before the average is validated;
the phase keeps the average only if its validation loss beats the best single epoch's.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

__all__ = ["LastEpochs", "measure_batchnorm", "window_start"]


def window_start(total_steps: int, epoch_steps: int, epochs: int) -> int:
    """The step the plan's last `epochs` epochs start at, a part epoch at the end counting as
    one: its weights at the end are an epoch's like the others'. Counted in steps instead
    (total_steps - epochs * epoch_steps), a plan of 3.45 epochs averaged 4 epochs' ends for 3,
    the first of them at a high learning rate (trial 5, docs/model-lineage.md)."""
    return max(0, (math.ceil(total_steps / epoch_steps) - epochs) * epoch_steps)


class LastEpochs:
    """The weights at the end of each epoch that lies within the plan's last N epochs, each with
    the step it ended at.

    A budgeted phase plans its steps again after every epoch, and a plan can grow: an epoch that
    was among the last N when it ended may have left them by the end (in a run on a host busy
    at first, the first of 4.3 epochs was averaged in). A running mean could not give it back,
    so each epoch's weights are kept until the window leaves them: at most N of them, the
    window starting at an epoch's start (window_start).
    """

    def __init__(self, kept: list[tuple[int, dict[str, torch.Tensor]]] | None = None) -> None:
        self.kept = kept or []

    @property
    def count(self) -> int:
        return len(self.kept)

    def add(self, end_step: int, state: dict[str, torch.Tensor], window_start: int) -> None:
        """This epoch's weights; those of epochs that ended at or before `window_start` (the
        first step of the plan's last N epochs, as planned now) are dropped."""
        self.kept = [(step, kept) for step, kept in self.kept if step > window_start]
        self.kept.append((end_step, {k: v.detach().clone() for k, v in state.items()}))

    def average(self) -> dict[str, torch.Tensor]:
        """The mean of the kept weights, one equal share each; integer buffers (BatchNorm's
        counters) are the last epoch's."""
        if not self.kept:
            raise ValueError("no epoch's weights to average")
        states = [state for _, state in self.kept]
        return {
            name: (
                torch.stack([state[name] for state in states]).mean(0)
                if value.is_floating_point()
                else value.clone()
            )
            for name, value in states[-1].items()
        }


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
