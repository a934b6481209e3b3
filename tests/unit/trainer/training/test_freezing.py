"""A phase with frozen modules: they keep their weights and their BatchNorm statistics."""

from __future__ import annotations

import torch
from torch import nn

from trainer.training.averaging import measure_batchnorm
from trainer.training.distributed import Distributed
from trainer.training.loop import FitConfig, fit


class _TwoPart(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.front = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
        self.rest = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.rest(self.front(pixels.float().mean((1, 2)) / 255))


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_modules_keep_weights_and_statistics_while_the_rest_trains() -> None:
    torch.manual_seed(0)
    model = _TwoPart()
    front, rest = _state(model.front), _state(model.rest)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (128, 8, 8, 3), dtype=torch.uint8, generator=generator)
    labels = (pixels[..., 0].float().mean((1, 2)) > 127).long()
    config = FitConfig(
        phase="frozen",
        epochs=3,
        batch_size=16,
        learning_rate=0.01,
        patience=10,
        seed=0,
        frozen_modules=("front",),
    )
    result = fit(
        model,
        (pixels[:64], labels[:64]),
        (pixels[64:], labels[64:]),
        config,
        classes=2,
        positive=1,
        checkpoint=None,
        distributed=Distributed(),
    )
    model.load_state_dict(result.best_state)
    # Weights and running statistics (which train mode would have moved) as they were.
    for name, value in _state(model.front).items():
        assert torch.equal(value, front[name]), name
    assert not any(p.requires_grad for p in model.front.parameters())
    # What is not frozen trained: its weights and its BatchNorm's statistics moved.
    moved = [
        name for name, value in _state(model.rest).items() if not torch.equal(value, rest[name])
    ]
    assert "0.weight" in moved and "1.running_mean" in moved


def test_measuring_batchnorm_again_spares_the_kept_modules() -> None:
    model = _TwoPart()
    before = _state(model.front)
    pixels = torch.randint(0, 256, (64, 8, 8, 3), dtype=torch.uint8)
    measure_batchnorm(model, pixels, batch_size=16, keep=("front",))
    for name, value in _state(model.front).items():
        assert torch.equal(value, before[name]), name
    rest_norm = model.rest[1]
    assert isinstance(rest_norm, nn.BatchNorm1d) and rest_norm.running_mean is not None
    assert not torch.equal(rest_norm.running_mean, torch.zeros(4))  # measured
