"""`skinscan train --init-from VERSION --budget-minutes N`: the whole network trains on from a
version, and the result is published only if it beats its parent on validation.

A tiny network is trained for one epoch on isic-binary and HAM10000; a second run continues it
for a few seconds with every cross-collection option (balanced sources, random resized crops,
colour and tone jitter, label smoothing). Whether a few seconds beat the parent is not the
point here (trainer/versus_parent's tests check the rule): the outcome must be consistent —
published in the repository, or kept as a candidate with the exit status that says so — and
recorded (lineage, recipe, comparison, curve, card).
"""

from __future__ import annotations

import csv
from pathlib import Path

import onnx
import pytest

from skinscan_model.diagnoses import DIAGNOSIS_CODES
from skinscan_model.store import LocalModelStore
from tests.conftest import TINY_RUN, run_cli, train_tiny
from trainer.commands import NOT_PUBLISHED
from trainer.finalize import CANDIDATES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repository(
    lineage_sources: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Version 1: one epoch on both sources, with a diagnosis head."""
    repository = tmp_path_factory.mktemp("repository")
    train_tiny(lineage_sources, repository, epochs=1, checkpoint_dir=None)
    return repository


def test_a_continued_run_is_published_only_if_it_beats_its_parent(
    repository: Path, lineage_sources: tuple[Path, Path], tmp_path: Path
) -> None:
    isic, ham = lineage_sources
    checkpoints = tmp_path / "runs"
    command = (
        "train",
        "--init-from",
        f"{repository}/tiny/1",
        "--data",
        str(isic),
        "--data",
        str(ham),
        "--budget-minutes",
        "0.1",
        "--epochs",
        "50",
        "--balance-sources",
        "--crop-scale",
        "0.35",
        "--colour-jitter",
        "0.3",
        "--tone-jitter",
        "0.3",
        "--label-smoothing",
        "0.1",
        "--freeze-stages",
        "1",
        "--min-diagnosis-accuracy",
        "0",
        "--min-heatmap-on-lesion",
        "0",
        "--out",
        str(repository),
        "--checkpoint-dir",
        str(checkpoints),
        *TINY_RUN,
    )
    result = run_cli(*command)
    assert result.returncode in (0, NOT_PUBLISHED), result.stderr
    assert "starting from tiny version 1" in result.stdout
    assert "folded BatchNorm layers measured again" in result.stdout
    assert "balanced sources, random resized crops" in result.stdout
    assert "stem and first 1 stage(s) frozen" in result.stdout
    assert "budget 0.1 min" in result.stdout
    published = result.returncode == 0
    store = LocalModelStore(repository)
    candidates = LocalModelStore(checkpoints / CANDIDATES)
    if published:
        assert store.versions("tiny") == ["1", "2"] and not candidates.versions("tiny")
        child = store.fetch("tiny", "2")
        assert "wrote tiny version 2" in result.stdout
    else:
        # The repository's newest version stays the parent; the candidate is kept, with why.
        assert store.versions("tiny") == ["1"]
        child = candidates.fetch("tiny", "1")
        assert f"the candidate is kept at {child.path}" in result.stdout
        assert "Not better than its parent under the publishing rule" in result.stdout
    metadata = child.metadata
    comparison = metadata.metrics["versus_parent"]
    assert comparison["publish"] is published
    assert comparison["parent"] == "tiny version 1"
    assert set(comparison["by_source"]) == {str(isic), str(ham)}
    lineage = metadata.training["lineage"]
    assert lineage["kind"] == "continued" and lineage["parent"]["version"] == "1"
    assert lineage["recipe"]["balance_sources"] and lineage["recipe"]["crop_scale"] == 0.35
    assert lineage["recipe"]["freeze_stages"] == 1
    assert lineage["trained"].startswith("the network after its stem and first 1 stage(s)")
    assert lineage["renormalized_batchnorm_layers"] == 3  # the tiny trunk's three stages
    # The curve: the parent's row (made from its own record), then this version's.
    parent_row, own_row = lineage["curve"]
    assert parent_row["version"] == "1" and own_row["version"] is None
    assert own_row["published"] is published
    assert own_row["cumulative_minutes"] >= parent_row["cumulative_minutes"]
    # A new model in full: its own threshold and temperature, and the diagnosis trained with it.
    assert metadata.metrics["calibration"].get("inherited_from") is None
    assert metadata.diagnoses == DIAGNOSIS_CODES
    card = (child.path / "MODEL_CARD.md").read_text()
    assert "### Against its parent" in card
    assert "### Validation ROC-AUC against training time" in card
    assert "balanced sources" in card
    # What a candidate tried is kept with its parent, for the next version's card.
    trials = store.trials("tiny")
    curve_page = (repository / "tiny" / "CURVE.md").read_text()
    if published:
        assert trials == []
        assert "\n| 2 | " in curve_page and "No run trained on from version 2" in curve_page
    else:
        (trial,) = trials
        assert trial["row"]["run"] == lineage["run"] and trial["row"]["trial"]
        assert "recorded as a trial at" in result.stdout
        # The served version's curve page shows the run, where no card can until one beats it.
        assert "\n| 1 | " in curve_page and "\n| trial | " in curve_page
        assert "1 run(s) trained on from version 1 since it was published" in curve_page
        listed = run_cli("models", "list", "--repository", str(repository), "--model", "tiny")
        assert "runs that did not beat their parent" in listed.stdout, listed.stderr
        # By hand, for a candidate whose run could not reach its parent's repository.
        elsewhere = tmp_path / "elsewhere"
        recorded = run_cli("models", "record-trial", str(child.path), "--to", str(elsewhere))
        assert recorded.returncode == 0, recorded.stderr
        assert LocalModelStore(elsewhere).trials("tiny") == trials
    # A version that was not compared with a parent is no trial: said so, no traceback.
    refused = run_cli("models", "record-trial", f"{repository}/tiny/1", "--to", str(tmp_path))
    assert refused.returncode == 1 and "is not a trial" in refused.stderr
    assert "Traceback" not in refused.stderr

    # Run again: the finished phase is taken from its checkpoint, not trained again.
    again = run_cli(*command)
    assert again.returncode == result.returncode, again.stderr
    assert "continue: resumed from" in again.stdout
    # The same run, so still one trial, and not a row before itself in its own curve.
    assert len(store.trials("tiny")) == len(trials)
    if not published:
        rerun = candidates.fetch("tiny").metadata.training["lineage"]
        assert [row.get("trial", False) for row in rerun["curve"]] == [False, False]

    # Mixed with the parent's weights: the same phase, taken from its checkpoint, then each
    # mix validated; another run (and trial) than the unmixed one.
    mixing = run_cli(*command, "--mix-with-parent")
    assert mixing.returncode in (0, NOT_PUBLISHED), mixing.stderr
    assert "continue: resumed from" in mixing.stdout
    assert "mixes with the parent's weights (WiSE-FT)" in mixing.stdout
    assert "<- kept" in mixing.stdout
    assert "mixes with the parent's weights tried" in mixing.stdout.split("recipe: ", 1)[1]
    mixed = (store if mixing.returncode == 0 else candidates).fetch("tiny").metadata
    mixed_lineage = mixed.training["lineage"]
    assert mixed_lineage["recipe"]["mix_with_parent"] and mixed_lineage["run"] != lineage["run"]
    # Its minutes are the phase's, trained in the first run, not only this run's mixing.
    assert mixed_lineage["minutes"] >= lineage["minutes"]
    assert [t["share"] for t in mixed_lineage["mixed_with_parent"]["tried"]] == [
        0.25,
        0.5,
        0.75,
        1.0,
    ]
    assert "mixed with the parent's weights" in mixed_lineage["trained"] or (
        "mixes with the parent's weights tried" in mixed_lineage["trained"]
    )


def test_a_continued_run_says_why_it_cannot_start(
    repository: Path, lineage_sources: tuple[Path, Path]
) -> None:
    def refused(*options: str) -> str:
        """What the CLI says to a run with these options: exit 2 and a reason, no traceback."""
        result = run_cli(
            "train",
            "--init-from",
            f"{repository}/tiny/1",
            "--data",
            str(lineage_sources[0]),
            "--budget-minutes",
            "1",
            *options,
            *TINY_RUN,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        return result.stderr

    assert "exclude each other" in refused("--balance-sources", "--images-per-source", "10")
    # Known only once the parent's network is read: how many stages it has.
    assert "has 3 stages" in refused("--freeze-stages", "3")


def test_a_continued_run_may_train_on_at_another_input_size(
    repository: Path, lineage_sources: tuple[Path, Path], tmp_path: Path
) -> None:
    """The parent's 32 px network trains on at 40 px: the child is exported and served at 40,
    and compared with its parent scored at its own 32 px on the same validation images."""
    isic, ham = lineage_sources
    out = tmp_path / "repository"
    result = run_cli(
        "train",
        "--init-from",
        f"{repository}/tiny/1",
        "--data",
        str(isic),
        "--data",
        str(ham),
        "--budget-minutes",
        "0.05",
        "--min-diagnosis-accuracy",
        "0",
        "--min-heatmap-on-lesion",
        "0",
        "--out",
        str(out),
        "--checkpoint-dir",
        str(tmp_path / "runs"),
        *TINY_RUN,
        "--image-size",
        "40",
    )
    assert result.returncode in (0, NOT_PUBLISHED), result.stderr
    assert "(tiny, 32 px" in result.stdout and "trained on at 40 px" in result.stdout
    assert "40 px" in result.stdout.split("recipe: ", 1)[1].splitlines()[0]
    if result.returncode == 0:
        child = LocalModelStore(out).fetch("tiny")
    else:
        child = LocalModelStore(tmp_path / "runs" / CANDIDATES).fetch("tiny")
    metadata = child.metadata
    assert metadata.input.size == 40
    lineage = metadata.training["lineage"]
    assert lineage["recipe"]["image_size"] == 40
    assert "at 40 px (the parent's 32)" in lineage["trained"]
    # Both scored every validation image of the parent's split (its graph only takes 32 px).
    comparison = metadata.metrics["versus_parent"]["pooled"]
    with (repository / "tiny" / "1" / "split.csv").open() as split:
        validation = sum(row["split"] == "validation" for row in csv.DictReader(split))
    assert comparison["images"] == validation > 0
    assert 0.0 <= comparison["parent"] <= 1.0 and 0.0 <= comparison["child"] <= 1.0
    # The served graph takes the new size (what the preprocessor resizes uploads to).
    graph = onnx.load(str(child.onnx_path), load_external_data=False)
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:3]] == [40, 40]
    # Without a budget the parent's decision path is kept as it is, so at its own size.
    kept = run_cli(
        "train",
        "--init-from",
        f"{repository}/tiny/1",
        "--data",
        str(ham),
        "--out",
        str(out),
        *TINY_RUN,
        "--image-size",
        "40",
    )
    assert kept.returncode == 2 and "Traceback" not in kept.stderr, kept.stderr
    assert "decision path is kept as it is, at its 32 px" in kept.stderr
