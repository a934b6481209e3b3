"""The model card's lineage curve: versions, the trials between them, and this version."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from skinscan_model.metadata import InputSpec, ModelMetadata
from trainer.card.card_sections import lineage_lines
from trainer.training.recipe import describe_recipe

RECIPE = {"learning_rate": 1e-4, "batch_size": 32, "balance_sources": True, "precision": "bf16"}


def _row(version: str | None, auc: float, **extra: Any) -> dict[str, Any]:
    return {
        "version": version,
        "trained": "the whole network",
        "minutes": 70.0,
        "cumulative_minutes": 100.0,
        "roc_auc": {"all sources": auc, "../shared/data/ham10000": auc - 0.05},
        "diagnosis_balanced_accuracy": 0.6,
        **extra,
    }


def test_the_curve_shows_the_trials_from_the_parent_before_this_version() -> None:
    versus = {"difference": 0.0031, "ci95": [-0.0132, 0.0208]}
    lineage = {
        "kind": "continued",
        "parent": {"name": "m", "version": "3", "model_sha256": "a" * 64, "precision": "int8"},
        "renormalized_batchnorm_layers": 53,
        "trained": "the whole network",
        "recipe": RECIPE,
        "minutes": 70.0,
        "split_from": "models/m/3/split.csv",
        "curve": [
            _row("3", 0.866),
            _row(None, 0.8692, trial=True, published=False, recipe=RECIPE, versus_parent=versus),
            _row(
                None,
                0.89,
                published=True,
                versus_parent={"difference": 0.024, "ci95": [0.007, 0.041]},
            ),
        ],
    }
    metadata = ModelMetadata(
        name="m",
        labels=("benign", "malignant"),
        positive_label="malignant",
        decision_threshold=0.4,
        input=InputSpec(size=128),
    )
    lines = lineage_lines(replace(metadata, training={"lineage": lineage}))
    table = [line for line in lines if line.startswith("| ")]
    assert "| ham10000 |" in table[0]
    parent, trial, this = table[1:]
    assert parent.startswith("| 3 |") and parent.endswith("| yes |")
    assert trial.startswith("| trial | the whole network; lr 0.0001, batch 32, balanced sources")
    assert trial.endswith("| no: +0.0031 [-0.0132, +0.0208] |")
    assert this.startswith("| this |") and "| 0.8900 | 0.8400 |" in this
    assert this.endswith("| yes: +0.0240 [+0.0070, +0.0410] |")
    assert any(line.startswith("A trial: a run from the same parent") for line in lines)


def test_a_recipe_names_the_input_size_it_trained_at() -> None:
    """Rows recorded before runs could change the size carry none, and say nothing of it."""
    assert describe_recipe({**RECIPE, "image_size": 160}).startswith(
        "lr 0.0001, batch 32, 160 px, balanced sources"
    )
    assert " px" not in describe_recipe(RECIPE)


def test_a_recipe_says_when_mixes_with_the_parent_were_tried() -> None:
    assert "mixes with the parent's weights tried (WiSE-FT)" in describe_recipe(
        {**RECIPE, "mix_with_parent": True}
    )
    assert "WiSE-FT" not in describe_recipe(RECIPE)
