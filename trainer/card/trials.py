"""Where a run's trials go: the repository of the version it trained on from.

A continued run that does not beat its parent is recorded there (skinscan_model.trials); a run
from the same parent that is published carries those records in its lineage curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinscan_model.repositories import open_store
from skinscan_model.store import ModelStore, ModelVersion, split_location
from skinscan_model.trials import trial_key_and_record, trial_rows
from trainer.card.curve import refresh_curve_page

__all__ = ["record_trial", "trials_from"]


def _parents_store(init_from: str, cache: Path) -> tuple[ModelStore, str]:
    repository, name, _ = split_location(init_from)
    return open_store(repository, cache), name


def record_trial(init_from: str, cache: Path, candidate: ModelVersion) -> str:
    """Records a candidate that did not beat its parent in the parent's repository (as
    --init-from named it), and rewrites the repository's curve page; returns where."""
    key, record = trial_key_and_record(candidate)
    store, name = _parents_store(init_from, cache)
    where = store.record_trial(name, key, record)
    refresh_curve_page(store, name)
    return where


def trials_from(
    init_from: str, cache: Path, parent_sha256: str, but_run: str
) -> list[dict[str, Any]]:
    """The curve rows of the trials recorded from the --init-from parent, oldest first, but not
    run `but_run`'s own (when it is resumed)."""
    store, name = _parents_store(init_from, cache)
    return trial_rows(store, name, parent_sha256, but_run)
