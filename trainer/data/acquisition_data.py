"""What the acquisition gate learns from: dermoscopy from every source, and real negatives.

Three classes (skinscan_model.acquisition): dermoscopy, a clinical photograph
of skin (taken without a dermatoscope: lesions, wounds, acne, hands), and
anything else (other medical images, everyday photographs, documents).

- The decision's own sources (isic-binary, HAM10000) keep the decision's
  split, so the gate's validation dermoscopy is the decision's validation.
- Further dermoscopy (`--gate-dermoscopy`, for example acral/ with its nine
  institutions) is split by patient where known, else by lesion, else by image.
- The negatives (`--negatives`, a not-dermoscopy/ folder: `metadata.csv` with
  `file, kind, source`) are split by image within each source.
- Negatives no collection holds (noise, colour fields, words, scanned pages,
  application screens: trainer.data.made_negatives) are drawn from the run's seed,
  written beside the version's work, and split by image within each kind.

Every image carries its group for the leave-one-out report: a dermoscopy
source or institution, a kind and a source of negatives.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinscan_model.acquisition import ACQUISITION_CLASSES, CLINICAL, DERMOSCOPY, OTHER
from trainer.data.datasets import institution_name, load_isic_archive, read_csv
from trainer.data.made_negatives import made_negatives
from trainer.data.prepare import PARTS, PreparedData
from trainer.data.samples import DataError
from trainer.data.splits import grouped_split

__all__ = [
    "GATE_SPLIT_FILE",
    "KIND_CLASSES",
    "GateImage",
    "GateSet",
    "gate_set",
    "load_extra_dermoscopy",
    "load_negatives",
    "made_gate_images",
    "source_name",
]

GATE_SPLIT_FILE = "gate_split.csv"
# Each kind of negative's class: photographs of skin are the clinical photographs a
# phone takes; the rest is not skin at all.
KIND_CLASSES = {
    "clinical": CLINICAL,
    "skin": CLINICAL,
    "medical": OTHER,
    "everyday": OTHER,
    "document": OTHER,
    "made": OTHER,  # trainer.data.made_negatives
}
# SD-198's atlas pictures carry a watermark band along their bottom tenth: cut off
# everywhere (training and evaluation alike), lest the band become what is learnt.
_WATERMARKED = {"sd198": 0.12}
_FRACTIONS = (0.15, 0.15)  # validation and test shares of the gate's own splits


@dataclass(frozen=True)
class GateImage:
    path: Path
    acquisition: int  # index into ACQUISITION_CLASSES
    source: str  # the dermoscopy source (an institution within acral/), or KIND/SOURCE
    kind: str  # "dermoscopy" or the negatives' kind
    part: str  # train, validation or test
    crop_bottom: float = 0.0  # share of the height cut off the bottom before anything else


@dataclass(frozen=True)
class GateSet:
    images: tuple[GateImage, ...]

    def part(self, name: str) -> list[GateImage]:
        return [image for image in self.images if image.part == name]

    def describe(self) -> list[str]:
        counts = Counter((i.kind, i.source, i.part) for i in self.images)
        rows = sorted({(kind, source) for kind, source, _ in counts})
        return [
            f"  {kind:<10} {source:<48} "
            + " ".join(f"{part} {counts[(kind, source, part)]:>5}" for part in PARTS)
            for kind, source in rows
        ]

    def write(self, path: Path, roots: dict[str, Path]) -> None:
        """The gate's split, paths relative to the folders given (--gate-dermoscopy,
        --negatives), so a later version can be fitted and scored on the same images; `roots`
        names each folder as the file's root column says it."""
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "class", "kind", "source", "split", "root"])
            for image in self.images:
                name, root = next(
                    ((n, r) for n, r in roots.items() if image.path.is_relative_to(r)), ("", None)
                )
                relative = image.path.relative_to(root) if root else image.path
                writer.writerow(
                    [
                        relative.as_posix(),
                        ACQUISITION_CLASSES[image.acquisition],
                        image.kind,
                        image.source,
                        image.part,
                        name,
                    ]
                )


