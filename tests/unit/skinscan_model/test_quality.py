"""Image quality limits read off real dermoscopy, and what they refuse."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from skinscan.analysis import Severity
from skinscan_model.preprocessing import ImageLimits, decode_image, resize_and_crop
from skinscan_model.quality import QualityLimits, derive_limits, measure, quality_findings

SIZE = 128


def _pixels(data: bytes) -> tuple[np.ndarray, int]:
    image = decode_image(data, ImageLimits())
    return resize_and_crop(image, SIZE), min(image.size)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def split(isic_train: Path) -> tuple[list[Path], list[Path]]:
    images = sorted(isic_train.rglob("*.jpg"))
    return images[::4], images[1::40]  # "training" images, and others never measured


@pytest.fixture(scope="module")
def limits(split: tuple[list[Path], list[Path]]) -> QualityLimits:
    training, _ = split
    return derive_limits(np.stack([_pixels(p.read_bytes())[0] for p in training]))


def _codes(data: bytes, limits: QualityLimits, severity: Severity) -> set[str]:
    pixels, short_side = _pixels(data)
    found = quality_findings(measure(pixels, short_side), limits, SIZE)
    return {f.code for f in found if f.severity is severity}


def test_limits_come_from_the_training_images(
    limits: QualityLimits, split: tuple[list[Path], list[Path]]
) -> None:
    assert limits.images == len(split[0])
    assert 0 < limits.blurred.refuse < limits.blurred.warn < limits.noisy.warn < limits.noisy.refuse
    assert 0 <= limits.too_dark.warn < limits.too_dark.refuse <= 1
    assert QualityLimits.from_dict(limits.to_dict()) == limits


def test_real_dermoscopy_passes(
    limits: QualityLimits, split: tuple[list[Path], list[Path]]
) -> None:
    _, others = split
    refused = [p.name for p in others if _codes(p.read_bytes(), limits, Severity.REFUSAL)]
    assert refused == []


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (lambda image: image.filter(ImageFilter.GaussianBlur(4)), "blurred"),
        (lambda image: ImageEnhance.Brightness(image).enhance(0.05), "too_dark"),
        (lambda image: ImageEnhance.Brightness(image).enhance(6.0), "overexposed"),
    ],
)
def test_spoilt_dermoscopy_is_refused(
    limits: QualityLimits, split: tuple[list[Path], list[Path]], spoil: object, code: str
) -> None:
    _, others = split
    for path in others[:10]:
        spoilt = spoil(Image.open(path))  # type: ignore[operator]
        assert code in _codes(_jpeg(spoilt), limits, Severity.REFUSAL), path.name


def test_noise_black_and_flat_images_are_refused(limits: QualityLimits) -> None:
    rng = np.random.default_rng(0)
    noise = io.BytesIO()
    Image.fromarray(rng.integers(0, 65536, (300, 300)).astype(np.uint16)).save(noise, "PNG")
    assert "noisy" in _codes(noise.getvalue(), limits, Severity.REFUSAL)
    assert "greyscale" in _codes(noise.getvalue(), limits, Severity.WARNING)
    assert {"too_dark", "blurred"} <= _codes(
        _jpeg(Image.new("RGB", (300, 300))), limits, Severity.REFUSAL
    )
    flat = _jpeg(Image.new("RGB", (300, 300), (200, 120, 90)))
    assert "blurred" in _codes(flat, limits, Severity.REFUSAL)


def test_a_thumbnail_is_refused_and_a_small_image_warned(
    limits: QualityLimits, split: tuple[list[Path], list[Path]]
) -> None:
    image = Image.open(split[1][0])
    assert "low_resolution" in _codes(_jpeg(image.resize((60, 60))), limits, Severity.REFUSAL)
    assert "low_resolution" in _codes(_jpeg(image.resize((100, 100))), limits, Severity.WARNING)
