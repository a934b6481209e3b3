from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.images import png_bytes
from trainer.data import DataError, decode, load_folder_dataset, stratified_split


def test_bad_data_gets_an_error_naming_the_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / "benign").mkdir()
    with pytest.raises(DataError, match="at least two"):
        load_folder_dataset(tmp_path)
    (tmp_path / "malignant").mkdir()
    (tmp_path / "benign" / "a.png").write_bytes(png_bytes(64, 64))
    with pytest.raises(DataError, match="malignant holds no"):
        load_folder_dataset(tmp_path)
    (tmp_path / "malignant" / "broken.jpg").write_bytes(b"not a jpeg")
    samples, classes = load_folder_dataset(tmp_path)
    assert classes == ("benign", "malignant")
    with pytest.raises(DataError, match=r"broken\.jpg"):
        decode(samples, 32)


def test_stratified_split_keeps_class_proportions(small_dataset: Path) -> None:
    samples, _ = load_folder_dataset(small_dataset)
    train, validation = stratified_split(samples, 0.25, seed=3)
    assert len(train) + len(validation) == len(samples)
    assert {s.path for s in train}.isdisjoint({s.path for s in validation})
    assert sum(s.label for s in validation) == 4 and len(validation) == 8


def test_skinscan_up_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    env = {"SKINSCAN_MODEL_REPOSITORY": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "skinscan.cli", "up"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no model to serve" in result.stderr and "skinscan train" in result.stderr
