"""`skinscan models list` shows each version's lineage: its parent and what its run trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skinscan_cli.main import main
from skinscan_model.store import LocalModelStore
from tests.conftest import ROOT

SERVED = LocalModelStore(ROOT / "models").fetch("skinscan-resnet50").path


def _version(repository: Path, number: int, training: dict) -> None:
    folder = repository / "skinscan-resnet50" / str(number)
    folder.mkdir(parents=True)
    metadata = json.loads((SERVED / "metadata.json").read_text())
    metadata["training"] = training
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "model.onnx").write_bytes(b"not read by list")


def test_each_version_names_its_parent_and_what_it_trained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _version(tmp_path, 1, {"history": [{"epoch": 1}], "wall_seconds_this_run": 7200.0})
    lineage = {"parent": {"name": "skinscan-resnet50", "version": "1"}, "trained": "backbone"}
    _version(tmp_path, 2, {"history": [], "wall_seconds_this_run": 1500.0, "lineage": lineage})
    _version(tmp_path, 3, {})
    assert main(["models", "list", "--repository", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[7:9] == ["parent", "trained"]  # after "val AUC"
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "  -  " in rows["1"] and "whole network, 120 min" in rows["1"]
    assert "  1  " in rows["2"] and "backbone, 25 min" in rows["2"]
    assert rows["3"].split()[7:9] == ["-", "-"]  # after "128 px"


def test_the_curve_page_is_printed_and_written_on_demand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = ["--repository", str(tmp_path)]
    # Nothing to draw: said so, no traceback, nothing written.
    assert main(["models", "curve", *repository]) == 1
    assert f"{tmp_path} holds no version of skinscan-resnet50" in capsys.readouterr().err
    _version(tmp_path, 3, {"wall_seconds_this_run": 630.0})
    assert main(["models", "curve", *repository]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# skinscan-resnet50: validation ROC-AUC against training time")
    assert "\n| 3 | whole network | 10.5 | 10.5 | 0.8660 |" in printed
    page = tmp_path / "skinscan-resnet50" / "CURVE.md"
    assert not page.exists()
    assert main(["models", "curve", "--write", *repository]) == 0
    assert capsys.readouterr().out == f"wrote {page}\n" and page.read_text() == printed
