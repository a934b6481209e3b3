"""Model card sections for what a version inherited and what it refuses: lineage, the
out-of-distribution score per source, the heat-map check, the quality gate per source."""

from __future__ import annotations

from typing import Any

from skinscan_model.metadata import ModelMetadata
from trainer.evaluation.heatmap_check import SHEET_IMAGES
from trainer.evaluation.versus_parent import format_comparison
from trainer.training.recipe import describe_recipe

__all__ = [
    "curve_lines",
    "heatmap_lines",
    "lineage_lines",
    "ood_lines",
    "quality_by_source_lines",
    "short_source",
]


def _parent(metadata: ModelMetadata, parent: dict[str, Any]) -> str:
    return (
        f"**{metadata.name} version {parent['version']}** ({parent['precision']}, SHA-256 "
        f"`{parent['model_sha256'][:16]}…`), rebuilt from its ONNX graph (`--init-from`)"
    )


def lineage_lines(metadata: ModelMetadata) -> list[str]:
    """Where this version came from: its parent, what was kept, what was trained, at what cost."""
    lineage = metadata.training.get("lineage")
    if not lineage:
        return []
    if lineage.get("kind") == "continued":
        return _continued_lines(metadata, lineage)
    parent = lineage["parent"]
    parity = metadata.metrics.get("parent_parity", {})
    rates = lineage.get("images_per_second", {})
    training = metadata.training
    lines = [
        "",
        "## Lineage",
        "",
        f"- Parent: {_parent(metadata, parent)}.",
        f"- Kept: {lineage['kept']}.",
    ]
    if "trained_on" in lineage:
        lines += [
            f"- Trained on top: {lineage['trained']}, on {lineage['trained_on']}, from features "
            f"of the frozen network computed once per augmentation draw "
            f"({lineage['feature_draws']} draws, {lineage['feature_cache_mib']} MiB in fp16).",
            f"- Cost: {lineage['feature_seconds']:.0f} s for the frozen features "
            f"({rates.get('frozen_front', 0):.1f} images/s), {training.get('seconds', 0):.0f} s "
            f"of training epochs ({rates.get('trained_part', 0):.0f} images/s through the trained "
            f"part), {training.get('wall_seconds_this_run', 0) / 60:.0f} min from the start of "
            f"the run to the export, on {training.get('hardware', '?')}.",
        ]
    else:
        # --gate-only: nothing but the gate is trained; its cost is in the gate's section.
        lines.append(
            f"- Trained on top: {lineage['trained']} only (its cost is in the gate's section), "
            f"{training.get('wall_seconds_this_run', 0) / 60:.0f} min from the start of the run "
            f"to the export, on {training.get('hardware', '?')}."
        )
    lines.append(f"- Split: kept from `{lineage['split_from']}`.")
    if parity:
        lines.append(
            f"- Same decisions as the parent: on {parity['images']} held-out images the two "
            f"served graphs decide alike for {parity['decision_agreement']:.2%} of them "
            f"(|malignant probability difference| mean {parity['mean_probability_difference']:.4f}, "
            f"max {parity['max_probability_difference']:.4f}; the parent's int8 quantization is "
            "kept wherever the graphs share a module)."
        )
    return lines


def short_source(source: str) -> str:
    """A source's folder as a column heading: `../shared/data/ham10000` -> `ham10000`."""
    parts = [p for p in source.split("/") if p not in ("", "train", "..")]
    return parts[-1] if parts else source


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _published(row: dict[str, Any]) -> str:
    """Whether a row's run was published, and its pooled difference from its parent."""
    verdict = "yes" if row.get("published", True) else "no"
    versus = row.get("versus_parent")
    if not versus:
        return verdict
    low, high = versus["ci95"]
    return f"{verdict}: {versus['difference']:+.4f} [{low:+.4f}, {high:+.4f}]"


