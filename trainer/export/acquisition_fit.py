"""Fitting the acquisition head at export, and measuring it honestly, left out by left out.

The frozen network runs over the gate's images once per augmentation draw
(training images) and once plainly (every image), and its pooled stage
features are kept; the head and every leave-one-out refit train on those in
seconds. The refits answer what no validation split can: how much of an
institution's dermoscopy passes when the gate never saw that institution, and
how much of a kind of negative is refused when it never saw that kind.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from skinscan_model.acquisition import (
    ACQUISITION_CLASSES,
    CLINICAL,
    CLINICAL_PHOTOGRAPH,
    DERMOSCOPY,
    NOT_SKIN,
    acquisition_finding,
)
from skinscan_model.preprocessing import ImageLimits, decode_for_model, resize_and_crop
from trainer.data.acquisition_augment import augment_photo, crop_bottom
from trainer.data.acquisition_data import GateImage, GateSet
from trainer.network.acquisition import (
    AcquisitionHead,
    HeadFitConfig,
    choose_level,
    fit_head,
    gate_features,
    predict,
    sample_weights,
)
from trainer.network.model import SkinLesionClassifier

__all__ = [
    "GateFit",
    "GatePixels",
    "collection_of",
    "decode_gate",
    "fit_gate",
    "refusal_codes",
]

# A dermoscopy source or negative source is left out in turn when it has this many images.
MIN_LEFT_OUT_IMAGES = 100


def collection_of(source: str) -> str:
    """'acral: Imperial College London' -> 'acral'; 'clinical/sd198' -> 'clinical/sd198'."""
    return source.split(": ")[0]


def _load(image: GateImage, size: int, rng: np.random.Generator | None) -> np.ndarray:
    decoded, _ = decode_for_model(image.path.read_bytes(), size, ImageLimits())
    decoded = crop_bottom(decoded, image.crop_bottom)
    if rng is not None:
        decoded = augment_photo(decoded, rng)
    return resize_and_crop(decoded.convert("RGB"), size)


def decode_gate(
    images: list[GateImage], size: int, seed: int | None = None, workers: int = 4
) -> np.ndarray:
    """(N, size, size, 3) uint8 model input, through the service's decoding; with `seed`, one
    augmentation draw per image (reproducible: each image draws from its own generator)."""
    pixels = np.empty((len(images), size, size, 3), dtype=np.uint8)

    def load(i: int) -> None:
        rng = None if seed is None else np.random.default_rng([seed, i])
        pixels[i] = _load(images[i], size, rng)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(load, range(len(images))))
    return pixels


@torch.no_grad()
def _features(classifier: SkinLesionClassifier, pixels: np.ndarray, what: str) -> np.ndarray:
    parts = []
    for start in tqdm(range(0, len(pixels), 64), desc=what, leave=False, file=sys.stderr):
        maps = classifier.stage_maps(torch.from_numpy(pixels[start : start + 64]))
        parts.append(gate_features(maps).numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class GatePixels:
    """Decoded held-out gate images: what the served graph's level is read off."""

    images: list[GateImage]
    pixels: np.ndarray

    @property
    def classes(self) -> np.ndarray:
        return np.array([i.acquisition for i in self.images], dtype=np.int64)

    @property
    def sources(self) -> np.ndarray:
        return np.array([i.source for i in self.images])


@dataclass(frozen=True)
class GateFit:
    head: AcquisitionHead
    train: GatePixels  # as they are, not augmented
    validation: GatePixels
    test: GatePixels
    # Leave-one-out rows, and the fitting's own figures (images, features, seconds).
    leave_one_out: list[dict[str, Any]]
    fitting: dict[str, Any]


def refusal_codes(probabilities: np.ndarray, level: float) -> list[str]:
    """Each image's acquisition refusal code under the service's rule ('' where it passes)."""
    codes = []
    for p in probabilities:
        finding = acquisition_finding(p, level)
        codes.append("" if finding is None else finding.code)
    return codes


