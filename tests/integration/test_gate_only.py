"""`skinscan train --gate-only`: a version that is its parent plus an acquisition gate.

A tiny network is trained on real isic-binary images; the next version keeps
it whole and fits the gate on real acral dermoscopy (two institutions) and real
negatives of every kind. The decision must not move; the gate must be in the
graph, its level and its leave-one-out report in the metadata and the card.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from skinscan_model.acquisition import ACQUISITION_CLASSES
from skinscan_model.store import LocalModelStore
from tests.conftest import TINY_RUN, link_isic_subset, run_cli, train_tiny
from trainer.data.acquisition_data import GATE_SPLIT_FILE
from trainer.data.made_negatives import MADE_KINDS
from trainer.export.graph import onnx_outputs
from trainer.network.model import ACQUISITION_OUTPUT

pytestmark = pytest.mark.integration

# Imperial College London reaches the 100 images that make an institution a left-out row.
INSTITUTIONS = {"Imperial College London": 104, "International Dermoscopy Society": 24}
NEGATIVES_PER_SOURCE = 12


def _link_acral(acral: Path, root: Path) -> Path:
    with (acral / "metadata.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    chosen = [
        row
        for institution, count in INSTITUTIONS.items()
        for row in [r for r in rows if r["institution"] == institution][:count]
    ]
    (root / "images").mkdir(parents=True)
    for row in chosen:
        name = f"{row['image_id']}.jpg"
        (root / "images" / name).symlink_to(acral / "images" / name)
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields or [])
        writer.writeheader()
        writer.writerows(chosen)
    return root


def _link_negatives(negatives: Path, root: Path) -> Path:
    """The first images of two sources of each kind (one where a kind has one)."""
    with (negatives / "metadata.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    chosen = []
    for kind in sorted({r["kind"] for r in rows}):
        for source in sorted({r["source"] for r in rows if r["kind"] == kind})[:2]:
            mine = [r for r in rows if r["kind"] == kind and r["source"] == source]
            chosen += mine[:NEGATIVES_PER_SOURCE]
    for row in chosen:
        target = root / row["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(negatives / row["file"])
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields or [])
        writer.writeheader()
        writer.writerows(chosen)
    return root


@pytest.fixture(scope="module")
def gate_data(
    isic_train: Path,
    acral: Path,
    not_dermoscopy_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, ...]:
    root = tmp_path_factory.mktemp("gate-data")
    (root / "isic").mkdir()
    return (
        link_isic_subset(isic_train, root / "isic", 24),
        _link_acral(acral, root / "acral"),
        _link_negatives(not_dermoscopy_data, root / "negatives"),
    )


def test_the_gate_is_fitted_on_a_kept_network_and_reported_left_out_by_left_out(
    gate_data: tuple[Path, ...], tmp_path: Path
) -> None:
    isic, acral, negatives = gate_data
    parent = train_tiny((isic,), tmp_path)
    result = run_cli(
        "train",
        "--init-from",
        parent.path,
        "--data",
        isic,
        "--gate-dermoscopy",
        acral,
        "--negatives",
        negatives,
        "--gate-only",
        "--gate-draws",
        "1",
        "--gate-made",
        "8",
        "--out",
        tmp_path,
        *TINY_RUN,
        "--no-checkpoints",
    )
    assert result.returncode == 0, result.stderr
    child = LocalModelStore(tmp_path).fetch("tiny", "2")
    metadata = child.metadata
    # The decision is the parent's, bit for bit: same graph path, same int8 tensors.
    parity = metadata.metrics["parent_parity"]
    assert parity["decision_agreement"] == 1.0 and parity["max_probability_difference"] == 0.0
    assert metadata.decision_threshold == parent.metadata.decision_threshold
    assert metadata.training["lineage"]["trained"] == "acquisition gate"
    pixels = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    ours = onnx_outputs(child.onnx_path, pixels, ("probabilities", ACQUISITION_OUTPUT))
    theirs = onnx_outputs(parent.onnx_path, pixels, ("probabilities",))
    assert np.array_equal(ours["probabilities"], theirs["probabilities"])
    gate = ours[ACQUISITION_OUTPUT]
    assert gate.shape == (6, len(ACQUISITION_CLASSES))
    assert np.allclose(gate.sum(axis=1), 1, atol=1e-4)
    # Its level, its rates on the served graph, and every row left out in turn.
    assert metadata.acquisition_level is not None and 0 < metadata.acquisition_level <= 0.5
    report = metadata.metrics["acquisition"]
    assert report["level"] == metadata.acquisition_level
    assert {"acral: Imperial College London", "clinical/facial-acne"} <= set(report["validation"])
    left_out = {(row["what"], row["left_out"]) for row in report["leave_one_out"]}
    assert {
        ("collection", "acral"),
        ("collection", isic.name),
        ("institution", "acral: Imperial College London"),
        *(
            ("kind", kind)
            for kind in ("clinical", "skin", "medical", "everyday", "document", "made")
        ),
    } <= left_out
    for row in report["leave_one_out"]:
        assert ("pass_rate" in row) != ("refusal_rate" in row) and row["images"] > 0
    # The made negatives are fitted and measured like the real ones, each kind its own row.
    made = {f"made/{kind}" for kind in MADE_KINDS}
    assert made <= set(report["validation"]) | set(report["test"])
    with (child.path / GATE_SPLIT_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    made_rows = [row for row in rows if row["kind"] == "made"]
    assert len(made_rows) == 8 * len(MADE_KINDS)
    assert {row["root"] for row in made_rows} == {"trainer.data.made_negatives seed 0"}
    assert all(not Path(row["path"]).is_absolute() for row in rows)
    card = (child.path / "MODEL_CARD.md").read_text()
    assert "## What it judges: the acquisition gate" in card
    assert "| acral: Imperial College London | institution |" in card
