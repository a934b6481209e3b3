"""Model stores: where exported model versions live, shared by the trainer (writer) and serving.

A store lists a model's versions, fetches one as local files ready to load,
and verifies it before it is served. LocalModelStore is a folder:
`<root>/<model>/<version>/model.onnx` plus `metadata.json`, with integer
versions. Readers take the highest complete version; the writer builds a
version in a hidden folder and renames it into place, so a reader never sees
a half-written model. S3ModelStore (skinscan_model.s3_store) implements the
same protocol for `s3://` repositories and fetches into a local cache;
skinscan_model.repositories picks one from the SKINSCAN_MODEL_REPOSITORY setting (so this
module never imports the S3 one, which builds on it).

Beside a model's versions, `<model>/trials/` keeps a small JSON record of each training run that
did not beat the version it started from (trainer.card.trials): never a served model, but what was
tried, for the next version's model card. One object per trial, never rewritten.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from skinscan.errors import ConflictError, ModelNotFoundError
from skinscan_model.metadata import ModelMetadata, sha256_of

__all__ = [
    "DEFAULT_MODEL_NAME",
    "METADATA_FILE",
    "MODEL_FILE",
    "TRIALS_DIR",
    "LocalModelStore",
    "ModelStore",
    "ModelVersion",
    "parse_trial_record",
    "read_version",
    "split_location",
    "write_whole",
]

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
TRIALS_DIR = "trials"
DEFAULT_MODEL_NAME = "skinscan-resnet50"

GET_A_MODEL = (
    "train one with `skinscan train --data ../shared/data/isic-binary/train --out models "
    "--epochs 1 --image-size 64 --weights none`, or point SKINSCAN_MODEL_REPOSITORY at a "
    "repository that holds one"
)


@dataclass(frozen=True)
class ModelVersion:
    """One version of one model, as local files."""

    name: str
    version: str
    path: Path
    metadata: ModelMetadata

    @property
    def onnx_path(self) -> Path:
        return self.path / MODEL_FILE


class ModelStore(Protocol):
    def versions(self, name: str) -> list[str]:
        """The model's complete versions, oldest first; empty when there is none."""
        ...

    def fetch(self, name: str, version: str | None = None) -> ModelVersion:
        """One version (the newest unless `version` is given) as local files ready to load."""
        ...

    def verify(self, version: ModelVersion) -> None:
        """Raises ModelNotFoundError unless the files are the ones published."""
        ...

    def metadata(self, name: str, version: str) -> ModelMetadata:
        """One version's metadata, without fetching its model."""
        ...

    def put(self, source: ModelVersion) -> ModelVersion:
        """Copies a complete version, every file of its folder, under the same name and number.

        Pushing the same model again changes nothing; a different model under a
        number that exists raises ConflictError (versions are never overwritten).
        """
        ...

    def trials(self, name: str) -> list[dict[str, Any]]:
        """The model's trial records (runs not published; skinscan_model.trials orders them)."""
        ...

    def record_trial(self, name: str, key: str, record: dict[str, Any]) -> str:
        """Keeps one trial record under `key`, written whole (the same key again: a rerun of
        the same candidate, which replaces it); returns where it is."""
        ...


def split_location(location: str | Path) -> tuple[str, str, str | None]:
    """`REPOSITORY/MODEL/VERSION` or `REPOSITORY/MODEL` as (repository, model, version or
    None for the newest)."""
    text = str(location).rstrip("/")
    repository, _, last = text.rpartition("/")
    version: str | None = None
    if last.isdigit():
        version = last
        repository, _, last = repository.rpartition("/")
    if not last:
        raise ModelNotFoundError(
            f"{location}: name a model as REPOSITORY/MODEL or REPOSITORY/MODEL/VERSION"
        )
    return repository or ".", last, version


def parse_trial_record(body: bytes, where: object) -> dict[str, Any]:
    """One trial record as a store keeps it (a JSON object); ModelNotFoundError names the file
    otherwise, so a broken record is found and fixed rather than skipped."""
    try:
        record = json.loads(body)
    except ValueError as error:
        raise ModelNotFoundError(f"{where} is not a trial record: {error}") from error
    if not isinstance(record, dict):
        raise ModelNotFoundError(f"{where} is not a trial record: not a JSON object")
    return record


