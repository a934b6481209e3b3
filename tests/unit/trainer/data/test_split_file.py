"""A recorded split applied to data loaded afresh: the parts of a parent version are kept."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trainer.data.prepare import prepare
from trainer.data.samples import DataError
from trainer.data.split_file import apply_split_file


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "group", "split", "source"])
        writer.writerows([(p, "x", p, part, source) for p, part, source in rows])
    return path


def test_the_recorded_parts_replace_a_fresh_split(small_dataset: Path, tmp_path: Path) -> None:
    prepared = prepare(small_dataset, "binary", 0.25, 0.0, 0)
    paths = [s.path.relative_to(small_dataset).as_posix() for s in prepared.dataset.samples]
    # Somewhere else today: the source is known by its images, not by its folder.
    rows = [(p, "validation" if i % 4 == 0 else "train", "/old/place") for i, p in enumerate(paths)]
    applied = apply_split_file(prepared, _write(tmp_path / "split.csv", rows[:-1]))
    names = {i: paths[i] for i in range(len(paths))}
    assert {names[i] for i in applied.split.validation} == {
        p for p, part, _ in rows[:-1] if part == "validation"
    }
    # An image the file does not list is in no part.
    assert len(applied.split.train) + len(applied.split.validation) == len(paths) - 1


def test_a_recorded_source_that_is_not_loaded_is_an_error(
    small_dataset: Path, tmp_path: Path
) -> None:
    prepared = prepare(small_dataset, "binary", 0.25, 0.0, 0)
    with pytest.raises(DataError, match="not among --data"):
        apply_split_file(prepared, _write(tmp_path / "s.csv", [("x/1.jpg", "train", "other")]))
    with pytest.raises(DataError, match="without a path or a part"):
        apply_split_file(prepared, _write(tmp_path / "t.csv", [("x/1.jpg", "holdout", "other")]))
