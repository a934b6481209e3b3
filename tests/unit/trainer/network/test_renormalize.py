"""A network imported with folded BatchNorm layers gets their statistics back, unchanged."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from skinscan_model.metadata import InputSpec
from trainer.network.model import SkinLesionClassifier, build_classifier
from trainer.network.renormalize import folded_norms, restore_batch_statistics


def _folded_network() -> SkinLesionClassifier:
    """A tiny classifier whose trunk's BatchNorm layers are identities with a bias, as
    trainer.export.onnx_import rebuilds them from a graph that folded them into the convolutions."""
    torch.manual_seed(0)
    classifier = build_classifier("tiny", "none", 2, InputSpec(size=32), 7)
    for module in classifier.backbone.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert module.running_mean is not None and module.running_var is not None
            with torch.no_grad():
                module.weight.fill_(1.0)
                module.bias.normal_()
                module.running_mean.zero_()
                module.running_var.fill_(1.0 - module.eps)
    return classifier.eval()


def _pixels(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)


def test_the_statistics_come_back_and_the_network_computes_as_before() -> None:
    network = _folded_network()
    assert len(folded_norms(network)) == 3  # the tiny trunk's three; the heads' are real
    probe = torch.from_numpy(_pixels(16, 1))
    before = network(probe)
    assert restore_batch_statistics(network, _pixels(64, 2), batch_size=16) == 3
    assert torch.allclose(network(probe), before, atol=1e-4)
    assert not folded_norms(network)  # measured now: nothing left to restore
    norm = network.backbone.get_submodule("0.1")
    assert isinstance(norm, nn.BatchNorm2d) and norm.running_var is not None
    assert float(norm.running_var.mean()) > 0.01 and float(norm.weight.detach().std()) > 0
    # In train mode another batch like the measured images is normalized by statistics close
    # to the measured ones, so training starts from the same function.
    assert _train_mode_drift(network) < 0.05


@torch.no_grad()
def _train_mode_drift(network: SkinLesionClassifier) -> float:
    """How far the trunk's output moves between eval and train mode on a fresh batch."""
    batch = torch.from_numpy(_pixels(64, 3))
    network.eval()
    evaluated = network.backbone(network.normalize(batch))[-1]
    network.train()
    trained = network.backbone(network.normalize(batch))[-1]
    network.eval()
    return float((trained - evaluated).abs().mean() / evaluated.abs().mean())


def test_without_the_statistics_train_mode_computes_something_else() -> None:
    # What the restoring is for: the folded network, put in train mode, jolts.
    assert _train_mode_drift(_folded_network()) > 0.3