def write_whole(target: Path, text: str) -> None:
    """Writes a small file of a folder repository (a trial record, the curve page) beside its
    place and renames it there, so a reader never sees half of it; readable by all, as the
    versions' files are (a temporary file is made for its owner alone)."""
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.chmod(partial, 0o644)
    os.replace(partial, target)


def read_version(path: Path) -> ModelVersion:
    """A version folder given by its path (`<repository>/<model>/<version>`)."""
    path = path.resolve()
    if not (path / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"{path} holds no {MODEL_FILE}: name a version's folder")
    return LocalModelStore(path.parent.parent).fetch(path.parent.name, path.name)


class LocalModelStore:
    """A model repository on a local (or mounted) file system."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalModelStore({str(self.root)!r})"

    def versions(self, name: str) -> list[str]:
        model_dir = self.root / name
        if not model_dir.is_dir():
            return []
        numbers = sorted(
            int(child.name)
            for child in model_dir.iterdir()
            if child.is_dir() and child.name.isdigit() and (child / MODEL_FILE).is_file()
        )
        return [str(n) for n in numbers]

    def fetch(self, name: str, version: str | None = None) -> ModelVersion:
        if not self.root.is_dir():
            raise ModelNotFoundError(
                f"the model repository {self.root} does not exist: {GET_A_MODEL}"
            )
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(
                f"{self.root} holds no version of model {name!r}: {GET_A_MODEL}"
            )
        chosen = version if version is not None else versions[-1]
        if chosen not in versions:
            raise ModelNotFoundError(f"model {name!r} has no version {chosen}; it has {versions}")
        path = self.root / name / chosen
        return ModelVersion(name, chosen, path, self.metadata(name, chosen))

    def metadata(self, name: str, version: str) -> ModelMetadata:
        path = self.root / name / version / METADATA_FILE
        try:
            return ModelMetadata.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelNotFoundError(f"{path} is missing or invalid: {error}") from error

    def verify(self, version: ModelVersion) -> None:
        recorded = version.metadata.model_sha256
        # Versions published before checksums were recorded have none to compare.
        if recorded and sha256_of(version.onnx_path) != recorded:
            raise ModelNotFoundError(
                f"{version.onnx_path} is not the file that was published (its SHA-256 differs "
                f"from {METADATA_FILE}): copy the version again"
            )

    def put(self, source: ModelVersion) -> ModelVersion:
        self.verify(source)
        if source.version in self.versions(source.name):
            existing = self.fetch(source.name, source.version)
            if existing.metadata.model_sha256 == source.metadata.model_sha256:
                return existing
            raise ConflictError(
                f"{self.root} already holds a different {source.name} version {source.version}: "
                "versions are never overwritten; publish the new model under a new number"
            )
        model_dir = self.root / source.name
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
        try:
            for file in source.path.iterdir():
                if file.is_file():
                    shutil.copyfile(file, staging / file.name)
            try:
                os.rename(staging, model_dir / source.version)
            except OSError as error:
                raise ConflictError(
                    f"{source.name} version {source.version} appeared in {self.root} meanwhile"
                ) from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.fetch(source.name, source.version)

    def trials(self, name: str) -> list[dict[str, Any]]:
        folder = self.root / name / TRIALS_DIR
        if not folder.is_dir():
            return []
        return [
            parse_trial_record(path.read_bytes(), path) for path in sorted(folder.glob("*.json"))
        ]

    def record_trial(self, name: str, key: str, record: dict[str, Any]) -> str:
        folder = self.root / name / TRIALS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key}.json"
        write_whole(target, json.dumps(record, indent=2) + "\n")
        return str(target)

    def publish(
        self,
        onnx_file: Path,
        metadata: ModelMetadata,
        extra_files: dict[str, Path] | None = None,
    ) -> ModelVersion:
        """Adds `onnx_file` and its metadata as the next version of `metadata.name`."""
        model_dir = self.root / metadata.name
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
        try:
            shutil.copyfile(onnx_file, staging / MODEL_FILE)
            metadata = replace(metadata, model_sha256=sha256_of(staging / MODEL_FILE))
            (staging / METADATA_FILE).write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")
            for name, source in (extra_files or {}).items():
                shutil.copyfile(source, staging / name)
            while True:
                versions = self.versions(metadata.name)
                target = model_dir / str(int(versions[-1]) + 1 if versions else 1)
                try:
                    # rename is atomic, and fails if a concurrent writer took this number.
                    os.rename(staging, target)
                    break
                except OSError:
                    if not target.exists():
                        raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.fetch(metadata.name, target.name)
