"""The training augmentation: random resized crops and the tone curve (issue 27)."""

from __future__ import annotations

import torch

from trainer.data.augment import Augmentation


def _image() -> torch.Tensor:
    # A horizontal ramp, so a crop, a zoom or a flip shows in the columns' means.
    ramp = torch.linspace(0, 255, 64).repeat(64, 1)
    return torch.stack([ramp] * 3, dim=-1).unsqueeze(0).repeat(16, 1, 1, 1).to(torch.uint8)


def _still(
    crop_scale: tuple[float, float], crop_aspect: tuple[float, float], gamma: float = 0.0
) -> Augmentation:
    """No rotation and no colour jitter: only the crop (and the tone curve) move pixels."""
    return Augmentation(
        rotation_degrees=0.0,
        brightness=0.0,
        contrast=0.0,
        saturation=0.0,
        channel_gain=0.0,
        crop_scale=crop_scale,
        crop_aspect=crop_aspect,
        gamma=gamma,
    )


def test_a_whole_image_crop_is_the_image_or_its_mirror() -> None:
    augment = _still((1.0, 1.0), (1.0, 1.0))
    image = _image()
    out = augment(image, torch.Generator().manual_seed(0))
    for one, original in zip(out, image.float(), strict=True):
        assert torch.allclose(one, original, atol=1.0) or torch.allclose(
            one, original.flip(1), atol=1.0
        )


def test_crops_zoom_in_by_their_share_of_the_area() -> None:
    # A quarter of the area, square: half the width, so the ramp's span halves.
    augment = _still((0.25, 0.25), (1.0, 1.0))
    out = augment(_image(), torch.Generator().manual_seed(1))[..., 0]
    spans = (out[:, :, -1] - out[:, :, 0]).abs().mean(dim=1)
    assert torch.allclose(spans, torch.full_like(spans, 255 / 2), atol=8.0)
    # Wide and tall crops: the aspect ratio changes how much of the ramp one row spans.
    varied = _still((0.5, 0.5), (0.75, 4 / 3))
    rows = varied(_image(), torch.Generator().manual_seed(2))[..., 0]
    widths = (rows[:, :, -1] - rows[:, :, 0]).abs().mean(dim=1)
    assert float(widths.max() - widths.min()) > 20.0


def test_the_tone_curve_keeps_black_and_white_and_moves_the_middle() -> None:
    augment = _still((1.0, 1.0), (1.0, 1.0), gamma=0.5)
    # Rows of black, mid-grey and white (rows: the flip is horizontal).
    grey = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).repeat(32, 1, 3, 3)
    out = augment(grey, torch.Generator().manual_seed(3))
    assert torch.allclose(out[:, 0, 1, 0], torch.zeros(32), atol=0.5)
    assert torch.allclose(out[:, 2, 1, 0], torch.full((32,), 255.0), atol=0.5)
    middle = out[:, 1, 1, 0]
    assert float(middle.min()) < 110 and float(middle.max()) > 145
