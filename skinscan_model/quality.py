"""Image quality: can this image be assessed at all? Measured on what the model will see.

Each measure is taken on the model-input pixels (decoded, resized, cropped),
so the trainer measures its training images exactly as the service measures
an upload. The limits are not guessed: `derive_limits` reads them off the
training images when a model is exported, and they travel in its metadata.
The rule, for every measure: an image more extreme than 99% of the training
images gets a warning; one well beyond the most extreme 0.1% is refused
(past half the distance left to the end of a bounded scale, or past twice
the 99.9th percentile of an unbounded one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from skinscan.analysis import Finding, Severity

__all__ = ["QualityLimits", "QualityMeasures", "derive_limits", "measure", "quality_findings"]

# Rec. 601 luma weights.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# A pixel whose every channel is this close to 0 is black; one whose every
# channel is this close to 255 is burnt out. (One saturated channel is normal:
# reddened skin fills the red channel.)
_CLIPPED_DARK = 20
_CLIPPED_BRIGHT = 245
# Channels this close everywhere carry no colour.
_GREY_TOLERANCE = 2
_WARN_QUANTILE = 0.01
_REFUSE_QUANTILE = 0.001


@dataclass(frozen=True)
class QualityMeasures:
    sharpness: float  # variance of the Laplacian of the luma
    dark_fraction: float  # pixels with every channel near 0
    bright_fraction: float  # pixels with every channel near 255
    greyscale: bool
    short_side: int  # of the decoded upload, before resizing


def _sharpness(luma: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian, per image of a (N, H, W) batch."""
    laplacian = (
        luma[:, :-2, 1:-1]
        + luma[:, 2:, 1:-1]
        + luma[:, 1:-1, :-2]
        + luma[:, 1:-1, 2:]
        - 4 * luma[:, 1:-1, 1:-1]
    )
    return laplacian.reshape(len(luma), -1).var(axis=1)


def _channel_extremes(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel max and min over the channels of (..., 3) uint8.

    Element-wise over the three channel planes: numpy's max(axis=-1) over an
    axis of length 3 is ~25x slower, and this runs on every upload.
    """
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return np.maximum(np.maximum(red, green), blue), np.minimum(np.minimum(red, green), blue)


def _batch_measures(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The numeric measures of a (N, S, S, 3) uint8 batch."""
    luma = pixels.astype(np.float32) @ _LUMA
    highest, lowest = _channel_extremes(pixels)
    return {
        "sharpness": _sharpness(luma),
        "dark_fraction": (highest <= _CLIPPED_DARK).mean(axis=(1, 2)),
        "bright_fraction": (lowest >= _CLIPPED_BRIGHT).mean(axis=(1, 2)),
        # The most any pixel's channels differ (uint8: highest >= lowest).
        "channel_spread": (highest - lowest).max(axis=(1, 2)),
    }


def measure(pixels: np.ndarray, short_side: int) -> QualityMeasures:
    """Measures one image's model input (S, S, 3); `short_side` is the upload's shorter side."""
    values = {name: float(v[0]) for name, v in _batch_measures(pixels[np.newaxis]).items()}
    greyscale = values.pop("channel_spread") <= _GREY_TOLERANCE
    return QualityMeasures(**values, greyscale=greyscale, short_side=short_side)


@dataclass(frozen=True)
class Limit:
    warn: float
    refuse: float


@dataclass(frozen=True)
class QualityLimits:
    """Where warnings and refusals start, read off a model's training images.

    One limit per finding code: `blurred` and `noisy` bound the sharpness
    from below and above, `too_dark` the dark fraction, `overexposed` the
    bright fraction.
    """

    blurred: Limit
    noisy: Limit
    too_dark: Limit
    overexposed: Limit
    images: int  # how many training images they were read from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QualityLimits:
        limits = {
            code: Limit(**raw[code]) for code in ("blurred", "noisy", "too_dark", "overexposed")
        }
        return cls(**limits, images=int(raw["images"]))


def derive_limits(pixels: np.ndarray, batch: int = 256) -> QualityLimits:
    """The limits of the training images `pixels` (N, S, S, 3) uint8."""
    parts = [_batch_measures(pixels[i : i + batch]) for i in range(0, len(pixels), batch)]
    values = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def lower(v: np.ndarray) -> Limit:  # small is bad; the scale ends at 0
        return Limit(
            warn=float(np.quantile(v, _WARN_QUANTILE)),
            refuse=float(np.quantile(v, _REFUSE_QUANTILE)) / 2,
        )

    def upper(v: np.ndarray, end: float | None) -> Limit:  # large is bad
        extreme = float(np.quantile(v, 1 - _REFUSE_QUANTILE))
        return Limit(
            warn=float(np.quantile(v, 1 - _WARN_QUANTILE)),
            refuse=(extreme + end) / 2 if end is not None else 2 * extreme,
        )

    return QualityLimits(
        blurred=lower(values["sharpness"]),
        noisy=upper(values["sharpness"], end=None),
        too_dark=upper(values["dark_fraction"], end=1.0),
        overexposed=upper(values["bright_fraction"], end=1.0),
        images=len(pixels),
    )


def _graded(code: str, value: float, limit: Limit, low_is_bad: bool, what: str) -> Finding | None:
    beyond = (lambda threshold: value < threshold) if low_is_bad else (lambda t: value > t)
    if beyond(limit.refuse):
        return Finding(code, Severity.REFUSAL, what, value)
    if beyond(limit.warn):
        return Finding(code, Severity.WARNING, what, value)
    return None


def quality_findings(
    measures: QualityMeasures, limits: QualityLimits | None, input_size: int
) -> list[Finding]:
    """What the measures say, refusals first. Without limits only size and colour are judged."""
    found: list[Finding | None] = []
    if limits is not None:
        found += [
            _graded(
                "blurred",
                measures.sharpness,
                limits.blurred,
                True,
                f"the image is out of focus or shows no detail (sharpness {measures.sharpness:.1f}; "
                f"99% of the training images reach {limits.blurred.warn:.1f}): hold the "
                "dermatoscope still, focus on the lesion and retake it",
            ),
            _graded(
                "noisy",
                measures.sharpness,
                limits.noisy,
                False,
                f"the image is grainy or noisy (sharpness {measures.sharpness:.0f}; 99% of the "
                f"training images stay below {limits.noisy.warn:.0f}): use more light and a lower "
                "ISO, and retake it",
            ),
            _graded(
                "too_dark",
                measures.dark_fraction,
                limits.too_dark,
                False,
                f"{measures.dark_fraction:.1%} of the image is black: light the lesion "
                "(dermatoscope light on, contact with the skin) and retake it",
            ),
            _graded(
                "overexposed",
                measures.bright_fraction,
                limits.overexposed,
                False,
                f"{measures.bright_fraction:.1%} of the image is burnt out to white: reduce the "
                "light or the exposure and retake it",
            ),
        ]
    if measures.short_side < input_size:
        severity = Severity.REFUSAL if measures.short_side < input_size / 2 else Severity.WARNING
        found.append(
            Finding(
                "low_resolution",
                severity,
                f"the image's shorter side has {measures.short_side} pixels; the model looks at "
                f"{input_size}, so detail is missing: send the original, not a thumbnail",
                float(measures.short_side),
            )
        )
    if measures.greyscale:
        found.append(
            Finding(
                "greyscale",
                Severity.WARNING,
                "the image has no colour; the model learnt from colour dermoscopy, and colour "
                "matters to the assessment: send the colour original",
                1.0,
            )
        )
    findings = [f for f in found if f is not None]
    return sorted(findings, key=lambda f: f.severity is not Severity.REFUSAL)
