"""How often a model refuses what it should, and passes what it should.

Three sets, none of them used to choose anything: the held-out dermoscopy
(which should pass), the same dermoscopy spoilt on purpose (blurred,
darkened: which should be refused), and images that are not dermoscopy at
all, made here (trainer.data.not_dermoscopy). Each image goes through the
service's own decoding, quality measures and refusal rules
(skinscan_model.assessment): the acquisition gate and the out-of-distribution
score, where the model serves them.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from skinscan.analysis import Severity
from skinscan.errors import InvalidImageError
from skinscan_model.assessment import image_findings, is_refused
from skinscan_model.metadata import ModelMetadata
from skinscan_model.preprocessing import ImageLimits, decode_for_model, resize_and_crop
from skinscan_model.quality import measure
from trainer.data.not_dermoscopy import not_dermoscopy
from trainer.export.graph import onnx_outputs

__all__ = ["assessability_report", "format_assessability"]

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
    acquisition: list[np.ndarray | None] = [None] * len(prepared)
    stacked = np.stack([pixels for _, pixels, _ in prepared])
    if metadata.ood_threshold is not None:
        scores = list(onnx_outputs(graph, stacked, (metadata.ood_output,))[metadata.ood_output])
    if metadata.acquisition_level is not None:
        name = metadata.acquisition_output
        acquisition = list(onnx_outputs(graph, stacked, (name,))[name])
    for (index, _, measures), score, gate in zip(prepared, scores, acquisition, strict=True):
        findings = image_findings(
            measures,
            metadata.quality,
            size,
            None if score is None else float(score),
            metadata.ood_threshold,
            gate,
            metadata.acquisition_level,
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
    metadata: ModelMetadata,
    graph: Path,
    dermoscopy: list[Path],
    sources: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """Pass rate on `dermoscopy` (and on each source's share of it, `sources` naming the
    positions of each), refusal rates on spoilt copies and on non-dermoscopy, for the
    model `graph` described by `metadata`."""

    def refusals(uploads: list[bytes]) -> list[list[str]]:
        return _refusals(metadata, graph, uploads)

    uploads = [path.read_bytes() for path in dermoscopy]
    codes = refusals(uploads)
    held_out = _rate(codes)
    held_out["pass_rate"] = 1 - held_out["refusal_rate"]
    if sources:
        held_out["by_source"] = {}
        for name, positions in sources.items():
            mine = _rate([codes[i] for i in positions])
            mine["pass_rate"] = 1 - mine["refusal_rate"]
            held_out["by_source"][name] = mine
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
        *(
            f"  {name}: {r['pass_rate']:.1%} of {r['images']} (refusals {r['reasons']})"
            for name, r in held_out.get("by_source", {}).items()
        ),
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
