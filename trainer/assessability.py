"""How often a model refuses what it should, and passes what it should.

Three sets, none of them used to choose anything: the held-out dermoscopy
(which should pass), the same dermoscopy spoilt on purpose (blurred,
darkened: which should be refused), and images that are not dermoscopy at
all (noise, flat colours, gradients, text, natural photographs). Each image
goes through the service's own decoding, quality measures and refusal rules
(skinscan_model.assessment) and the model's out-of-distribution score.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from skinscan.analysis import Severity
from skinscan.errors import InvalidImageError
from skinscan_model.assessment import image_findings, is_refused
from skinscan_model.metadata import ModelMetadata
from skinscan_model.preprocessing import ImageLimits, decode_for_model, resize_and_crop
from skinscan_model.quality import measure
from trainer.export import onnx_outputs

__all__ = ["assessability_report", "format_assessability", "not_dermoscopy"]

# Spoilt copies are made of this many held-out images.
SPOILT_IMAGES = 100
SPOILERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "blurred (Gaussian radius 4 px)": lambda image: image.filter(ImageFilter.GaussianBlur(4)),
    "darkened (8% brightness)": lambda image: ImageEnhance.Brightness(image).enhance(0.08),
    "overexposed (6x brightness)": lambda image: ImageEnhance.Brightness(image).enhance(6.0),
}


def _encode(image: Image.Image, format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def _natural_photos(rng: np.random.Generator) -> list[bytes]:
    """scikit-learn's two sample photographs, whole and in random crops, where it is installed."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        print("natural photographs left out: install scikit-learn for its sample images")
        return []
    photos = []
    for array in load_sample_images().images:
        image = Image.fromarray(array)
        photos.append(_encode(image))
        for _ in range(10):
            side = int(rng.integers(120, min(image.size)))
            left = int(rng.integers(0, image.width - side))
            top = int(rng.integers(0, image.height - side))
            photos.append(_encode(image.crop((left, top, left + side, top + side))))
    return photos


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
        "natural photographs": _natural_photos(rng),
    }


def _refusals(metadata: ModelMetadata, graph: Path, uploads: list[bytes]) -> list[list[str]]:
    """Each upload's refusal codes under the service's rules (empty: assessable)."""
    size = metadata.input.size
    prepared: list[tuple[int, np.ndarray, Any]] = []
    codes: list[list[str]] = [[] for _ in uploads]
    for index, data in enumerate(uploads):
        try:
            image, full_size = decode_for_model(data, size, ImageLimits())
        except InvalidImageError:
            codes[index] = ["invalid_image"]
            continue
        pixels = resize_and_crop(image, size)
        prepared.append((index, pixels, measure(pixels, min(full_size))))
    if not prepared:
        return codes
    scores: list[float | None] = [None] * len(prepared)
    if metadata.ood_threshold is not None:
        stacked = np.stack([pixels for _, pixels, _ in prepared])
        scores = list(onnx_outputs(graph, stacked, (metadata.ood_output,))[metadata.ood_output])
    for (index, _, measures), score in zip(prepared, scores, strict=True):
        findings = image_findings(
            measures,
            metadata.quality,
            size,
            None if score is None else float(score),
            metadata.ood_threshold,
        )
        if is_refused(findings):
            codes[index] = [f.code for f in findings if f.severity is Severity.REFUSAL]
    return codes


def _rate(codes: list[list[str]]) -> dict[str, Any]:
    refused = [c for c in codes if c]
    return {
        "images": len(codes),
        "refused": len(refused),
        "refusal_rate": len(refused) / len(codes) if codes else float("nan"),
        "reasons": dict(Counter(code for c in refused for code in c)),
    }


def assessability_report(
    metadata: ModelMetadata, graph: Path, dermoscopy: list[Path]
) -> dict[str, Any]:
    """Pass rate on `dermoscopy`, refusal rates on spoilt copies and on non-dermoscopy,
    for the model `graph` described by `metadata`."""

    def refusals(uploads: list[bytes]) -> list[list[str]]:
        return _refusals(metadata, graph, uploads)

    uploads = [path.read_bytes() for path in dermoscopy]
    held_out = _rate(refusals(uploads))
    held_out["pass_rate"] = 1 - held_out["refusal_rate"]
    originals = [Image.open(io.BytesIO(data)).convert("RGB") for data in uploads[:SPOILT_IMAGES]]
    spoilt = {
        name: _rate(refusals([_encode(spoil(image)) for image in originals]))
        for name, spoil in SPOILERS.items()
    }
    others = {name: _rate(refusals(images)) for name, images in not_dermoscopy().items() if images}
    total = sum(r["images"] for r in others.values())
    refused = sum(r["refused"] for r in others.values())
    return {
        "held_out_dermoscopy": held_out,
        "spoilt_dermoscopy": spoilt,
        "not_dermoscopy": {"images": total, "refusal_rate": refused / total, "by_kind": others},
    }


def format_assessability(report: dict[str, Any]) -> str:
    held_out, others = report["held_out_dermoscopy"], report["not_dermoscopy"]
    lines = [
        f"assessable: {held_out['pass_rate']:.1%} of {held_out['images']} held-out dermoscopy "
        f"images (refusals {held_out['reasons']})",
        f"refused: {others['refusal_rate']:.1%} of {others['images']} images that are not dermoscopy",
    ]
    lines += [
        f"  {kind}: {r['refused']}/{r['images']} {r['reasons']}"
        for kind, r in others["by_kind"].items()
    ]
    lines += [
        f"refused: {r['refused']}/{r['images']} held-out dermoscopy images {name} {r['reasons']}"
        for name, r in report["spoilt_dermoscopy"].items()
    ]
    return "\n".join(lines)
