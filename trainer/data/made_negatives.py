"""Negatives the gate learns from that no collection holds: made here, drawn at random.

What a user uploads by mistake is not only photographs: a blank or noisy
frame from a broken camera, a colour field, a screenshot of the app itself, a
scanned letter, a word. Real negatives (not-dermoscopy/) have none of these,
and a gate that never saw them lets some through (version 4 passed every
scanned page of trainer.data.not_dermoscopy's set). These are drawn from a seed of
their own, with random sizes, colours, words and layouts, so that the set the
refusals are measured on (trainer.data.not_dermoscopy, seed 0) is never fitted
on; it shares the kinds, not the images. Photographs are left to the real
negatives: the sample photographs trainer.data.not_dermoscopy crops would leak.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["MADE_KINDS", "made_negatives"]

MADE_KINDS = ("noise", "flat and gradients", "text", "scanned pages", "interface screens")

_WORDS = [
    "patient",
    "referral",
    "dermatology",
    "clinic",
    "lesion",
    "shoulder",
    "biopsy",
    "histology",
    "margin",
    "review",
    "invoice",
    "payment",
    "appointment",
    "report",
    "result",
    "pending",
    "confirmed",
    "benign",
    "malignant",
    "nevus",
    "melanoma",
    "follow-up",
    "weeks",
    "history",
    "family",
    "examination",
    "asymmetric",
    "colour",
    "diameter",
    "plan",
    "upload",
    "analysis",
    "account",
    "settings",
    "sign",
    "in",
    "password",
    "version",
    "threshold",
    "batch",
    "export",
]


def _encode(image: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    if rng.random() < 0.3:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=int(rng.integers(60, 96)))
    return buffer.getvalue()


def _size(rng: np.random.Generator) -> tuple[int, int]:
    side = int(rng.integers(160, 720))
    aspect = float(rng.choice([1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16]))
    return max(96, int(side * aspect)), side


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(low, high, 3))
    return r, g, b


def _noise(rng: np.random.Generator) -> Image.Image:
    width, height = _size(rng)
    style = int(rng.integers(4))
    if style == 0:  # uniform, as a sensor with no light
        array: np.ndarray = rng.integers(0, 256, (height, width, 3))
    elif style == 1:  # Gaussian around a random grey or colour
        array = rng.normal(rng.uniform(30, 220, 3), rng.uniform(10, 70), (height, width, 3))
    elif style == 2:  # smooth colour blotches: low-frequency noise enlarged
        cells = rng.integers(0, 256, (int(rng.integers(3, 12)), int(rng.integers(3, 12)), 3))
        small = Image.fromarray(cells.astype(np.uint8))
        return small.resize((width, height), Image.Resampling.BICUBIC)
    else:  # salt and pepper on a flat field
        array = np.broadcast_to(np.array(_colour(rng)), (height, width, 3)).copy()
        mask = rng.random((height, width)) < rng.uniform(0.02, 0.3)
        array[mask] = rng.choice([0, 255], (int(mask.sum()), 1))
    return Image.fromarray(np.asarray(array).clip(0, 255).astype(np.uint8))


def _field(rng: np.random.Generator) -> Image.Image:
    width, height = _size(rng)
    a, b = np.array(_colour(rng), float), np.array(_colour(rng), float)
    if rng.random() < 0.3:
        return Image.new("RGB", (width, height), _colour(rng))
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width], float)[:, None, None]
    angle = rng.uniform(0, np.pi)
    ramp = (
        np.hypot(x - rng.random(), y - rng.random())
        if rng.random() < 0.4
        else x * np.cos(angle) + y * np.sin(angle)
    )
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    mixed = a * (1 - ramp[..., None]) + b * ramp[..., None]
    return Image.fromarray(mixed.clip(0, 255).astype(np.uint8))


def _phrase(rng: np.random.Generator, words: int) -> str:
    return " ".join(str(w) for w in rng.choice(_WORDS, words))


def _text(rng: np.random.Generator) -> Image.Image:
    width, height = _size(rng)
    background = _colour(rng)
    ink = tuple(255 - c for c in background) if rng.random() < 0.5 else _colour(rng)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        font = ImageFont.load_default(size=int(rng.integers(14, 60)))
        xy = (int(rng.integers(0, width // 2)), int(rng.integers(0, max(1, height - 40))))
        draw.text(xy, _phrase(rng, int(rng.integers(1, 4))), fill=ink, font=font)
    return image


def _page(rng: np.random.Generator) -> Image.Image:
    """A letter as a scanner or phone photographs it: dark print on pale paper, tilted."""
    width, height = _size(rng)
    paper = _colour(rng, 200, 256)
    page = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(page)
    size = int(rng.integers(10, 22))
    font = ImageFont.load_default(size=size)
    columns = max(10, int(width / (size * 0.55)) - 4)
    y = int(rng.integers(8, 40))
    for line in textwrap.wrap(_phrase(rng, 400), columns):
        if y > height - size:
            break
        draw.text((int(rng.integers(10, 30)), y), line, fill=_colour(rng, 0, 70), font=font)
        y += int(size * rng.uniform(1.2, 1.8))
    page = page.rotate(
        float(rng.uniform(-6, 6)), fillcolor=paper, resample=Image.Resampling.BICUBIC
    )
    if rng.random() < 0.5:
        page = page.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    return page


def _screen(rng: np.random.Generator) -> Image.Image:
    """An application's screen (the web app's among them): a bar, panels, buttons, words."""
    width, height = _size(rng)
    screen = Image.new("RGB", (width, height), _colour(rng, 225, 256))
    draw = ImageDraw.Draw(screen)
    bar = int(rng.integers(30, 70))
    draw.rectangle((0, 0, width, bar), fill=_colour(rng, 0, 160))
    font = ImageFont.load_default(size=int(rng.integers(12, 20)))
    draw.text((12, bar // 3), _phrase(rng, 2), fill=(255, 255, 255), font=font)
    for _ in range(int(rng.integers(2, 7))):
        left, top = int(rng.integers(0, width - 60)), int(rng.integers(bar, height - 30))
        right = min(width, left + int(rng.integers(60, width)))
        bottom = min(height, top + int(rng.integers(24, 200)))
        draw.rounded_rectangle(
            (left, top, right, bottom),
            radius=int(rng.integers(0, 12)),
            fill=_colour(rng, 180, 256) if rng.random() < 0.7 else _colour(rng),
            outline=_colour(rng, 120, 220),
        )
        draw.text((left + 8, top + 6), _phrase(rng, 3), fill=_colour(rng, 0, 90), font=font)
    return screen


_MAKERS = dict(zip(MADE_KINDS, (_noise, _field, _text, _page, _screen), strict=True))


def made_negatives(seed: int, per_kind: int) -> dict[str, list[bytes]]:
    """`per_kind` encoded images of each of MADE_KINDS, the same for the same seed."""
    rng = np.random.default_rng([seed, 7919])
    return {
        kind: [_encode(make(rng), rng) for _ in range(per_kind)] for kind, make in _MAKERS.items()
    }
