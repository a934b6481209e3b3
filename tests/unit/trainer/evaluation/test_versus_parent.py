"""The publishing rule of a continued version: a paired lesion bootstrap against its parent."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from skinscan_model.store import DEFAULT_MODEL_NAME
from trainer.evaluation.metrics import roc_auc
from trainer.evaluation.versus_parent import (
    HeldOutScores,
    compare_with_parent,
    format_comparison,
    is_published,
    paired_auc_difference,
)

SOURCES = ("isic", "ham10000")


def _scores(rng: np.random.Generator, positives: np.ndarray, noise: float) -> np.ndarray:
    """A model whose scores separate the classes by 1 with Gaussian noise of this size."""
    return 1 / (1 + np.exp(-(positives.astype(float) - 0.5 + rng.normal(0, noise, len(positives)))))


def _held_out(
    child_noise: tuple[float, float], parent_noise: float, seed: int = 0
) -> HeldOutScores:
    """400 images per source (a quarter malignant), two per lesion; the child's noise per source."""
    rng = np.random.default_rng(seed)
    positives = np.tile(np.arange(400) % 4 == 0, 2)
    sources = np.repeat([0, 1], 400)
    groups = np.arange(800) // 2
    shared = rng.normal(0, parent_noise, 800)  # what both models get wrong alike
    parent = 1 / (1 + np.exp(-(positives - 0.5 + shared)))
    child = np.empty(800)
    for index, noise in enumerate(child_noise):
        mine = sources == index
        # The child: the parent's errors, shrunk by its noise factor (<1: better).
        child[mine] = 1 / (1 + np.exp(-(positives[mine] - 0.5 + noise * shared[mine])))
    return HeldOutScores(positives, child, parent, groups, sources, SOURCES)


def test_the_same_model_is_not_published() -> None:
    scores = _held_out((1.0, 1.0), 0.8)
    comparison = compare_with_parent(scores, 0.5, 0.5, resamples=200)
    assert comparison["pooled"]["difference"] == 0
    assert comparison["pooled"]["ci95"] == [0.0, 0.0]
    assert not comparison["publish"]
    assert "does not lie above 0" in comparison["reasons"][0]


def test_a_child_better_on_every_source_is_published() -> None:
    comparison = compare_with_parent(_held_out((0.6, 0.6), 0.8), 0.5, 0.5, resamples=300)
    assert comparison["publish"], comparison["reasons"]
    assert comparison["pooled"]["ci95"][0] > 0
    assert set(comparison["by_source"]) == set(SOURCES)
    assert all(r["difference"] > 0 for r in comparison["by_source"].values())


def test_a_pooled_gain_that_hides_a_loss_on_one_source_is_not_published() -> None:
    comparison = compare_with_parent(_held_out((0.1, 1.2), 0.8), 0.5, 0.5, resamples=300)
    assert comparison["pooled"]["ci95"][0] > 0  # better pooled...
    assert not comparison["publish"]  # ...but worse on HAM10000 beyond its noise
    assert len(comparison["reasons"]) == 1 and comparison["reasons"][0].startswith("ham10000")


def test_the_paired_interval_is_narrower_than_two_separate_ones() -> None:
    scores = _held_out((0.8, 0.8), 0.8)
    paired = paired_auc_difference(
        scores.positives, scores.child, scores.parent, scores.groups, resamples=300
    )
    rng = np.random.default_rng(1)
    separate = []
    for _ in range(300):  # each model's AUC on its own draw, as two reported intervals imply
        a, b = rng.integers(0, 800, 800), rng.integers(0, 800, 800)
        separate.append(
            roc_auc(scores.positives[a], scores.child[a])
            - roc_auc(scores.positives[b], scores.parent[b])
        )
    low, high = np.percentile(separate, [2.5, 97.5])
    assert paired["ci95"][1] - paired["ci95"][0] < (high - low) / 2


def test_images_of_one_lesion_are_drawn_together() -> None:
    """Copies of each image in its own lesion add no evidence: the interval stays as wide."""
    base = _held_out((0.8, 0.8), 0.8)
    alone = paired_auc_difference(
        base.positives, base.child, base.parent, np.arange(800), resamples=400
    )
    copies = 4
    positives, child, parent = (
        np.tile(a, copies) for a in (base.positives, base.child, base.parent)
    )
    grouped = paired_auc_difference(
        positives, child, parent, np.tile(np.arange(800), copies), resamples=400
    )
    independent = paired_auc_difference(
        positives, child, parent, np.arange(800 * copies), resamples=400
    )

    def width(report: dict) -> float:
        return float(report["ci95"][1] - report["ci95"][0])

    assert width(grouped) == pytest.approx(width(alone), rel=0.25)
    assert width(independent) < 0.7 * width(alone)
    assert grouped["lesions"] == 800 and grouped["images"] == 3200


def test_scores_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different numbers of images"):
        HeldOutScores(
            np.zeros(3, bool), np.zeros(3), np.zeros(2), np.zeros(3), np.zeros(3), SOURCES
        )


def test_the_card_shows_every_source_and_the_reasons() -> None:
    comparison = compare_with_parent(_held_out((0.1, 1.2), 0.8), 0.5, 0.4, resamples=100)
    lines = format_comparison(comparison, "skinscan-resnet50 version 3", "validation")
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 4  # header, all sources, each source
    assert table[1].startswith("| all sources: 800 (200 malignant)")
    assert any(line.startswith("- ham10000") for line in lines)
    assert "Not better than its parent" in "\n".join(lines)


def test_a_version_that_did_not_beat_its_parent_goes_beside_the_checkpoints(
    tmp_path: Path,
) -> None:
    from trainer.config import TrainConfig
    from trainer.finalize import CANDIDATES, _repository

    def trained(checkpoints: Path | None) -> Any:
        config = TrainConfig(
            data=(Path("data"),), out=tmp_path / "models", checkpoint_dir=checkpoints
        )
        return SimpleNamespace(config=config)

    assert _repository(trained(tmp_path / "runs"), True) == tmp_path / "models"
    assert _repository(trained(tmp_path / "runs"), False) == tmp_path / "runs" / CANDIDATES
    # Without checkpoints, where they would have gone.
    assert _repository(trained(None), False) == Path("runs") / DEFAULT_MODEL_NAME / CANDIDATES


def test_only_a_compared_version_that_lost_reads_as_not_published() -> None:
    def metadata(metrics: dict[str, Any]) -> Any:
        return SimpleNamespace(metrics=metrics)

    assert is_published(metadata({}))  # a first version, or one built with --init-from alone
    assert is_published(metadata({"versus_parent": {"publish": True}}))
    assert not is_published(metadata({"versus_parent": {"publish": False}}))