def curve_lines(curve: list[dict[str, Any]]) -> list[str]:
    """Validation ROC-AUC per source against the training minutes spent so far."""
    sources = [name for name in curve[-1]["roc_auc"] if name != "all sources"]
    incomplete = any(not row.get("cumulative_complete", True) for row in curve)
    trials = any(row.get("trial") for row in curve)
    lines = [
        "",
        "### Validation ROC-AUC against training time, version by version",
        "",
        "| version | trained | minutes | cumulative minutes | all sources | "
        + " | ".join(short_source(s) for s in sources)
        + " | diagnosis, balanced accuracy | published: pooled difference from its parent "
        "[95% CI] |",
        "|---|---|---|---|---|" + "---|" * len(sources) + "---|---|",
    ]
    for row in curve:
        aucs = row["roc_auc"]
        values = [aucs.get("all sources"), *(aucs.get(s) for s in sources)]
        trained = row["trained"] + (
            f"; {describe_recipe(row['recipe'])}" if row.get("recipe") else ""
        )
        cumulative = f"{row['cumulative_minutes']:.1f}" + (
            "" if row.get("cumulative_complete", True) else "+"
        )
        lines.append(
            f"| {row['version'] or ('trial' if row.get('trial') else 'this')} | {trained} | "
            f"{row['minutes']:.1f} | "
            f"{cumulative} | "
            + " | ".join("-" if v is None else f"{v:.4f}" for v in values)
            + f" | {_or_dash(row.get('diagnosis_balanced_accuracy'))}"
            + f" | {_published(row)} |"
        )
    if trials:
        lines += [
            "",
            "A trial: a run from the same parent that did not beat it, so it was not published "
            "(its record is kept under the repository's `trials/`); the versions after it do not "
            "count its minutes.",
        ]
    if incomplete:
        lines += [
            "",
            "A `+`: the versions before continued training recorded only their own run's "
            "minutes, so the count starts there (docs/model-lineage.md has the whole history).",
        ]
    return lines


def _continued_lines(metadata: ModelMetadata, lineage: dict[str, Any]) -> list[str]:
    parent = lineage["parent"]
    training = metadata.training
    lines = [
        "",
        "## Lineage",
        "",
        f"- Parent: {_parent(metadata, parent)}; its "
        f"{lineage['renormalized_batchnorm_layers']} folded BatchNorm "
        "layers were given back the statistics of their inputs, so it trained as the "
        "BatchNorm network it was.",
        f"- Trained: {lineage['trained']}; {describe_recipe(lineage['recipe'])}.",
        f"- Cost: {lineage['minutes']:.1f} min of training, "
        f"{training.get('wall_seconds_this_run', 0) / 60:.0f} min from the start of the run to "
        f"the export, on {training.get('hardware', '?')}.",
        f"- Split: kept from `{lineage['split_from']}`.",
    ]
    comparison = metadata.metrics.get("versus_parent")
    if comparison:
        lines += ["", "### Against its parent", ""]
        lines += format_comparison(comparison, comparison["parent"], "validation")
    if lineage.get("curve"):
        lines += curve_lines(lineage["curve"])
    return lines


def ood_lines(ood: dict[str, Any]) -> list[str]:
    """How the out-of-distribution level was set and what it lets through, per source."""
    components = "/".join(str(c) for c in ood["components"])
    lines = [
        f"- Not dermoscopy: {ood['method']} ({components} components, fitted on "
        f"{ood['fitted_on_images']} training images). Refusal level {ood['threshold']:.2f}: the "
        f"highest per-source {ood['threshold_quantile']:.0%} quantile of the validation scores"
        + (
            f", times {ood['left_out_margin']:.2f} so that a source the statistics never saw "
            "still passes (below)"
            if ood.get("left_out_margin", 1.0) > 1.0
            else ""
        )
        + f". {ood['validation_pass_rate']:.1%} of {ood['validation_images']} validation and "
        f"{ood['training_pass_rate']:.1%} of the training images pass.",
    ]
    for part in ("validation", "test"):
        by_source = ood.get(part) or {}
        if by_source:
            rates = "; ".join(
                f"{source} {r['pass_rate']:.1%} of {r['images']}" for source, r in by_source.items()
            )
            lines.append(f"  - Dermoscopy passing, {part}: {rates}.")
    for check in ood.get("leave_one_source_out", []):
        lines.append(
            f"  - Fitted on {check['fitted_on']} alone, at its own level: "
            f"{check['pass_rate_at_own_level']:.1%} of {check['images']} {check['left_out']} "
            f"validation images pass; a factor of {check['margin_for_97_percent']:.2f} on the "
            "level lets 97% pass."
        )
    return lines


def heatmap_lines(heatmap: dict[str, Any]) -> list[str]:
    if not heatmap:
        return []
    lines = [
        f"- Heat map: its peak lies on the lesion for {heatmap['peak_on_lesion_rate']:.1%} of "
        f"{heatmap['images']} validation images ({heatmap['method']})."
    ]
    for source, report in heatmap.get("by_source", {}).items():
        lines.append(f"  - {source}: {report['peak_on_lesion_rate']:.1%} of {report['images']}.")
    lines.append(f"  Overlays of {SHEET_IMAGES} validation images: `heatmaps.png`.")
    return lines


def quality_by_source_lines(assessability: dict[str, Any] | None) -> list[str]:
    by_source = (assessability or {}).get("held_out_dermoscopy", {}).get("by_source", {})
    if not by_source:
        return []
    rates = "; ".join(
        f"{source} {1 - r['pass_rate']:.1%} of {r['images']} ({r['reasons'] or 'none'})"
        for source, r in by_source.items()
    )
    return [f"- Validation dermoscopy refused, by source (all reasons): {rates}."]
