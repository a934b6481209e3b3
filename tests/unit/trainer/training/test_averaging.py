"""Stochastic weight averaging of a budgeted phase's last epochs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from torch import nn

from trainer.training.averaging import LastEpochs, measure_batchnorm, window_start
from trainer.training.distributed import Distributed
from trainer.training.loop import FitConfig, FitResult, fit


def test_the_average_is_the_mean_of_the_states_and_counters_keep_the_last() -> None:
    epochs = LastEpochs()
    for step, value in ((10, 1.0), (20, 2.0), (30, 6.0)):
        epochs.add(step, {"w": torch.full((2,), value), "n": torch.tensor(int(value))}, 0)
    average = epochs.average()
    assert epochs.count == 3
    assert torch.allclose(average["w"], torch.full((2,), 3.0))
    assert int(average["n"]) == 6


def test_an_epoch_the_grown_plan_leaves_behind_is_dropped_from_the_average() -> None:
    """Planned at 906 steps, epoch 1 (304 steps) was among the last 3 of 304; planned again at
    1,296 steps, the last 3 epochs start after step 384, and epoch 1 is no longer one of them."""
    epochs = LastEpochs()
    epochs.add(304, {"w": torch.tensor([100.0])}, window_start=906 - 3 * 304)
    epochs.add(608, {"w": torch.tensor([2.0])}, window_start=1296 - 3 * 304)
    epochs.add(912, {"w": torch.tensor([4.0])}, window_start=1296 - 3 * 304)
    assert [step for step, _ in epochs.kept] == [608, 912]
    assert torch.allclose(epochs.average()["w"], torch.tensor([3.0]))
    with pytest.raises(ValueError, match="no epoch"):
        LastEpochs().average()


def test_a_part_epoch_at_the_end_is_one_of_the_last_epochs() -> None:
    """Trial 5's plan: 1,049 steps of 304-step epochs (3.45 epochs). Its last 3 epochs are the
    2nd, 3rd and the part 4th: the 1st epoch's end (step 304) lies within 3 epochs' worth of
    steps from the end, but is not one of them."""
    start = window_start(1049, 304, 3)
    assert start == 304
    epochs = LastEpochs()
    for end, value in ((304, 100.0), (608, 1.0), (912, 2.0), (1049, 3.0)):
        if end > start:
            epochs.add(end, {"w": torch.tensor([value])}, start)
    assert [step for step, _ in epochs.kept] == [608, 912, 1049]
    assert torch.allclose(epochs.average()["w"], torch.tensor([2.0]))
    # Whole epochs: the window is the last N of them, and never starts before the first step.
    assert window_start(912, 304, 3) == 0 and window_start(912, 304, 2) == 304
    assert window_start(500, 304, 3) == 0


def test_batchnorm_statistics_are_measured_afresh_as_a_plain_mean() -> None:
    norm = nn.BatchNorm2d(3)
    model = nn.Sequential(norm)
    model.eval()
    pixels = torch.arange(4 * 2 * 2 * 3, dtype=torch.float32).view(4, 3, 2, 2)
    measure_batchnorm(model, pixels, batch_size=2)
    assert norm.running_mean is not None
    assert torch.allclose(norm.running_mean, pixels.mean(dim=(0, 2, 3)))
    assert norm.momentum == 0.1 and not model.training  # put back as they were


class _Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        time.sleep(0.02)  # so the budget, not the epochs allowed, ends the phase
        return self.norm(self.linear(pixels.float().mean((1, 2)) / 255))


def _fit(config: FitConfig, checkpoint: Path | None) -> FitResult:
    """A phase of the slow linear model on 64 training and 64 validation images."""
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (128, 8, 8, 3), dtype=torch.uint8, generator=generator)
    labels = (pixels.float().mean((1, 2, 3)) > 127).long()
    return fit(
        _Slow(),
        (pixels[:64], labels[:64]),
        (pixels[64:], labels[64:]),
        config,
        classes=2,
        positive=1,
        checkpoint=checkpoint,
        distributed=Distributed(),
    )


def test_a_budgeted_phase_tries_the_average_of_its_last_epochs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = FitConfig(
        phase="averaged",
        epochs=1000,
        batch_size=16,
        learning_rate=0.01,
        patience=1000,
        seed=0,
        budget_s=6.0,  # at least three epochs even on a busy host
        average_epochs=3,
    )
    result = _fit(config, tmp_path / "phase.pt")
    printed = capsys.readouterr().out
    assert "epochs' weights averaged" in printed
    saved = torch.load(tmp_path / "phase.pt", weights_only=False)
    kept = [step for step, _ in saved["average_kept"]]
    assert saved["finished"] and 2 <= len(kept) <= 3
    # Only epochs within the final plan's last three, however the plan moved on the way.
    steps_per_epoch = 64 // 16
    assert min(kept) > saved["plan"]["total_steps"] - 3 * steps_per_epoch
    # Kept or not, the outcome is recorded, and kept means the average's weights.
    assert result.averaged_epochs in (0, len(kept))
    assert ("not kept" in printed) == (result.averaged_epochs == 0)
    with pytest.raises(ValueError, match="needs a budget"):
        _fit(
            FitConfig(
                phase="unbudgeted",
                epochs=1,
                batch_size=16,
                learning_rate=0.01,
                patience=1,
                seed=0,
                average_epochs=3,
            ),
            None,
        )


def test_a_checkpoint_written_before_a_setting_existed_resumes_at_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = FitConfig(
        phase="older", epochs=1, batch_size=16, learning_rate=0.01, patience=1, seed=0
    )

    def run() -> None:
        _fit(config, tmp_path / "phase.pt")

    run()
    saved = torch.load(tmp_path / "phase.pt", weights_only=False)
    del saved["config"]["average_epochs"]  # as a trainer from before averaging wrote it
    torch.save(saved, tmp_path / "phase.pt")
    capsys.readouterr()
    run()
    assert "older: resumed from" in capsys.readouterr().out
    # A setting that really differs is still refused.
    saved["config"]["learning_rate"] = 0.5
    torch.save(saved, tmp_path / "phase.pt")
    with pytest.raises(ValueError, match="different older configuration"):
        run()
