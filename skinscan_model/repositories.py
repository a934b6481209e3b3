"""Which store a repository setting names: a folder, or `s3://bucket/prefix`.

Above both stores (skinscan_model.store, skinscan_model.s3_store, which builds on the
first): the store never imports the S3 one, so the two form no import circle.
"""

from __future__ import annotations

from pathlib import Path

from skinscan_model.s3_store import S3ModelStore
from skinscan_model.store import LocalModelStore, ModelStore, ModelVersion, split_location

__all__ = ["open_store", "resolve_version"]


def open_store(repository: str | Path, cache_dir: Path) -> ModelStore:
    """The store a SKINSCAN_MODEL_REPOSITORY value names: `s3://bucket/prefix` or a folder."""
    if str(repository).startswith("s3://"):
        return S3ModelStore(str(repository), cache_dir)
    return LocalModelStore(Path(repository))


def resolve_version(location: str | Path, cache_dir: Path) -> ModelVersion:
    """A version named `REPOSITORY/MODEL/VERSION` (a version's folder) or `REPOSITORY/MODEL`
    (its newest), the repository a folder or `s3://bucket/prefix` (fetched into
    `cache_dir`); verified against the checksum it was published with."""
    repository, name, version = split_location(location)
    store = open_store(repository, cache_dir)
    chosen = store.fetch(name, version)
    store.verify(chosen)
    return chosen
