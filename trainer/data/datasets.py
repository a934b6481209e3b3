"""Dermoscopy data sets on disk: folder-per-class, HAM10000, and ISIC Archive downloads.

Every loader returns the same `Dataset`: samples with a label and a group. The
group is the lesion (HAM10000 `lesion_id`, ISIC `lesion_id`), so that several
photographs of one lesion never land on both sides of a split; where a source
has no lesion ids each image is its own group, and near-duplicate detection
(trainer.data.splits) merges groups further.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from skinscan_model.diagnoses import DIAGNOSES, DIAGNOSIS_CODES
from trainer.data.samples import IMAGE_SUFFIXES, DataError, Sample

__all__ = [
    "HAM10000_MALIGNANT",
    "Dataset",
    "institution_name",
    "load_dataset",
    "load_folder",
    "load_ham10000",
    "load_isic_archive",
    "read_csv",
]

HAM10000_METADATA = "HAM10000_metadata.csv"
ISIC_METADATA = "metadata.csv"
# Melanoma, basal cell carcinoma and actinic keratosis / intraepithelial
# carcinoma (Bowen's disease) are the malignant or pre-malignant diagnoses.
HAM10000_MALIGNANT = frozenset(code for code, d in DIAGNOSES.items() if d.malignant)
BINARY_CLASSES = ("benign", "malignant")


@dataclass(frozen=True)
class Dataset:
    """Labelled images from one source; `classes[label]` names a sample's class."""

    name: str
    root: Path
    samples: tuple[Sample, ...]
    classes: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        counter = Counter(s.label for s in self.samples)
        return {name: counter[i] for i, name in enumerate(self.classes)}

    def describe(self) -> str:
        groups = len({s.group for s in self.samples})
        counts = ", ".join(f"{name} {n}" for name, n in self.counts().items())
        return (
            f"{self.name} at {self.root}: {len(self.samples)} images of {groups} lesions; {counts}"
        )


def _check_classes(root: Path, samples: list[Sample], classes: tuple[str, ...]) -> None:
    present = Counter(s.label for s in samples)
    empty = [name for i, name in enumerate(classes) if present[i] == 0]
    if empty:
        raise DataError(f"{root}: class {', '.join(empty)} has no image")


def load_folder(root: Path) -> Dataset:
    """One sub-folder per class, named after the class; classes sorted by name."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of class sub-folders")
    classes = tuple(
        sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    )
    if len(classes) < 2:
        raise DataError(f"{root} must hold one sub-folder per class, at least two; found {classes}")
    samples: list[Sample] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {root / name} holds no .jpg, .jpeg or .png image")
        # No lesion ids in a plain folder: each image is its own group until
        # near-duplicate detection joins photographs of the same lesion.
        samples.extend(Sample(path, index, f"{name}/{path.name}") for path in files)
    return Dataset("folder-per-class", root, tuple(samples), classes)


def _image_index(root: Path) -> dict[str, Path]:
    """Image files below `root` by file stem (HAM10000 ships them in two part folders)."""
    index: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            index.setdefault(path.stem, path)
    return index


def read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the CSV file: {error}") from error
    missing = required - columns
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; it has {sorted(columns)}")
    return rows


def load_ham10000(root: Path, labels: str = "binary") -> Dataset:
    """HAM10000: `HAM10000_metadata.csv` and its images, anywhere below `root`.

    labels="binary" maps mel, bcc and akiec to malignant and the rest to benign;
    labels="dx" keeps the seven diagnoses as classes.
    """
    if labels not in ("binary", "dx"):
        raise ValueError(f"HAM10000 labels are 'binary' or 'dx', not {labels!r}")
    metadata = root / HAM10000_METADATA
    rows = read_csv(metadata, {"lesion_id", "image_id", "dx"})
    images = _image_index(root)
    known = set(DIAGNOSIS_CODES)
    present = sorted({row["dx"].strip() for row in rows} & known)
    classes = BINARY_CLASSES if labels == "binary" else tuple(present)
    samples: list[Sample] = []
    for line, row in enumerate(rows, start=2):
        dx = row["dx"].strip()
        if dx not in known:
            raise DataError(f"{metadata} line {line}: unknown diagnosis {dx!r}; expected {known}")
        path = images.get(row["image_id"].strip())
        if path is None:
            raise DataError(
                f"{metadata} line {line}: image {row['image_id']!r} is not below {root}"
            )
        if labels == "binary":
            label = BINARY_CLASSES.index("malignant" if dx in HAM10000_MALIGNANT else "benign")
        else:
            label = classes.index(dx)
        samples.append(Sample(path, label, row["lesion_id"].strip(), DIAGNOSIS_CODES.index(dx)))
    _check_classes(root, samples, classes)
    return Dataset(f"HAM10000 ({labels})", root, tuple(samples), classes)


def institution_name(name: str) -> str:
    """One name per institution: the archive attributes some images to a department."""
    name = re.sub(r"^Department of [^,]+, ", "", name.strip())
    return name or "unknown institution"


def _groups(rows: list[dict[str, str]], ids: list[str]) -> list[str]:
    """Each image's group: its patient where known, else its lesion, else itself; a lesion
    listed once under a patient and once without joins that patient's group, so that no
    patient's images straddle a split."""
    groups = []
    for row, image_id in zip(rows, ids, strict=True):
        patient = (row.get("patient_id") or "").strip()
        lesion = (row.get("lesion_id") or "").strip()
        groups.append(
            f"patient:{patient}" if patient else f"lesion:{lesion}" if lesion else image_id
        )
    patient_of: dict[str, str] = {}
    for row, group in zip(rows, groups, strict=True):
        lesion = (row.get("lesion_id") or "").strip()
        if lesion and group.startswith("patient:"):
            patient_of.setdefault(lesion, group)
    return [
        patient_of.get((row.get("lesion_id") or "").strip(), group)
        for row, group in zip(rows, groups, strict=True)
    ]


