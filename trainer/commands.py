"""The trainer's commands, `skinscan train` and `skinscan evaluate`, for the skinscan CLI.

Defining them needs no torch: the options come from trainer.options, and the
trainer itself is imported only when a command runs, so serving installs
without the `train` extra still have a working `skinscan`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from trainer.options import add_train_arguments, config_from_arguments

__all__ = ["TRAIN_DESCRIPTION", "add_commands", "evaluate_command", "train_command"]

TRAIN_DESCRIPTION = (
    "Trains, calibrates and exports a model. Re-running the same command resumes from the "
    "checkpoints in --checkpoint-dir."
)


# `skinscan train --init-from ... --budget-minutes ...` whose result did not beat its parent:
# kept as a candidate, not published (exit status 0 is a published version, 2 an error).
NOT_PUBLISHED = 3

# What the `train` extra installs; a serving install has none of it.
TRAIN_EXTRA = {"torch", "torchvision", "onnx", "tqdm", "matplotlib"}


def _without_train_extra(command: str, error: ModuleNotFoundError) -> int:
    if error.name not in TRAIN_EXTRA:
        raise error
    print(
        f"skinscan {command}: needs the training extra ({error.name} is not installed): "
        "pip install 'skinscan[train]'",
        file=sys.stderr,
    )
    return 2


def train_command(args: argparse.Namespace) -> int:
    try:
        from trainer.train import train
    except ModuleNotFoundError as error:
        return _without_train_extra("train", error)
    from skinscan.errors import SkinscanError
    from trainer.data import remote
    from trainer.data.samples import DataError
    from trainer.evaluation.versus_parent import is_published

    publish_to = args.out if remote.is_remote(args.out) else None
    staging = remote.staging_repository() if publish_to is not None else None
    if staging is not None:
        args.out = str(staging)
    try:
        cache = Path(args.data_cache)
        try:
            config = config_from_arguments(args, lambda at: remote.local_data(at, cache))
        except ValueError as error:  # options that contradict each other, or out of range
            raise DataError(str(error)) from error
        version = train(config)
        if version is not None and not is_published(version.metadata):
            # Not an error of the run, but not the outcome asked for: scripts can tell.
            return NOT_PUBLISHED
        if publish_to is not None and version is not None:
            remote.publish(version, publish_to, cache)
    except (DataError, SkinscanError) as error:
        print(f"skinscan train: {error}", file=sys.stderr)
        return 2
    finally:
        # What was uploaded (or failed to be) is not kept twice on the training node.
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    try:
        from trainer.evaluate import evaluate
    except ModuleNotFoundError as error:
        return _without_train_extra("evaluate", error)
    from skinscan.errors import ModelNotFoundError
    from trainer.data.samples import DataError

    try:
        evaluate(args.model, args.data, args.out, args.split, args.split_from)
    except (DataError, ModelNotFoundError) as error:
        print(f"skinscan evaluate: {error}", file=sys.stderr)
        return 2
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="score an exported model on a data set, as the service would run it",
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        required=True,
        help="REPOSITORY/MODEL (highest version) or REPOSITORY/MODEL/VERSION",
    )
    evaluate.add_argument(
        "--data",
        type=Path,
        required=True,
        help="class sub-folders, HAM10000 or an isic-cli download",
    )
    evaluate.add_argument(
        "--split",
        choices=["train", "validation", "test"],
        help="only the images the model's split.csv put in this split",
    )
    evaluate.add_argument(
        "--split-from",
        type=Path,
        metavar="MODEL",
        help="take the split from this model version's split.csv instead (compare two versions "
        "on the same images)",
    )
    evaluate.add_argument(
        "--out", type=Path, default=Path("report"), help="folder for metrics.json and the plots"
    )
    evaluate.set_defaults(run=evaluate_command)

    train = commands.add_parser(
        "train",
        help="train a classifier and export it to a model repository",
        description=TRAIN_DESCRIPTION,
    )
    add_train_arguments(train)
    train.set_defaults(run=train_command)
