"""int8 weights back to float: what a QDQ graph's DequantizeLinear computes.

Shared by the trainer (rebuilding a network from its exported graph) and the
bench (timing the same network in float), so both read a quantized weight the
way ONNX Runtime does: (quantized - zero point) * scale, per channel along
`axis` when the scale is a vector.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dequantize"]


def dequantize(
    quantized: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int = 1
) -> np.ndarray:
    values = quantized.astype(np.float32)
    scale = scale.astype(np.float32)
    zero = np.zeros_like(scale) if zero is None else zero.astype(np.float32)
    if scale.size > 1:  # per channel, along `axis`
        shape = [1] * values.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (values - zero) * scale