def load_isic_archive(root: Path) -> Dataset:
    """An ISIC Archive download as `isic-cli image download` writes it, or a collection in its
    form (acral/: `image_id` for `isic_id`, with `institution` and `patient_id`).

    `metadata.csv` has `isic_id` (or `image_id`) and either `benign_malignant`
    (older archive exports) or `diagnosis_1` (Benign / Malignant / Indeterminate);
    images are `<id>.jpg`. Indeterminate and unlabelled images are left out and
    counted, never guessed. Images are grouped by patient where the metadata
    says, else by lesion (trainer.data.splits keeps a group on one side).
    """
    metadata = root / ISIC_METADATA
    with metadata.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    key = "isic_id" if "isic_id" in header or "image_id" not in header else "image_id"
    rows = read_csv(metadata, {key})
    if not rows:
        raise DataError(f"{metadata} lists no image")
    column = next((c for c in ("benign_malignant", "diagnosis_1") if c in rows[0]), None)
    if column is None:
        raise DataError(
            f"{metadata}: needs a benign_malignant or diagnosis_1 column for binary labels"
        )
    images = _image_index(root)
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()
    groups = _groups(rows, [row[key].strip() for row in rows])
    for line, (row, group) in enumerate(zip(rows, groups, strict=True), start=2):
        value = row[column].strip().lower()
        if value in ("", "indeterminate", "indeterminate/benign", "indeterminate/malignant"):
            skipped[value or "unlabelled"] += 1
            continue
        if value not in BINARY_CLASSES:
            raise DataError(
                f"{metadata} line {line}: unknown {column} {row[column]!r}; expected benign or malignant"
            )
        path = images.get(row[key].strip())
        if path is None:
            raise DataError(f"{metadata} line {line}: image {row[key]!r} is not below {root}")
        institution = institution_name(row["institution"]) if "institution" in row else ""
        samples.append(Sample(path, BINARY_CLASSES.index(value), group, institution=institution))
    if skipped:
        print(f"{metadata}: left out {dict(skipped)} images without a benign/malignant label")
    _check_classes(root, samples, BINARY_CLASSES)
    return Dataset("ISIC Archive", root, tuple(samples), BINARY_CLASSES)


def load_dataset(root: Path, labels: str = "binary") -> Dataset:
    """Recognizes the layout: HAM10000 metadata, an isic-cli download, or class folders."""
    if (root / HAM10000_METADATA).is_file():
        return load_ham10000(root, labels)
    if labels != "binary":
        raise DataError(f"{root}: --labels {labels} applies to HAM10000 only")
    if (root / ISIC_METADATA).is_file():
        return load_isic_archive(root)
    return load_folder(root)