def load_extra_dermoscopy(root: Path, seed: int) -> list[GateImage]:
    """A dermoscopy collection in the ISIC form (trainer.data.datasets.load_isic_archive:
    `metadata.csv` with `image_id`, optionally `institution`, `patient_id`, `lesion_id`),
    split by patient, else lesion, else image, stratified by benign/malignant. Each image's
    source is its institution."""
    dataset = load_isic_archive(root)
    samples = dataset.samples
    split = grouped_split(
        [s.label for s in samples], [s.group for s in samples], *_FRACTIONS, seed
    ).part_of()
    return [
        GateImage(
            s.path,
            DERMOSCOPY,
            f"{root.name}: {s.institution or institution_name('')}",
            "dermoscopy",
            split[i],
        )
        for i, s in enumerate(samples)
    ]


def load_negatives(root: Path, seed: int) -> list[GateImage]:
    """A not-dermoscopy folder: `metadata.csv` with `file, kind, source`; split by image within
    each source."""
    metadata = root / "metadata.csv"
    rows = read_csv(metadata, {"file", "kind", "source"})
    if not rows:
        raise DataError(f"{metadata} lists no image")
    unknown = {r["kind"] for r in rows} - KIND_CLASSES.keys()
    if unknown:
        raise DataError(
            f"{metadata}: unknown kinds {sorted(unknown)}; known: {sorted(KIND_CLASSES)}"
        )
    names = sorted({f"{r['kind']}/{r['source']}" for r in rows})
    strata = [names.index(f"{r['kind']}/{r['source']}") for r in rows]
    split = grouped_split(strata, [r["file"] for r in rows], *_FRACTIONS, seed).part_of()
    images = []
    for i, row in enumerate(rows):
        path = root / row["file"]
        if not path.is_file():
            raise DataError(f"{metadata} line {i + 2}: {path} does not exist")
        images.append(
            GateImage(
                path,
                KIND_CLASSES[row["kind"]],
                f"{row['kind']}/{row['source']}",
                row["kind"],
                split[i],
                _WATERMARKED.get(row["source"], 0.0),
            )
        )
    return images


def made_gate_images(folder: Path, seed: int, per_kind: int) -> list[GateImage]:
    """trainer.data.made_negatives' images, written below `folder` (one folder per kind) and split
    by image within each kind."""
    images: list[tuple[Path, str]] = []
    for kind, encoded in made_negatives(seed, per_kind).items():
        home = folder / kind.replace(" ", "-")
        home.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(encoded):
            suffix = ".png" if data.startswith(b"\x89PNG") else ".jpg"
            path = home / f"{i:04d}{suffix}"
            path.write_bytes(data)
            images.append((path, f"made/{kind}"))
    names = sorted({source for _, source in images})
    strata = [names.index(source) for _, source in images]
    split = grouped_split(strata, [str(p) for p, _ in images], *_FRACTIONS, seed).part_of()
    return [
        GateImage(path, OTHER, source, "made", split[i]) for i, (path, source) in enumerate(images)
    ]


def _decision_sources(prepared: PreparedData, per_source: int, seed: int) -> list[GateImage]:
    """The decision's dermoscopy in its own split; at most `per_source` training images of
    each source (HAM10000's 7,000 would outweigh every other source's dermoscopy)."""
    rng = np.random.default_rng(seed)
    images = []
    for part in PARTS:
        indices = np.array(getattr(prepared.split, part), dtype=np.int64)
        for root_index, root in enumerate(prepared.roots):
            mine = indices[prepared.source[indices] == root_index]
            if part == "train" and len(mine) > per_source:
                mine = np.sort(rng.choice(mine, per_source, replace=False))
            name = source_name(root)
            images += [
                GateImage(prepared.dataset.samples[i].path, DERMOSCOPY, name, "dermoscopy", part)
                for i in mine
            ]
    return images


def source_name(root: Path) -> str:
    """isic-binary/train -> isic-binary; ham10000 -> ham10000."""
    return root.parent.name if root.name == "train" else root.name


def gate_set(
    prepared: PreparedData,
    dermoscopy: tuple[Path, ...],
    negatives: Path,
    seed: int,
    made: tuple[Path, int] | None = None,
    per_source: int = 3000,
) -> GateSet:
    """Every source's images for the gate; `made` = (folder, images per kind) adds
    trainer.data.made_negatives' images, written below the folder."""
    images = _decision_sources(prepared, per_source, seed)
    for root in dermoscopy:
        images += load_extra_dermoscopy(root, seed)
    images += load_negatives(negatives, seed)
    if made is not None and made[1] > 0:
        images += made_gate_images(made[0], seed, made[1])
    return GateSet(tuple(images))