def rates(
    probabilities: np.ndarray, level: float, classes: np.ndarray, groups: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Per group: its images, and the share that pass (dermoscopy) or that are refused and
    refused with their own class's reason (negatives)."""
    codes = np.array(refusal_codes(probabilities, level))
    report: dict[str, dict[str, Any]] = {}
    for group in sorted(set(groups)):
        mine = groups == group
        cls = int(np.bincount(classes[mine]).argmax())
        row: dict[str, Any] = {"images": int(mine.sum()), "class": ACQUISITION_CLASSES[cls]}
        refused = codes[mine] != ""
        if cls == DERMOSCOPY:
            row["pass_rate"] = float(1 - refused.mean())
        else:
            own = CLINICAL_PHOTOGRAPH if cls == CLINICAL else NOT_SKIN
            row["refusal_rate"] = float(refused.mean())
            row["own_reason_rate"] = float((codes[mine] == own).mean())
        report[group] = row
    return report


def _left_out_groups(images: list[GateImage]) -> list[tuple[str, str]]:
    """(what, name): every dermoscopy collection, every institution and every negative source
    with enough images, and every kind of negative."""
    sources = np.array([i.source for i in images])
    kinds = np.array([i.kind for i in images])
    groups: list[tuple[str, str]] = []
    derm = kinds == "dermoscopy"
    for collection in sorted({collection_of(s) for s in sources[derm]}):
        groups.append(("collection", collection))
    for source in sorted(set(sources[derm])):
        if ": " in source and (sources == source).sum() >= MIN_LEFT_OUT_IMAGES:
            groups.append(("institution", source))
    for kind in sorted(set(kinds[~derm])):
        groups.append(("kind", kind))
        mine = sorted(set(sources[kinds == kind]))
        if len(mine) > 1:
            groups += [("source", s) for s in mine if (sources == s).sum() >= MIN_LEFT_OUT_IMAGES]
    return groups


def _membership(what: str, name: str, sources: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    if what == "collection":
        return np.array([collection_of(s) == name for s in sources])
    if what == "kind":
        return kinds == name
    return sources == name


def fit_gate(
    classifier: SkinLesionClassifier, gate: GateSet, size: int, seed: int, draws: int = 2
) -> GateFit:
    """The head fitted on every source, and each group left out in turn."""
    started = time.monotonic()
    classifier.eval()
    train, held_out = gate.part("train"), gate.part("validation") + gate.part("test")
    everything = train + held_out
    plain_pixels = decode_gate(everything, size)
    plain = _features(classifier, plain_pixels, "gate features")
    augmented = [
        _features(classifier, decode_gate(train, size, seed + draw + 1), f"gate draw {draw + 1}")
        for draw in range(draws)
    ]
    feature_seconds = time.monotonic() - started
    x_train = np.concatenate(augmented)
    classes = np.array([i.acquisition for i in train] * draws, dtype=np.int64)
    sources = np.array([i.source for i in train] * draws)
    kinds = np.array([i.kind for i in train] * draws)
    head = fit_head(x_train, classes, sample_weights(classes, sources), HeadFitConfig(seed=seed))

    all_classes = np.array([i.acquisition for i in everything], dtype=np.int64)
    all_sources = np.array([i.source for i in everything])
    all_kinds = np.array([i.kind for i in everything])
    validation = np.array([i.part == "validation" for i in everything])
    rows = []
    for what, name in _left_out_groups(everything):
        out = _membership(what, name, sources, kinds)
        refit = fit_head(
            x_train[~out],
            classes[~out],
            sample_weights(classes[~out], sources[~out]),
            HeadFitConfig(seed=seed),
        )
        theirs = _membership(what, name, all_sources, all_kinds)
        level_rows = validation & ~theirs & (all_classes == DERMOSCOPY)
        probabilities = predict(refit, plain)
        level = choose_level(
            probabilities[level_rows],
            np.array([collection_of(s) for s in all_sources[level_rows]]),
        )
        measured = rates(
            probabilities[theirs],
            level,
            all_classes[theirs],
            np.full(int(theirs.sum()), name),
        )[name]
        rows.append({"left_out": name, "what": what, "level": level, **measured})
        print(f"  gate without {what} {name}: {_row_words(rows[-1])}", flush=True)
    n_val = len(gate.part("validation"))
    return GateFit(
        head=head,
        train=GatePixels(train, plain_pixels[: len(train)]),
        validation=GatePixels(held_out[:n_val], plain_pixels[len(train) : len(train) + n_val]),
        test=GatePixels(held_out[n_val:], plain_pixels[len(train) + n_val :]),
        leave_one_out=rows,
        fitting={
            "training_images": len(train),
            "augmentation_draws": draws,
            "features": int(x_train.shape[1]),
            "feature_seconds": round(feature_seconds, 1),
            "images_per_second": round((len(everything) + draws * len(train)) / feature_seconds, 1),
            "seconds": round(time.monotonic() - started, 1),
        },
    )


def _row_words(row: dict[str, Any]) -> str:
    if "pass_rate" in row:
        return f"{row['pass_rate']:.1%} of {row['images']} dermoscopy images pass"
    return (
        f"{row['refusal_rate']:.1%} of {row['images']} refused, {row['own_reason_rate']:.1%} "
        "with their own reason"
    )
