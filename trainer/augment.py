"""Batch augmentation on the training device: geometry and colour, in one pass per batch.

Works on the decoded uint8 NHWC batch wherever it lives (CPU, or GPU memory
when the whole data set is kept there) and returns float NHWC pixels in 0-255,
which the model accepts like uint8. A dermoscopic lesion has no up, left or
fixed scale, so any rotation, both flips and moderate zoom are label-preserving;
colour jitter stands in for different dermatoscopes, cameras and lighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional

__all__ = ["Augmentation"]


@dataclass(frozen=True)
class Augmentation:
    rotation_degrees: float = 180.0
    zoom: tuple[float, float] = (0.85, 1.2)  # >1 zooms in
    translate: float = 0.05  # fraction of the side
    brightness: float = 0.15
    contrast: float = 0.15
    saturation: float = 0.15
    channel_gain: float = 0.05  # per-channel gain: a colour cast

    def __call__(self, pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = pixels.shape[0]
        device = pixels.device

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            values = torch.rand((n, *shape), generator=generator) * (high - low) + low
            return values.to(device)

        x = pixels.permute(0, 3, 1, 2).float()  # NCHW for grid_sample

        angle = uniform(-1.0, 1.0) * math.radians(self.rotation_degrees)
        scale = 1.0 / uniform(*self.zoom)  # sampling grid scale: <1 zooms in
        flip = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [
                torch.stack([cos * flip, -sin, uniform(-1.0, 1.0) * self.translate * 2], dim=1),
                torch.stack([sin * flip, cos, uniform(-1.0, 1.0) * self.translate * 2], dim=1),
            ],
            dim=1,
        )
        grid = functional.affine_grid(theta, list(x.shape), align_corners=False)
        # Reflection keeps skin texture at the corners instead of black wedges
        # that no real dermoscopy image has.
        x = functional.grid_sample(
            x, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )

        x = x * uniform(1 - self.brightness, 1 + self.brightness, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * uniform(1 - self.contrast, 1 + self.contrast, 1, 1, 1) + mean
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)).sum(
            1, keepdim=True
        )
        x = (x - grey) * uniform(1 - self.saturation, 1 + self.saturation, 1, 1, 1) + grey
        x = x * uniform(1 - self.channel_gain, 1 + self.channel_gain, 3, 1, 1)
        return x.clamp(0.0, 255.0).permute(0, 2, 3, 1)
