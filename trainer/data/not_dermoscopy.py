"""Images that are no dermoscopic photograph of a lesion, made from what installed packages ship.

The set a model's out-of-distribution refusal is measured on (never fitted
on): noise, flat colours, gradients, words and scanned pages, everyday
photographs (scikit-learn's and matplotlib's sample photographs, whole and in
crops), and other kinds of medical images (matplotlib's MRI slice, an EEG
trace plotted as a chart). Made, not downloaded, and the same on every call.
"""

from __future__ import annotations

import io
import textwrap
from typing import IO, cast

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["not_dermoscopy"]

_PAGE = (
    "Patient referred by the general practitioner for a pigmented lesion on the left "
    "shoulder, present for several years and recently changed in colour. No personal or "
    "family history of melanoma. Examination: a 7 mm asymmetric macule with two shades of "
    "brown. Plan: excision biopsy with 2 mm margins; histology to follow; review in clinic "
    "in four weeks. Invoice 2026-11 for services rendered; payment due within thirty days."
)


def _sample(name: str) -> bytes:
    """One of matplotlib's sample files, as bytes."""
    import matplotlib.cbook

    with cast(IO[bytes], matplotlib.cbook.get_sample_data(name, asfileobj=True)) as handle:
        return handle.read()


def _encode(image: Image.Image, format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def _crops(image: Image.Image, rng: np.random.Generator, count: int) -> list[bytes]:
    """The image whole, then `count` random square crops of at least 120 px."""
    image = image.convert("RGB")
    crops = [_encode(image)]
    for _ in range(count):
        side = int(rng.integers(120, min(image.size)))
        left = int(rng.integers(0, image.width - side + 1))
        top = int(rng.integers(0, image.height - side + 1))
        crops.append(_encode(image.crop((left, top, left + side, top + side))))
    return crops


def _everyday_photos(rng: np.random.Generator) -> list[bytes]:
    """scikit-learn's two sample photographs and matplotlib's, whole and in random crops."""
    photos: list[bytes] = []
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        print("scikit-learn's photographs left out: it is not installed")
    else:
        for array in load_sample_images().images:
            photos += _crops(Image.fromarray(array), rng, 10)
    try:
        hopper = _sample("grace_hopper.jpg")
    except ImportError:
        print("matplotlib's photograph left out: it is not installed")
    else:
        photos += _crops(Image.open(io.BytesIO(hopper)), rng, 7)
    return photos


def _medical(rng: np.random.Generator) -> list[bytes]:
    """matplotlib's MRI slice (in several windows and crops) and its EEG as a chart."""
    try:
        raw = _sample("s1045.ima.gz")  # matplotlib ungzips it
    except ImportError:
        print("other medical images left out: matplotlib is not installed")
        return []
    slice_ = np.frombuffer(raw, np.uint16).reshape(256, 256).astype(np.float64)
    images: list[bytes] = []
    for low, high in ((0, 1.0), (0.05, 0.6), (0.1, 0.4)):
        top = slice_.max()
        window = ((slice_ - low * top) / ((high - low) * top)).clip(0, 1)
        grey = Image.fromarray((window * 255).astype(np.uint8)).resize((512, 512))
        images += _crops(grey, rng, 2)
    from matplotlib.figure import Figure

    eeg = np.frombuffer(_sample("eeg.dat"), np.int16).reshape(-1, 4).astype(float)
    for channels in (slice(0, 1), slice(0, 4)):
        figure = Figure(figsize=(4, 3), dpi=100)
        axes = figure.add_subplot()
        traces = eeg[:800, channels]
        axes.plot(traces + np.arange(traces.shape[1]) * 3 * traces.std(), linewidth=0.7)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        images.append(_encode(Image.open(buffer).convert("RGB")))
    return images


def _scanned_pages(rng: np.random.Generator) -> list[bytes]:
    """Clinic letters as a scanner or phone would photograph them: dark print on pale paper."""
    font = ImageFont.load_default(size=16)
    pages = []
    for width in (40, 52, 64, 30):
        paper = tuple(int(c) for c in rng.integers(215, 256, 3))
        page = Image.new("RGB", (520, 400), paper)
        draw = ImageDraw.Draw(page)
        for line, text in enumerate(textwrap.wrap(_PAGE, width)):
            draw.text((24, 20 + 22 * line), text, fill=(30, 30, 40), font=font)
        page = page.rotate(
            float(rng.uniform(-4, 4)), fillcolor=paper, resample=Image.Resampling.BICUBIC
        )
        pages.append(_encode(page))
        pages.append(_encode(page.filter(ImageFilter.GaussianBlur(0.8)).crop((0, 0, 300, 300))))
    return pages


def not_dermoscopy(seed: int = 0) -> dict[str, list[bytes]]:
    """Images that are no dermoscopic photograph of a lesion, by kind; made, not downloaded."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (8, 3))
    font = ImageFont.load_default(size=28)
    words = ["patient notes", "invoice 2026-11", "lorem ipsum dolor", "SKINSCAN", "x-ray report"]
    y, x = np.mgrid[0:300, 0:400] / np.array([300.0, 400.0])[:, None, None]
    gradients = []
    for a, b in colours.reshape(4, 2, 3):
        for ramp in (x, y, np.hypot(x - 0.5, y - 0.5) * 1.4):
            mixed = a * (1 - ramp[..., None]) + b * ramp[..., None]
            gradients.append(_encode(Image.fromarray(mixed.clip(0, 255).astype(np.uint8))))
    texts = []
    for word, background in zip(words, colours, strict=False):
        image = Image.new("RGB", (400, 300), tuple(int(c) for c in background))
        ImageDraw.Draw(image).text((20, 120), word, fill=(0, 0, 0), font=font)
        texts.append(_encode(image))
    return {
        "random noise": [
            *(
                _encode(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
                for h, w in ((300, 300), (480, 640), (224, 224))
            ),
            *(
                _encode(
                    Image.fromarray(rng.integers(0, 65536, (300, 300)).astype(np.uint16)), "PNG"
                )
                for _ in range(3)
            ),
            *(
                _encode(
                    Image.fromarray(
                        rng.normal(128, 40, (300, 300, 3)).clip(0, 255).astype(np.uint8)
                    )
                )
                for _ in range(3)
            ),
        ],
        "flat colours": [
            _encode(Image.new("RGB", (300, 300), tuple(int(c) for c in colour)))
            for colour in (*colours, (0, 0, 0), (255, 255, 255), (224, 172, 150))
        ],
        "gradients": gradients,
        "text": texts,
        "scanned pages": _scanned_pages(rng),
        "everyday photographs": _everyday_photos(rng),
        "other medical images": _medical(rng),
    }
