"""BatchNorm statistics back into a network imported from a graph that folded them away.

An exported graph folds each convolution's BatchNorm into it, and trainer.export.onnx_import restores
that BatchNorm as an identity carrying the folded bias: the network computes exactly what the
graph did, in eval mode. To train it, that is not enough: in train mode an identity BatchNorm
normalizes by the batch's own statistics, which it never had, and the network's first steps
would compute something else entirely.

So each folded BatchNorm is given back the statistics of what reaches it, measured on training
images: with mean m and variance v of its input, the weight sqrt(v + eps) and the bias
b + m make the layer compute x + b in eval mode as before (the function is unchanged), and in
train mode a batch's statistics are close to m and v, so training starts from the parent's
network rather than from a jolt. Training then updates weight, bias and statistics as in any
BatchNorm network, and the export folds them again.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["folded_norms", "restore_batch_statistics"]


def folded_norms(model: nn.Module) -> dict[str, nn.BatchNorm2d]:
    """The BatchNorm layers that are identities (weight 1, mean 0, var + eps 1): folded ones."""
    found = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.BatchNorm2d) or module.running_mean is None:
            continue
        assert module.running_var is not None
        if (
            bool((module.weight == 1).all())
            and bool((module.running_mean == 0).all())
            and torch.allclose(module.running_var + module.eps, torch.ones(()))
        ):
            found[name] = module
    return found


@torch.no_grad()
def restore_batch_statistics(model: nn.Module, pixels: np.ndarray, batch_size: int = 64) -> int:
    """Measures every folded BatchNorm's input on `pixels` (uint8 NHWC) and rewrites the layer
    so that it computes the same in eval mode and normalizes by real statistics in train mode.
    Returns how many layers were rewritten. The model is left in eval mode."""
    norms = folded_norms(model)
    if not norms:
        return 0
    sums: dict[str, torch.Tensor] = {}
    squares: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def measure(name: str):  # type: ignore[no-untyped-def]
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].double()
            sums[name] = sums.get(name, 0) + x.sum(dim=(0, 2, 3))
            squares[name] = squares.get(name, 0) + (x * x).sum(dim=(0, 2, 3))
            counts[name] = counts.get(name, 0) + x.numel() // x.shape[1]

        return hook

    handles = [norm.register_forward_pre_hook(measure(name)) for name, norm in norms.items()]
    model.eval()
    try:
        for start in range(0, len(pixels), batch_size):
            model(torch.from_numpy(pixels[start : start + batch_size]))
    finally:
        for handle in handles:
            handle.remove()
    for name, norm in norms.items():
        assert norm.running_mean is not None and norm.running_var is not None
        mean = sums[name] / counts[name]
        variance = (squares[name] / counts[name] - mean * mean).clamp_min(0.0)
        norm.weight.copy_((variance + norm.eps).sqrt().float())
        norm.bias.add_(mean.float())
        norm.running_mean.copy_(mean.float())
        norm.running_var.copy_(variance.float())
    return len(norms)
