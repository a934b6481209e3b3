"""What a run that trains on from a version did differently: a row of the card's ablation table.

Issue 27 asks for what helps a decision carry across collections to be tried one change at a
time; each version records its recipe, and the card's curve shows them side by side.
"""

from __future__ import annotations

from typing import Any

from trainer.config import TrainConfig

__all__ = ["describe_recipe", "recipe"]


def recipe(config: TrainConfig, bf16: bool) -> dict[str, Any]:
    """What this run did differently from a plain continuation: the card's ablation row."""
    return {
        "budget_minutes": config.budget_minutes,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "balance_sources": config.balance_sources,
        "crop_scale": config.crop_scale,
        "colour_jitter": config.colour_jitter,
        "tone_jitter": config.tone_jitter,
        "label_smoothing": config.label_smoothing,
        "average_epochs": config.average_epochs,
        "freeze_stages": config.freeze_stages,
        "image_size": config.image_size,
        "mix_with_parent": config.mix_with_parent,
        "precision": "bf16 autocast" if bf16 else "fp32",
    }


def describe_recipe(entry: dict[str, Any]) -> str:
    """One line for a recipe: what the card's ablation table and the log show."""
    parts = [f"lr {entry['learning_rate']:g}, batch {entry['batch_size']}"]
    if entry.get("image_size"):
        parts.append(f"{entry['image_size']} px")
    if entry.get("balance_sources"):
        parts.append("balanced sources")
    if entry.get("crop_scale"):
        parts.append(f"random resized crops (area {entry['crop_scale']:g}-1, aspect 3/4-4/3)")
    parts.append(f"colour jitter {entry.get('colour_jitter', 0.15):g}")
    if entry.get("tone_jitter"):
        parts.append(f"tone curve {entry['tone_jitter']:g}")
    if entry.get("label_smoothing"):
        parts.append(f"label smoothing {entry['label_smoothing']:g}")
    if entry.get("freeze_stages"):
        parts.append(f"stem and first {entry['freeze_stages']} stage(s) frozen")
    if entry.get("average_epochs"):
        parts.append(f"weights of the last {entry['average_epochs']} epochs averaged")
    if entry.get("mix_with_parent"):
        parts.append("mixes with the parent's weights tried (WiSE-FT)")
    parts.append(entry.get("precision", "fp32"))
    return ", ".join(parts)
