"""A training phase that ends within a time budget: how many steps fit, and their learning rate.

On a CPU a session affords a few epochs of a ResNet50 at most, so a run is given minutes, not
epochs (`skinscan train --budget-minutes`). The phase times its first steps, plans how many
steps fit in what is left of the budget after the validation passes it will make, and runs a
learning rate that warms up and then follows a cosine to 0 at the last planned step: a
schedule that ends where the budget does, rather than one cut off halfway down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BudgetPlan", "plan_steps", "validation_estimate", "warmup_cosine"]

# Kept back from the budget for what the plan cannot see (a slower step, the checkpoints).
_MARGIN = 0.05
# A validation pass runs forward only: about a third of a training step per image.
_FORWARD_SHARE = 1 / 3


@dataclass(frozen=True)
class BudgetPlan:
    budget_s: float
    total_steps: int
    steps_per_epoch: int
    seconds_per_step: float
    seconds_per_validation: float
    warmup_steps: int

    def describe(self) -> str:
        return (
            f"budget {self.budget_s / 60:.1f} min: {self.seconds_per_step * 1000:.0f} ms a step "
            f"measured, so {self.total_steps} steps ({self.total_steps / self.steps_per_epoch:.2f} "
            f"epochs) with a validation pass of about {self.seconds_per_validation:.0f} s after "
            f"each epoch; the learning rate warms up over {self.warmup_steps} steps, then "
            "follows a cosine to 0 at the last one"
        )


def plan_steps(
    budget_s: float,
    elapsed_s: float,
    seconds_per_step: float,
    done_steps: int,
    steps_per_epoch: int,
    validation_s: float,
    warmup_steps: int,
) -> BudgetPlan:
    """The phase's total steps: those done, and as many more as fit in the rest of the budget
    beside the work at the end of each epoch (the last, partial one included): its validation
    pass, `validation_s` (estimated by `validation_estimate` until measured; the checkpoint is
    within the margin)."""
    left = budget_s * (1 - _MARGIN) - elapsed_s
    passes_done = done_steps // steps_per_epoch

    def cost(more: int) -> float:
        passes = math.ceil((done_steps + more) / steps_per_epoch) - passes_done
        return more * seconds_per_step + max(1, passes) * validation_s

    # The largest number of further steps whose cost fits: cost grows with it, so bisect.
    low, high = 0, max(0, math.floor(left / seconds_per_step))
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= left else (low, middle - 1)
    return BudgetPlan(
        budget_s, done_steps + low, steps_per_epoch, seconds_per_step, validation_s, warmup_steps
    )


def validation_estimate(images: int, batch_size: int, seconds_per_step: float) -> float:
    """A validation pass's time before one has run: forward passes over `images`."""
    return images / batch_size * seconds_per_step * _FORWARD_SHARE


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning rate's factor for the step with this index (0 first): a linear warm-up
    to 1 over `warmup_steps`, then a cosine from 1 to 0 at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
