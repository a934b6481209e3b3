"""The lineage curve: validation ROC-AUC per source against cumulative training minutes, version
by version, with the runs tried from a version that were not published.

A continued version carries its curve in its lineage (trainer.continue_training) and its model
card shows it (trainer.card.card_sections). But a card is fixed when its version is published (the
version every result names is the one whose card was reviewed), so the runs tried from the
served version reach no card until one of them beats it, and issue 27 asks for the curve exactly
where it flattens: when none does. The repository's curve page, `<model>/CURVE.md` beside the
versions, carries the served version's curve and every trial recorded from it since. It is
rewritten whenever a folder repository gains a version or a trial; `skinscan models curve`
prints it for any repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinscan_model.metadata import ModelMetadata
from skinscan_model.store import LocalModelStore, ModelStore, write_whole
from skinscan_model.trials import trial_rows
from trainer.card.card_sections import curve_lines, short_source

__all__ = [
    "CURVE_PAGE",
    "cumulative_minutes",
    "parent_curve",
    "refresh_curve_page",
    "render_curve_page",
    "validation_figures",
]

CURVE_PAGE = "CURVE.md"


def validation_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """A version's row figures for the lineage curve, from its evaluations (or metrics, which
    hold them): validation ROC-AUC pooled and per source, the diagnosis head's balanced
    accuracy (None without one)."""
    by_source = metrics.get("by_source", {}).get("validation", {})
    diagnosis = metrics.get("diagnosis", {}).get("validation", {}).get("balanced_accuracy", {})
    return {
        "roc_auc": {
            "all sources": metrics.get("validation", {}).get("roc_auc", {}).get("value"),
            **{name: entry["roc_auc"]["value"] for name, entry in by_source.items()},
        },
        "diagnosis_balanced_accuracy": diagnosis.get("value"),
    }


def cumulative_minutes(parent: ModelMetadata) -> tuple[float, bool]:
    """Training minutes up to and including the parent, and whether every ancestor's are in.

    Versions before this kind of run recorded only their own run's time."""
    lineage = parent.training.get("lineage") or {}
    if "cumulative_minutes" in lineage:
        return float(lineage["cumulative_minutes"]), bool(lineage.get("cumulative_complete", True))
    own = parent.training.get("wall_seconds_this_run", 0.0) / 60
    return own, not lineage


def parent_curve(version: str, metadata: ModelMetadata) -> list[dict[str, Any]]:
    """The validation curve up to a version: its recorded one (whose last row is the version
    itself, numbered now), or one row made from the version's own record."""
    lineage = metadata.training.get("lineage") or {}
    if "curve" in lineage:
        rows = [dict(row) for row in lineage["curve"]]
        rows[-1]["version"] = version
        # Rows written before the curve carried it get it from the version's own metrics.
        rows[-1].setdefault(
            "diagnosis_balanced_accuracy",
            validation_figures(metadata.metrics)["diagnosis_balanced_accuracy"],
        )
        return rows
    minutes, complete = cumulative_minutes(metadata)
    return [
        {
            "version": version,
            "trained": lineage.get("trained", "whole network"),
            "minutes": round(metadata.training.get("wall_seconds_this_run", 0.0) / 60, 1),
            "cumulative_minutes": round(minutes, 1),
            "cumulative_complete": complete,
            "hardware": metadata.training.get("hardware", ""),
            **validation_figures(metadata.metrics),
        }
    ]


def _differences(trials: list[dict[str, Any]], served: dict[str, Any], source: str) -> list[float]:
    base = served["roc_auc"].get(source)
    return [
        row["roc_auc"][source] - base
        for row in trials
        if base is not None and row["roc_auc"].get(source) is not None
    ]


def _where_it_stands(version: str, served: dict[str, Any], trials: list[dict[str, Any]]) -> str:
    """What the trials from the served version came to, in a few sentences."""
    if not trials:
        return (
            f"No run trained on from version {version} has been recorded yet: the curve ends at it."
        )
    minutes = sum(row["minutes"] for row in trials)
    compared = [row for row in trials if row.get("versus_parent")]
    text = (
        f"{len(trials)} run(s) trained on from version {version} since it was published, "
        f"{minutes:.0f} minutes in all, none of them published; each starts again from version "
        f"{version}, so their minutes do not add up."
    )
    if compared:
        best = max(compared, key=lambda row: row["versus_parent"]["difference"])
        low, high = best["versus_parent"]["ci95"]
        above = sum(1 for row in compared if row["versus_parent"]["ci95"][0] > 0)
        text += (
            f" Pooled validation ROC-AUC against version {version}: the best run "
            f"{best['versus_parent']['difference']:+.4f} (95% interval {low:+.4f} to "
            f"{high:+.4f}); "
            + (
                "no run's interval lies above 0, so at these budgets the curve has not moved "
                f"beyond its noise from version {version}."
                if not above
                else f"{above} run(s) above 0 pooled were held back by a source that fell by "
                "more than its noise."
            )
        )
    spans = []
    for source in served["roc_auc"]:
        differences = _differences(trials, served, source)
        if source != "all sources" and differences:
            spans.append(
                f"{short_source(source)} {min(differences):+.4f} to {max(differences):+.4f}"
            )
    if spans:
        text += f" Per source, the runs against version {version}: " + "; ".join(spans) + "."
    return text


def render_curve_page(store: ModelStore, name: str) -> str | None:
    """The curve page of a model's repository, or None when it holds no version."""
    versions = store.versions(name)
    if not versions:
        return None
    version = versions[-1]
    metadata = store.metadata(name, version)
    rows = parent_curve(version, metadata)
    trials = trial_rows(store, name, metadata.model_sha256)
    return (
        "\n".join(
            [
                f"# {name}: validation ROC-AUC against training time",
                "",
                f"The served version, {version}, with the versions it descends from and every "
                "run trained on from it that did not beat it (its record under `trials/`). "
                f"Version {version}'s model card (`{version}/MODEL_CARD.md`) is as it was "
                "published; this page grows with each run. Written from the repository "
                "(`skinscan models curve --write`): not edited by hand.",
                "",
                _where_it_stands(version, rows[-1], trials),
                *curve_lines(rows + trials),
            ]
        )
        + "\n"
    )


def refresh_curve_page(store: ModelStore, name: str) -> Path | None:
    """Rewrites a folder repository's curve page for the model; returns where, or None for a
    repository that keeps no page (S3: `skinscan models curve` prints it) or no version."""
    if not isinstance(store, LocalModelStore):
        return None
    text = render_curve_page(store, name)
    if text is None:
        return None
    target = store.root / name / CURVE_PAGE
    write_whole(target, text)
    return target
