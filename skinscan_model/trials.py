"""Trial records: a training run that did not beat the version it started from, kept.

Issue 27 asks for what helps a decision carry across collections to be tried one change at a
time and reported in the model card. A run that does not beat its parent leaves the
repository's versions as they were, and its candidate stays beside the checkpoints, which are
not kept; so its row of the lineage curve (recipe, minutes, validation ROC-AUC per source, the
difference from the parent with its interval) is recorded in the parent's repository, under
`<model>/trials/` (skinscan_model.store). The next version trained on from the same parent
carries those rows in its curve (trainer.card.trials), so its model card shows everything tried from
its parent, published or not; until then the repository's curve page shows them (trainer.card.curve),
and `skinscan models list` lists them.
"""

from __future__ import annotations

from typing import Any

from skinscan_model.store import ModelStore, ModelVersion

__all__ = ["recorded_trials", "trial_key_and_record", "trial_rows"]


def trial_key_and_record(candidate: ModelVersion) -> tuple[str, dict[str, Any]]:
    """A candidate's record and its key: its curve row, and the parent it did not beat.

    Raises ValueError for a version that is not a trial (not compared with a parent, or
    published)."""
    metadata = candidate.metadata
    lineage = metadata.training.get("lineage") or {}
    comparison = metadata.metrics.get("versus_parent")
    if lineage.get("kind") != "continued" or not comparison or not lineage.get("curve"):
        raise ValueError(
            f"{candidate.path} was not trained on from a parent and compared with it: it is not "
            "a trial (`skinscan train --init-from ... --budget-minutes N` makes them)"
        )
    if comparison["publish"]:
        raise ValueError(f"{candidate.path} beat its parent: it is a version, not a trial")
    pooled = comparison["pooled"]
    row = {
        **lineage["curve"][-1],
        "trial": True,
        "published": False,
        "versus_parent": {"difference": pooled["difference"], "ci95": pooled["ci95"]},
    }
    record = {
        "parent": lineage["parent"],
        "created_at": metadata.created_at,
        "model_sha256": metadata.model_sha256,
        "reasons": comparison["reasons"],
        "row": row,
    }
    # Keyed by the run (its settings, parent and data): the same run resumed or exported again
    # is one trial, not two.
    return str(lineage.get("run") or metadata.model_sha256[:16]), record


def recorded_trials(store: ModelStore, name: str) -> list[dict[str, Any]]:
    """Every trial record of the model, oldest first."""
    return sorted(store.trials(name), key=lambda record: str(record.get("created_at", "")))


def trial_rows(
    store: ModelStore, name: str, parent_sha256: str, but_run: str = ""
) -> list[dict[str, Any]]:
    """The curve rows of the trials recorded from the version with this model checksum, oldest
    first; but not those of the run `but_run` (a run resumed does not precede itself)."""
    return [
        record["row"]
        for record in recorded_trials(store, name)
        if record.get("parent", {}).get("model_sha256") == parent_sha256
        and (not but_run or record["row"].get("run") != but_run)
    ]
