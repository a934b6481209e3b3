"""Trial records: a run that did not beat its parent, kept beside the model's versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from skinscan_model.metadata import InputSpec, ModelMetadata
from skinscan_model.store import LocalModelStore, ModelVersion
from skinscan_model.trials import recorded_trials, trial_key_and_record, trial_rows

PARENT = {"name": "m", "version": "3", "model_sha256": "a" * 64, "precision": "int8"}
METADATA = ModelMetadata(
    name="m",
    labels=("benign", "malignant"),
    positive_label="malignant",
    decision_threshold=0.4,
    input=InputSpec(size=32),
)


def _candidate(created_at: str, sha: str, publish: bool = False) -> ModelVersion:
    row: dict[str, Any] = {
        "version": None,
        "run": f"run-{sha[0]}",
        "trained": "the whole network",
        "minutes": 70.3,
        "published": publish,
        "versus_parent": {"difference": 0.0031, "ci95": [-0.0132, 0.0208]},
        "roc_auc": {"all sources": 0.8692},
    }
    metadata = replace(
        METADATA,
        created_at=created_at,
        model_sha256=sha,
        training={
            "lineage": {
                "kind": "continued",
                "parent": PARENT,
                "run": f"run-{sha[0]}",
                "curve": [{}, row],
            }
        },
        metrics={
            "versus_parent": {
                "publish": publish,
                "reasons": ["not above 0"],
                "pooled": {"difference": 0.0031, "ci95": [-0.0132, 0.0208]},
            }
        },
    )
    return ModelVersion("m", "1", Path("runs/candidates/m/1"), metadata)


def test_a_candidate_is_recorded_once_and_read_back_oldest_first(tmp_path: Path) -> None:
    store = LocalModelStore(tmp_path / "repo")
    assert store.trials("m") == []
    later = _candidate("2026-12-06T20:00:00+00:00", "c" * 64)
    earlier = _candidate("2026-12-06T18:00:00+00:00", "b" * 64)
    # The same run again (resumed, exported anew: another checksum) is one trial.
    again = replace(later, metadata=replace(later.metadata, model_sha256="e" * 64))
    for candidate in (later, earlier, again):
        store.record_trial("m", *trial_key_and_record(candidate))
    records = recorded_trials(store, "m")
    assert [r["model_sha256"][0] for r in records] == ["b", "e"]
    assert records[0]["parent"] == PARENT and records[0]["reasons"] == ["not above 0"]
    rows = trial_rows(store, "m", PARENT["model_sha256"])
    assert len(rows) == 2 and all(r["trial"] and not r["published"] for r in rows)
    assert rows[0]["versus_parent"]["difference"] == 0.0031
    # Trials of another parent are not this one's; a run resumed does not precede itself.
    assert trial_rows(store, "m", "d" * 64) == []
    assert [r["run"] for r in trial_rows(store, "m", PARENT["model_sha256"], "run-c")] == ["run-b"]
    # Beside the versions, never one of them.
    assert store.versions("m") == []


def test_only_a_continued_run_that_lost_is_a_trial() -> None:
    with pytest.raises(ValueError, match="beat its parent"):
        trial_key_and_record(_candidate("2026-12-06T18:00:00+00:00", "b" * 64, publish=True))
    with pytest.raises(ValueError, match="not a trial"):
        trial_key_and_record(ModelVersion("m", "1", Path("m/1"), METADATA))
