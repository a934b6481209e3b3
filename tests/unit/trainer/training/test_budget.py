"""A training phase given minutes, not epochs: its plan, its schedule, and a real short run."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from trainer.training.budget import plan_steps, validation_estimate, warmup_cosine
from trainer.training.distributed import Distributed
from trainer.training.loop import FitConfig, fit


def test_the_schedule_warms_up_then_falls_to_zero_at_the_last_step() -> None:
    factors = [warmup_cosine(step, 10, 110) for step in range(120)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(factors[:10]))
    assert factors[10] == pytest.approx(1.0)
    assert factors[60] == pytest.approx(0.5)
    assert all(a >= b for a, b in itertools.pairwise(factors[10:111]))
    assert factors[110] == pytest.approx(0.0, abs=1e-12) and factors[119] == 0.0


@pytest.mark.parametrize(
    ("budget", "elapsed", "done", "per_epoch", "validation_batches"),
    [(100.0, 10.0, 7, 20, 30.0), (3600.0, 40.0, 7, 150, 26.0), (60.0, 0.0, 0, 5, 100.0)],
)
def test_the_planned_steps_and_their_validations_fit_the_budget_and_one_more_would_not(
    budget: float, elapsed: float, done: int, per_epoch: int, validation_batches: float
) -> None:
    validation = validation_estimate(int(validation_batches * 16), 16, 1.0)
    assert validation == pytest.approx(validation_batches / 3)
    plan = plan_steps(budget, elapsed, 1.0, done, per_epoch, validation, 5)

    def spent(total: int) -> float:
        passes = math.ceil(total / per_epoch) - done // per_epoch
        return elapsed + (total - done) * 1.0 + max(1, passes) * validation

    assert plan.total_steps > done
    assert spent(plan.total_steps) <= budget * 0.95
    assert spent(plan.total_steps + 1) > budget * 0.95
    assert str(plan.total_steps) in plan.describe()


def test_a_budget_already_spent_plans_no_more_steps() -> None:
    assert plan_steps(60.0, 70.0, 1.0, 12, 10, 3.0, 5).total_steps == 12


class _Tiny(nn.Module):
    """Two classes from the mean colour of uint8 NHWC pixels, slowed to a measurable step."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        time.sleep(0.02)  # a step of at least 20 ms, so the budget is what ends the run
        return self.linear(pixels.float().mean((1, 2)) / 255)


def test_a_budgeted_phase_ends_within_its_budget_with_its_learning_rate_at_zero(
    tmp_path: Path,
) -> None:
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (256, 8, 8, 3), dtype=torch.uint8, generator=generator)
    labels = (pixels.float().mean((1, 2, 3)) > 127).long()
    model = _Tiny()
    budget = 3.0
    started = time.monotonic()
    result = fit(
        model,
        (pixels[:192], labels[:192]),
        (pixels[192:], labels[192:]),
        FitConfig(
            phase="budgeted",
            epochs=1000,
            batch_size=16,
            learning_rate=0.01,
            patience=1000,
            seed=0,
            budget_s=budget,
        ),
        classes=2,
        positive=1,
        checkpoint=tmp_path / "phase.pt",
        distributed=Distributed(),
    )
    took = time.monotonic() - started
    # Planned from measured steps, it stops near its budget, not at the 1000 epochs allowed.
    assert budget * 0.5 < took < budget * 1.5
    assert 1 < len(result.history) < 1000
    # The cosine has come down to (nearly) 0 by the last step, rather than being cut off.
    assert result.history[-1].learning_rate < 0.01 * 0.05
    saved = torch.load(tmp_path / "phase.pt", weights_only=False)
    # Planned well enough that the budget's end and the plan's end nearly meet.
    assert saved["finished"] and saved["done_steps"] >= 0.9 * saved["plan"]["total_steps"]


def test_the_budget_reaches_the_training_phase_and_is_refused_where_it_cannot_apply() -> None:
    from trainer.config import TrainConfig
    from trainer.training.phases import phase_config

    config = TrainConfig(data=(Path("data"),), budget_minutes=2.5)
    assert phase_config(config, "train", 99, 1e-4, 128, "", "", 0, 2.5).budget_s == 150.0
    assert phase_config(config, "pretrain", 9, 1e-3, 64, "", "").budget_s == 0.0
    # With --init-from, a budget is what makes the whole network train on.
    assert TrainConfig(data=(Path("data"),), init_from="models/x/1", budget_minutes=5).continues
    assert not TrainConfig(data=(Path("data"),), init_from="models/x/1").continues


def test_bf16_is_used_where_asked_for_or_where_the_cpu_runs_it() -> None:
    from trainer.training.distributed import trains_in_bf16

    cpu = torch.device("cpu")
    assert trains_in_bf16("bf16", cpu) and not trains_in_bf16("fp32", cpu)
    assert trains_in_bf16("auto", cpu) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
