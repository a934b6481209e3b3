"""Batch augmentation on the training device: geometry and colour, in one pass per batch.

Works on the decoded uint8 NHWC batch wherever it lives (CPU, or GPU memory
when the whole data set is kept there) and returns float NHWC pixels in 0-255,
which the model accepts like uint8. A dermoscopic lesion has no up, left or
fixed scale, so any rotation, both flips and moderate zoom are label-preserving;
colour jitter stands in for different dermatoscopes, cameras and lighting.

`Augmentation.across_collections()` is the stronger set issue 27 asks for, to carry a decision
from one collection to another: random resized crops (a share of the area down to 0.35, aspect
ratios from 3/4 to 4/3: one collection is squashed to a square, another is 4:3, and users'
uploads are neither) instead of zoom and shift, and colour jitter beyond what the model's own
colour constancy removes (a per-channel gain it undoes; a tone curve, contrast and saturation it
does not).
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
    # Random resized crops: the share of the area kept, drawn in this range, and the crop's
    # aspect ratio (log-uniform); they replace `zoom` and `translate`. None: zoom and shift.
    crop_scale: tuple[float, float] | None = None
    crop_aspect: tuple[float, float] = (3 / 4, 4 / 3)
    # A tone curve, (x / 255) ** g with g from 1 / (1 + gamma) to 1 + gamma (0: none).
    gamma: float = 0.0

    @classmethod
    def across_collections(cls, crop_scale: float = 0.35, jitter: float = 0.3) -> Augmentation:
        """Crops down to `crop_scale` of the area, colour jitter of `jitter` (issue 27)."""
        return cls(
            brightness=jitter,
            contrast=jitter,
            saturation=jitter,
            channel_gain=jitter / 3,
            crop_scale=(crop_scale, 1.0),
            gamma=jitter,
        )

    def __call__(self, pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = pixels.shape[0]
        device = pixels.device

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            values = torch.rand((n, *shape), generator=generator) * (high - low) + low
            return values.to(device)

        x = pixels.permute(0, 3, 1, 2).float()  # NCHW for grid_sample

        angle = uniform(-1.0, 1.0) * math.radians(self.rotation_degrees)
        # The sampling grid's half-width and half-height (<1 zooms in) and its centre, all in
        # the image's [-1, 1] coordinates (drawn in the order earlier versions drew them, so a
        # seed gives the same zoom-and-shift augmentation as before).
        if self.crop_scale is None:
            width = height = 1.0 / uniform(*self.zoom)
            flip = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
            shift_x = uniform(-1.0, 1.0) * self.translate * 2
            shift_y = uniform(-1.0, 1.0) * self.translate * 2
        else:
            flip = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
            area = uniform(*self.crop_scale)
            low, high = (math.log(a) for a in self.crop_aspect)
            aspect = torch.exp(uniform(low, high))
            width = (area * aspect).sqrt().clamp(max=1.0)
            height = (area / aspect).sqrt().clamp(max=1.0)
            shift_x = uniform(-1.0, 1.0) * (1.0 - width)
            shift_y = uniform(-1.0, 1.0) * (1.0 - height)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [
                torch.stack([cos * width * flip, -sin * height, shift_x], dim=1),
                torch.stack([sin * width * flip, cos * height, shift_y], dim=1),
            ],
            dim=1,
        )
        grid = functional.affine_grid(theta, list(x.shape), align_corners=False)
        # Reflection keeps skin texture at the corners instead of black wedges
        # that no real dermoscopy image has.
        x = functional.grid_sample(
            x, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )

        if self.gamma:
            low, high = -math.log1p(self.gamma), math.log1p(self.gamma)
            exponent = torch.exp(uniform(low, high, 1, 1, 1))
            x = 255.0 * (x.clamp(0.0, 255.0) / 255.0) ** exponent
        x = x * uniform(1 - self.brightness, 1 + self.brightness, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * uniform(1 - self.contrast, 1 + self.contrast, 1, 1, 1) + mean
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)).sum(
            1, keepdim=True
        )
        x = (x - grey) * uniform(1 - self.saturation, 1 + self.saturation, 1, 1, 1) + grey
        x = x * uniform(1 - self.channel_gain, 1 + self.channel_gain, 3, 1, 1)
        return x.clamp(0.0, 255.0).permute(0, 2, 3, 1)
