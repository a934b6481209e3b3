"""One options table: every TrainConfig field has its flag, and a model card's command reproduces its run."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path

import pytest

from trainer.config import TrainConfig
from trainer.options import OPTIONS, add_train_arguments, config_from_arguments, reproduce_command

# Chosen in code, not on the command line: the class the threshold is tuned for.
NOT_OPTIONS = {"positive_label"}


def _parse(argv: list[str]) -> TrainConfig:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return config_from_arguments(parser.parse_args(argv))


def test_every_field_has_one_option() -> None:
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    named = [option.field for option in OPTIONS]
    assert sorted(named) == sorted(set(fields) - NOT_OPTIONS)
    assert len({option.flag for option in OPTIONS}) == len(OPTIONS)


def test_defaults_are_the_configs_own() -> None:
    assert _parse(["--data", "isic"]) == TrainConfig(
        data=(Path("isic"),), checkpoint_dir=Path("runs") / TrainConfig.model_name
    )
    assert _parse(["--data", "isic", "--no-checkpoints"]).checkpoint_dir is None


def test_data_is_required() -> None:
    with pytest.raises(SystemExit):
        _parse([])


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--freeze-stages", "1"], "--freeze-stages keeps a parent's first stages"),
        (["--freeze-stages", "1", "--init-from", "m/a/1"], "--freeze-stages keeps"),
        (["--average-epochs", "2"], "--average-epochs averages a budget's last epochs"),
        (["--mix-with-parent", "--init-from", "m/a/1"], "--mix-with-parent mixes a trained"),
        (["--crop-scale", "1"], "--crop-scale is a share"),
        (["--image-size", "16"], "--image-size must be at least 32 px"),
    ],
)
def test_options_that_cannot_go_together_say_why(argv: list[str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        _parse(["--data", "isic", *argv])


def test_the_model_cards_command_reproduces_the_run() -> None:
    config = TrainConfig(
        data=(Path("isic/train"), Path("ham10000")),
        out=Path("repo"),
        pretrain_data=Path("ham10000"),
        pretrain_epochs=14,
        pretrain_image_size=64,
        image_size=128,
        learning_rate=3e-4,
        weights="none",
        class_weighting=False,
        quantize=False,
        seed=3,
        checkpoint_dir=Path("elsewhere"),
        device="cpu",
    )
    command = reproduce_command(config.describe())
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:2] == ["skinscan", "train"]
    assert "--no-class-weights" in words and "--no-int8" in words
    # Where checkpoints go and which device ran are not part of the model.
    assert "--checkpoint-dir" not in words and "--device" not in words
    reproduced = _parse(words[2:])
    assert reproduced == dataclasses.replace(
        config, checkpoint_dir=Path("runs") / config.model_name, device="auto"
    )


def test_pretraining_options_are_left_out_without_pretraining() -> None:
    command = reproduce_command(TrainConfig(data=(Path("isic"),)).describe())
    assert "--pretrain" not in command


def test_s3_data_locations_reach_the_command_intact_and_train_from_local_folders() -> None:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(
        ["--data", "s3://bucket/isic", "--data", "ham", "--pretrain-data", "s3://bucket/ham"]
    )
    seen: list[str] = []

    def local(location: str) -> Path:
        seen.append(location)
        return Path("cache") / location.replace("s3://", "")

    config = config_from_arguments(args, local)
    assert seen == ["s3://bucket/isic", "ham", "s3://bucket/ham"]
    assert config.data == (Path("cache/bucket/isic"), Path("cache/ham"))
    assert config.pretrain_data == Path("cache/bucket/ham")


def test_the_input_size_is_the_parents_unless_given() -> None:
    """0 stands for the default: 224 for a new network, the parent's with --init-from (read
    from its metadata when the run starts: trainer.init_from)."""
    assert _parse(["--data", "isic"]).input_size == 224
    assert _parse(["--data", "isic", "--image-size", "160"]).input_size == 160
    given = _parse(["--data", "isic", "--init-from", "m/a/1", "--budget-minutes", "9"])
    assert given.image_size == 0
