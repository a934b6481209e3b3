"""The versioned model repository shared by the trainer (writer) and inference (reader).

Layout: `<repository>/<model>/<version>/model.onnx` plus `metadata.json`, with
integer versions. Readers serve the highest complete version; writers build a
version in a hidden folder and rename it into place, so a reader never sees a
half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skinscan.errors import ModelNotFoundError

__all__ = [
    "METADATA_FILE",
    "MODEL_FILE",
    "InputSpec",
    "ModelMetadata",
    "ModelVersion",
    "find_model",
    "write_version",
]

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
DEFAULT_MODEL_NAME = "skinscan-resnet50"

GET_A_MODEL = (
    "train one with `skinscan train --data ../shared/data/isic-binary/train --out models "
    "--epochs 1 --image-size 64 --weights none`, or point SKINSCAN_MODEL_REPOSITORY at a "
    "repository that holds one"
)


@dataclass(frozen=True)
class InputSpec:
    """What the exported graph takes: uint8 RGB pixels, NHWC, size x size.

    Colour constancy, then mean and std (on the 0-1 scale), are applied inside
    the graph; they are recorded here for model cards and for anyone reusing
    the network.
    """

    name: str = "pixels"
    size: int = 224
    layout: str = "NHWC"
    datatype: str = "UINT8"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    color_constancy: str = "none"


@dataclass(frozen=True)
class ModelMetadata:
    """Everything besides the weights that a served model needs, and its provenance."""

    name: str
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    input: InputSpec
    logits_output: str = "logits"
    probabilities_output: str = "probabilities"
    architecture: str = "resnet50"
    # "int8" (statically quantized QDQ graph) or "fp32".
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be two or more distinct names, got {self.labels}")
        if self.positive_label not in self.labels:
            raise ValueError(f"positive_label {self.positive_label!r} is not in {self.labels}")
        if not 0.0 < self.decision_threshold < 1.0:
            raise ValueError(f"decision_threshold must be in (0, 1), got {self.decision_threshold}")
        if self.input.size < 16:
            raise ValueError(f"input size {self.input.size} is too small")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelMetadata:
        spec = dict(raw["input"])
        spec["mean"] = tuple(spec.get("mean", InputSpec.mean))
        spec["std"] = tuple(spec.get("std", InputSpec.std))
        fields = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        fields["labels"] = tuple(raw["labels"])
        fields["input"] = InputSpec(**spec)
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelVersion:
    """One version of one model on disk."""

    name: str
    version: str
    path: Path
    metadata: ModelMetadata

    @property
    def onnx_path(self) -> Path:
        return self.path / MODEL_FILE


def _versions(model_dir: Path) -> list[int]:
    return sorted(
        int(child.name)
        for child in model_dir.iterdir()
        if child.is_dir() and child.name.isdigit() and (child / MODEL_FILE).is_file()
    )


def find_model(
    repository: Path, name: str | None = None, version: str | None = None
) -> ModelVersion:
    """Finds a model version; the highest one unless `version` is given.

    With no name, the repository must hold exactly one model.
    """
    if not repository.is_dir():
        raise ModelNotFoundError(f"the model repository {repository} does not exist: {GET_A_MODEL}")
    if name is None:
        models = sorted(p.name for p in repository.iterdir() if p.is_dir() and _versions(p))
        if not models:
            raise ModelNotFoundError(
                f"the model repository {repository} holds no model: {GET_A_MODEL}"
            )
        if len(models) > 1:
            raise ModelNotFoundError(
                f"the model repository {repository} holds several models {models}: "
                "choose one with SKINSCAN_MODEL_NAME"
            )
        name = models[0]
    model_dir = repository / name
    versions = _versions(model_dir) if model_dir.is_dir() else []
    if not versions:
        raise ModelNotFoundError(f"{repository} holds no version of model {name!r}: {GET_A_MODEL}")
    chosen = version if version is not None else str(versions[-1])
    path = model_dir / chosen
    if not (path / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"model {name!r} has no version {chosen}; it has {versions}")
    try:
        metadata = ModelMetadata.from_dict(json.loads((path / METADATA_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelNotFoundError(
            f"{path / METADATA_FILE} is missing or invalid: {error}"
        ) from error
    return ModelVersion(name=name, version=chosen, path=path, metadata=metadata)


def write_version(
    repository: Path,
    onnx_file: Path,
    metadata: ModelMetadata,
    extra_files: dict[str, Path] | None = None,
) -> ModelVersion:
    """Adds `onnx_file` and its metadata as the next version of `metadata.name`."""
    model_dir = repository / metadata.name
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    try:
        shutil.copyfile(onnx_file, staging / MODEL_FILE)
        (staging / METADATA_FILE).write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, staging / name)
        while True:
            versions = _versions(model_dir)
            target = model_dir / str((versions[-1] if versions else 0) + 1)
            try:
                # rename is atomic, and fails if a concurrent writer took this number.
                os.rename(staging, target)
                break
            except OSError:
                if not target.exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return find_model(repository, metadata.name, target.name)
