"""The model card's account of the acquisition gate: its level, its rates, every left-out row."""

from __future__ import annotations

from typing import Any

__all__ = ["gate_lines"]


def _measured(row: dict[str, Any]) -> tuple[str, str]:
    """(passing or refused, refused with its own reason) as the table prints them."""
    if "pass_rate" in row:
        return f"{row['pass_rate']:.1%} pass", ""
    return f"{row['refusal_rate']:.1%} refused", f"{row['own_reason_rate']:.1%}"


def _rates_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| source | class | validation images | validation | own reason | test images | test | "
        "own reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    validation, test = report.get("validation", {}), report.get("test", {})
    for source in sorted(set(validation) | set(test)):
        cells = [source, (validation.get(source) or test[source])["class"]]
        for part in (validation, test):
            row = part.get(source)
            cells += [str(row["images"]), *_measured(row)] if row else ["0", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _left_out_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| left out | what | images | result | own reason | level |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        result, own = _measured(row)
        lines.append(
            f"| {row['left_out']} | {row['what']} | {row['images']} | {result} | {own} | "
            f"{row['level']:.4f} |"
        )
    return lines


def _ood_lines(ood: dict[str, Any]) -> list[str]:
    verdict = (
        "kept beside the head"
        if ood["kept"]
        else "retired (its output stays in the graph, unread by the services)"
    )
    lines = [
        "",
        f"The Mahalanobis out-of-distribution score at its level {ood['ood_threshold']:.2f}, on "
        f"top of the head: **{verdict}**. It stays only where it refuses more negatives while at "
        "most 1% of each collection's validation dermoscopy and at most 2% of the dermoscopy its "
        "statistics never saw are refused by the two together.",
        "",
        "| measure | head alone | head and score |",
        "|---|---|---|",
    ]
    for name, row in ood["rows"].items():
        extra = (
            f" ({row['refused_by_ood_alone']} more refused by the score)"
            if "refused_by_ood_alone" in row
            else ""
        )
        lines.append(f"| {name} | {row['head']:.1%} | {row['head_and_ood']:.1%}{extra} |")
    return lines


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    if not gate:
        return []
    fitting = gate["fitting"]
    lines = [
        "",
        "## What it judges: the acquisition gate",
        "",
        "skinscan judges dermoscopic images only. A head in the graph gives the probability "
        "that an image is dermoscopy, a clinical photograph of skin (taken without a "
        "dermatoscope), or something else; under a dermoscopy probability of "
        f"**{gate['level']:.4f}** the image is refused, as a clinical photograph "
        "(`clinical_photograph`: take it through a dermatoscope) or as no picture of skin "
        f"(`not_skin`). Method: {gate['method']}. Fitted on {fitting['training_images']} "
        f"training images x {fitting['augmentation_draws']} augmentation draws "
        f"({fitting['features']} features, {fitting['feature_seconds']:.0f} s of feature "
        f"extraction at {fitting['images_per_second']:.0f} images/s, "
        f"{fitting['seconds'] / 60:.1f} min in all with the refits below).",
        "",
        "The served graph, on the gate's validation and test images (never trained on):",
        "",
        *_rates_table(gate),
        "",
        "Left out in turn: the gate refitted without a dermoscopy collection or institution "
        "(with 100 images or more), a kind of negative, or a source of negatives, its level "
        "set on the rest, and measured on every image of what it never saw (PyTorch, the "
        "frozen network's features):",
        "",
        *_left_out_table(gate["leave_one_out"]),
    ]
    if "ood" in gate:
        lines += _ood_lines(gate["ood"])
    return lines
