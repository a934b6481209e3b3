"""`skinscan train --init-from`: a version built on another, training only what is new, in seconds.

A tiny network is trained on isic-binary alone (no diagnosis), then a second
version starts from its exported graph and adds a diagnosis branch and head
from HAM10000, and a third starts from the second: each keeps its parent's
decisions and split, and records where it came from.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.store import LocalModelStore
from tests.conftest import TINY_RUN, run_cli, train_tiny
from trainer.export.graph import onnx_outputs

pytestmark = pytest.mark.integration

COMMON = (*TINY_RUN, "--no-checkpoints")


@pytest.fixture(scope="module")
def parent(lineage_sources: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 1: the decision alone, int8, from isic-binary."""
    repository = tmp_path_factory.mktemp("repository")
    version = train_tiny((lineage_sources[0],), repository)
    assert version.metadata.precision == "int8"
    assert not version.metadata.diagnoses
    return repository


def _parts(path: Path, source: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {r["path"]: r["split"] for r in rows if r.get("source", str(source)) == str(source)}


def test_a_diagnosis_branch_is_trained_on_top_and_the_decision_is_kept(
    parent: Path, lineage_sources: tuple[Path, Path]
) -> None:
    isic, ham = lineage_sources
    result = run_cli(
        "train",
        "--init-from",
        f"{parent}/tiny/1",
        "--data",
        str(isic),
        "--data",
        str(ham),
        "--diagnosis-branch",
        "--feature-draws",
        "2",
        "--epochs",
        "3",
        # Served whatever their figures, so that the new outputs are read back below.
        "--min-diagnosis-accuracy",
        "0",
        "--min-heatmap-on-lesion",
        "0",
        "--out",
        str(parent),
        *COMMON,
    )
    assert result.returncode == 0, result.stderr
    assert "starting from tiny version 1" in result.stdout
    assert "frozen front: 2 augmentation draws" in result.stdout
    store = LocalModelStore(parent)
    first, second = store.fetch("tiny", "1"), store.fetch("tiny", "2")
    metadata = second.metadata
    assert metadata.diagnoses == DIAGNOSIS_CODES
    # The decision path, its temperature and its threshold are the parent's.
    assert metadata.decision_threshold == first.metadata.decision_threshold
    parity = metadata.metrics["parent_parity"]
    assert parity["parent"] == "tiny version 1"
    # The parent's int8 quantization is kept too, so the decision path computes as it did.
    assert parity["decision_agreement"] == 1.0 and parity["max_probability_difference"] < 1e-5
    lineage = metadata.training["lineage"]
    assert lineage["parent"]["version"] == "1"
    assert lineage["parent"]["model_sha256"] == first.metadata.model_sha256
    assert "diagnosis branch" in lineage["trained"]
    assert lineage["images_per_second"]["frozen_front"] > 0
    assert lineage["images_per_second"]["trained_part"] > 0
    # The branch is in the graph: a second copy of the last stage, read by the diagnosis head.
    names = [n.name for n in onnx.load(str(second.onnx_path)).graph.node]
    assert any(name.startswith("/diagnosis_stage") for name in names)
    # The parent's split is kept for the source it covered; the new source is split afresh.
    assert _parts(second.path / "split.csv", isic) == _parts(first.path / "split.csv", isic)
    assert "validation" in _parts(second.path / "split.csv", ham).values()
    card = (second.path / "MODEL_CARD.md").read_text()
    assert "tiny version 1" in card and "--init-from" in card
    assert "tiny version 1's, kept with its decision path" in card
    # Every new output: the diagnosis, the out-of-distribution score, the heat map.
    pixels = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    outputs = onnx_outputs(
        second.onnx_path,
        pixels,
        ("probabilities", "diagnosis_probabilities", "ood_score", "heatmap"),
    )
    assert outputs["diagnosis_probabilities"].shape == (2, len(DIAGNOSIS_CODES))
    assert "left_out_margin" in metadata.metrics["out_of_distribution"]
    assert "peak_on_lesion_rate" in metadata.metrics["heatmap"]
    assert (second.path / "heatmaps.png").is_file()
    by_source = metadata.metrics["assessability"]["held_out_dermoscopy"]["by_source"]
    assert set(by_source) == {str(isic), str(ham)}

    # Version 3 starts from version 2, branch and all.
    again = run_cli(
        "train",
        "--init-from",
        str(second.path),
        "--data",
        str(isic),
        "--data",
        str(ham),
        "--feature-draws",
        "1",
        "--epochs",
        "1",
        "--out",
        str(parent),
        *COMMON,
    )
    assert again.returncode == 0, again.stderr
    third = store.fetch("tiny", "3")
    assert third.metadata.training["lineage"]["parent"]["version"] == "2"
    # At the default levels a tiny network's diagnosis is not served, though its graph has it.
    assert third.metadata.diagnoses == ()
    assert "balanced accuracy" in third.metadata.metrics["withheld_outputs"]["diagnosis"]
    assert _parts(third.path / "split.csv", ham) == _parts(second.path / "split.csv", ham)
    written = json.loads((third.path / "metadata.json").read_text())
    assert written["metrics"]["parent_parity"]["decision_agreement"] >= 0.995


@pytest.mark.parametrize(
    ("parent_version", "sources_given", "message"),
    [("1", 1, "nothing new to train"), ("9", 1, "no version 9")],
    ids=["no diagnoses", "no such version"],
)
def test_a_run_that_cannot_start_says_why(
    parent: Path,
    lineage_sources: tuple[Path, Path],
    parent_version: str,
    sources_given: int,
    message: str,
) -> None:
    data = [arg for source in lineage_sources[:sources_given] for arg in ("--data", str(source))]
    result = run_cli(
        "train",
        "--init-from",
        f"{parent}/tiny/{parent_version}",
        *data,
        "--out",
        str(parent),
        *COMMON,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
