"""A continued run's weights mixed with its parent's (WiSE-FT), chosen by validation loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainer.training.averaging import measure_batchnorm
from trainer.training.objective import Objective, validate
from trainer.training.parent_mix import mix_states, mix_with_parent


def test_a_mix_lies_on_the_line_between_the_weights_and_counters_are_the_trained_ones() -> None:
    parent = {"w": torch.zeros(3), "n": torch.tensor(5)}
    trained = {"w": torch.full((3,), 4.0), "n": torch.tensor(9)}
    mixed = mix_states(parent, trained, 0.25)
    assert torch.allclose(mixed["w"], torch.full((3,), 1.0))
    assert int(mixed["n"]) == 9
    with pytest.raises(ValueError, match="different tensors"):
        mix_states({"v": torch.zeros(3)}, trained, 0.5)


class _Brightness(nn.Module):
    """Malignant when the image is bright: one linear layer after a BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(1)
        self.linear = nn.Linear(1, 2)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(pixels.float().mean((1, 2, 3)).unsqueeze(1) / 255))


def _images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (count, 4, 4, 3), dtype=torch.uint8, generator=generator)
    return pixels, (pixels.float().mean((1, 2, 3)) > 127).long()


def test_the_mix_with_the_lowest_validation_loss_is_kept_and_each_is_reported() -> None:
    model = _Brightness()
    train, _ = _images(64, 0)
    validation = _images(48, 1)
    measure_batchnorm(model, train, 16)  # both ends carry their statistics, as a run's do
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[-3.0], [3.0]]))
        model.linear.bias.zero_()
    parent = {k: v.clone() for k, v in model.state_dict().items()}  # right: bright is malignant
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[1.0], [-1.0]]))  # trained the wrong way
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    sources = (np.arange(48) % 2, ("isic", "ham"))
    objective = Objective(2, None)

    mix = mix_with_parent(
        model, parent, trained, train, validation, sources, objective, positive=1, batch_size=16
    )

    assert [t.share for t in mix.tried] == [0.25, 0.5, 0.75, 1.0]
    assert all(set(t.by_source) == {"isic", "ham"} for t in mix.tried)
    losses = {t.share: t.loss for t in mix.tried}
    assert mix.share == min(losses, key=lambda share: losses[share]) == 0.25
    # The model holds the kept mix (its BatchNorm measured again), as validated.
    figures, _ = validate(model, *validation, 1, 64, objective)
    assert figures["loss"] == pytest.approx(losses[0.25], rel=1e-5)
    assert torch.allclose(model.linear.weight, torch.tensor([[-2.0], [2.0]]))
    assert "share 0.25" in mix.describe() and "<- kept" in mix.describe()
    assert mix.lineage()["share"] == 0.25 and len(mix.lineage()["tried"]) == 4  # type: ignore[arg-type]
    # The trained weights are kept when they validate best.
    kept = mix_with_parent(
        model, trained, parent, train, validation, sources, objective, positive=1, batch_size=16
    )
    assert kept.share == 1.0
    assert torch.equal(model.linear.weight, parent["linear.weight"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        mix_with_parent(
            model, parent, trained, train, validation, sources, objective, 1, 16, shares=(1.5,)
        )
