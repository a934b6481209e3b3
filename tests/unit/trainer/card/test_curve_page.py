"""The repository's curve page: the served version's curve and every run tried from it since."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skinscan.errors import ModelNotFoundError
from skinscan_model.store import LocalModelStore
from tests.conftest import ROOT
from trainer.card.curve import CURVE_PAGE, refresh_curve_page, render_curve_page

SERVED = LocalModelStore(ROOT / "models").fetch("skinscan-resnet50").path
NAME = "skinscan-resnet50"
ISIC = "../shared/data/isic-binary/train"
HAM = "../shared/data/ham10000"


def _served(repository: Path) -> dict[str, Any]:
    """The served version's real metadata as version 3 of a repository of its own (the graph
    is not read)."""
    folder = repository / NAME / "3"
    folder.mkdir(parents=True)
    metadata = json.loads((SERVED / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "model.onnx").write_bytes(b"not read by the page")
    return metadata


def _trial(
    store: LocalModelStore,
    key: str,
    parent_sha256: str,
    pooled: float,
    ci95: tuple[float, float],
    isic: float,
    ham: float,
) -> None:
    row = {
        "version": None,
        "run": key,
        "trained": f"run {key}",
        "minutes": 70.0,
        "cumulative_minutes": 80.5,
        "cumulative_complete": False,
        "published": False,
        "trial": True,
        "versus_parent": {"difference": pooled - 0.866, "ci95": list(ci95)},
        "roc_auc": {"all sources": pooled, ISIC: isic, HAM: ham},
        "diagnosis_balanced_accuracy": 0.6,
    }
    record = {
        "parent": {"version": "3", "model_sha256": parent_sha256},
        "created_at": f"2026-12-0{len(store.trials(NAME)) + 1}T00:00:00+00:00",
        "row": row,
    }
    store.record_trial(NAME, key, record)


def _table(page: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith("| ")][1:]


def test_without_trials_the_curve_ends_at_the_served_version(tmp_path: Path) -> None:
    store = LocalModelStore(tmp_path)
    assert render_curve_page(store, NAME) is None  # nothing to draw a curve of
    assert refresh_curve_page(store, NAME) is None and not (tmp_path / NAME).exists()
    trained = _served(tmp_path)["training"]["lineage"]["trained"]
    page = render_curve_page(store, NAME)
    assert page is not None
    assert "No run trained on from version 3 has been recorded yet" in page
    (served,) = _table(page)
    assert served.startswith(f"| 3 | {trained} |") and "| 0.8660 | 0.9165 | 0.8149 |" in served


def test_the_page_lists_the_runs_tried_from_the_served_version_and_where_they_stand(
    tmp_path: Path,
) -> None:
    metadata = _served(tmp_path)
    store = LocalModelStore(tmp_path)
    sha = metadata["model_sha256"]
    _trial(store, "a", sha, 0.8692, (-0.0132, 0.0208), isic=0.9089, ham=0.8369)
    _trial(store, "b", sha, 0.8719, (-0.0050, 0.0168), isic=0.9149, ham=0.8402)
    # A trial from another parent (an older version) is that version's, not this one's.
    _trial(store, "c", "f" * 64, 0.95, (0.01, 0.02), isic=0.99, ham=0.99)

    page = refresh_curve_page(store, NAME)
    assert page == tmp_path / NAME / CURVE_PAGE
    text = page.read_text()
    assert text == render_curve_page(store, NAME)
    # Readable by whoever reads the repository, as the versions' files and the records are.
    assert page.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / NAME / "trials" / "a.json").stat().st_mode & 0o777 == 0o644
    served, first, second = _table(text)
    assert served.startswith("| 3 |")
    assert first.startswith("| trial | run a |") and "no: +0.0032 [-0.0132, +0.0208]" in first
    assert second.startswith("| trial | run b |")
    assert "2 run(s) trained on from version 3 since it was published, 140 minutes in all" in text
    assert "the best run +0.0059 (95% interval -0.0050 to +0.0168)" in text
    assert "no run's interval lies above 0" in text
    # Against version 3's 0.9165 and 0.8149.
    assert "isic-binary -0.0076 to -0.0016; ham10000 +0.0220 to +0.0253" in text

    # A run above 0 pooled yet not published (a source fell): the page says so, not "noise".
    _trial(store, "d", sha, 0.8900, (0.0070, 0.0410), isic=0.88, ham=0.87)
    text = refresh_curve_page(store, NAME).read_text()  # type: ignore[union-attr]
    assert len(_table(text)) == 4
    assert "1 run(s) above 0 pooled were held back by a source" in text
    assert "no run's interval" not in text


@pytest.mark.parametrize("bad", ["not json", "[]"])
def test_a_broken_trial_record_is_named_not_skipped(tmp_path: Path, bad: str) -> None:
    _served(tmp_path)
    trials = tmp_path / NAME / "trials"
    trials.mkdir()
    (trials / "broken.json").write_text(bad)
    with pytest.raises(ModelNotFoundError, match=r"broken\.json is not a trial record"):
        render_curve_page(LocalModelStore(tmp_path), NAME)
