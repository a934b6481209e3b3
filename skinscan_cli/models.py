"""`skinscan models list|curve|push|record-trial`: a model repository's versions and trials.

The repository is SKINSCAN_MODEL_REPOSITORY unless --repository says otherwise:
a folder, or `s3://bucket/prefix` (credentials from boto3's chain: the
environment, a profile, or an IAM role). A pushed version keeps its number, so
the version every result names is the one whose model card was reviewed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skinscan.errors import InvalidRequestError
from skinscan_cli.failures import reported
from skinscan_kit.settings import (
    ModelRepositorySettings,
    ModelSettings,
    SettingsError,
    read_settings,
)
from skinscan_model.metadata import ModelMetadata
from skinscan_model.repositories import open_store
from skinscan_model.store import ModelStore, read_version
from skinscan_model.trials import recorded_trials, trial_key_and_record
from trainer.card.curve import refresh_curve_page, render_curve_page
from trainer.training.recipe import describe_recipe

__all__ = ["add_commands"]


class _Settings(ModelSettings, ModelRepositorySettings):
    pass


def _store(repository: str | None) -> tuple[str, ModelStore]:
    try:
        settings = read_settings(_Settings)
    except SettingsError as error:
        raise InvalidRequestError(str(error)) from error
    location = repository or settings.model_repository
    return location, open_store(location, settings.model_cache_dir)


def _validation(meta: ModelMetadata, metric: str) -> str:
    value: Any = meta.metrics.get("validation", {}).get(metric, {})
    return f"{value['value']:.3f}" if isinstance(value, dict) and "value" in value else "-"


def _lineage(meta: ModelMetadata) -> tuple[str, str]:
    """The version it continued from, and what its run trained in how many minutes."""
    training = meta.training
    lineage = training.get("lineage") or {}
    parent = str(lineage.get("parent", {}).get("version", "-"))
    trained = lineage.get("trained") or ("whole network" if training.get("history") else "")
    seconds = training.get("wall_seconds_this_run")
    if not trained:
        return parent, "-"
    return parent, f"{trained}, {seconds / 60:.0f} min" if seconds else trained


@reported
def _list(args: argparse.Namespace) -> int:
    location, store = _store(args.repository)
    model = args.model or read_settings(_Settings).model_name
    versions = store.versions(model)
    if not versions:
        print(f"{location} holds no version of {model}")
        return 0
    rows = [
        (
            "version",
            "created",
            "precision",
            "input",
            "threshold",
            "val AUC",
            "parent",
            "trained",
            "sha256",
        )
    ]
    for number in versions:
        meta = store.metadata(model, number)
        rows.append(
            (
                number,
                meta.created_at[:19] or "-",
                meta.precision,
                f"{meta.input.size} px",
                f"{meta.decision_threshold:.3f}",
                _validation(meta, "roc_auc"),
                *_lineage(meta),
                meta.model_sha256[:12] or "-",
            )
        )
    print(f"{model} in {location} (served: the newest, {versions[-1]})")
    _print_table(rows)
    trials = recorded_trials(store, model)
    if trials:
        print(f"\nruns that did not beat their parent (trials, kept under {model}/trials/):")
        _print_table(
            [
                ("created", "parent", "val AUC", "against the parent [95% CI]", "recipe"),
                *(_trial_row(record) for record in trials),
            ]
        )
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _trial_row(record: dict[str, Any]) -> tuple[str, ...]:
    """A trial's line: when, from which version, how it compared, what it trained."""
    row = record.get("row", {})
    versus = row.get("versus_parent") or {}
    low, high = versus.get("ci95", (float("nan"), float("nan")))
    pooled = row.get("roc_auc", {}).get("all sources")
    return (
        str(record.get("created_at", "-"))[:19],
        str(record.get("parent", {}).get("version", "-")),
        "-" if pooled is None else f"{pooled:.3f}",
        f"{versus.get('difference', float('nan')):+.4f} [{low:+.4f}, {high:+.4f}]",
        # What the run did differently is what a reader of trials looks for.
        f"{describe_recipe(row['recipe']) if row.get('recipe') else row.get('trained', '-')}, "
        f"{row.get('minutes', 0):.0f} min",
    )


@reported
def _push(args: argparse.Namespace) -> int:
    source = read_version(args.version_dir)
    location, store = _store(args.to)
    before = store.versions(source.name)
    store.put(source)
    if source.version in before:
        print(f"{location} already holds {source.name} version {source.version}; nothing changed")
    else:
        print(f"pushed {source.name} version {source.version} to {location}")
    return 0


@reported
def _record_trial(args: argparse.Namespace) -> int:
    """For a candidate whose run could not record it (its repository was out of reach)."""
    candidate = read_version(args.candidate_dir)
    try:
        key, record = trial_key_and_record(candidate)
    except ValueError as error:
        raise InvalidRequestError(str(error)) from error
    _, store = _store(args.to)
    where = store.record_trial(candidate.name, key, record)
    print(
        f"recorded {candidate.path} as a trial of {candidate.name} version {record['parent']['version']} at {where}"
    )
    page = refresh_curve_page(store, candidate.name)
    if page is not None:
        print(f"rewrote the curve page {page}")
    return 0


@reported
def _curve(args: argparse.Namespace) -> int:
    """The repository's curve page: the served version's curve and the runs tried from it."""
    location, store = _store(args.repository)
    model = args.model or read_settings(_Settings).model_name
    if args.write:
        page = refresh_curve_page(store, model)
        if page is None:
            raise InvalidRequestError(
                f"{location} holds no version of {model}"
                if not store.versions(model)
                else f"{location} is not a folder: only a folder repository keeps the page; "
                "run `skinscan models curve` without --write and keep what it prints"
            )
        print(f"wrote {page}")
        return 0
    text = render_curve_page(store, model)
    if text is None:
        raise InvalidRequestError(f"{location} holds no version of {model}")
    print(text, end="")
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="list and publish model versions")
    actions = models.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the versions in a model repository")
    listing.add_argument(
        "--repository", help="a folder or s3://bucket/prefix (default: SKINSCAN_MODEL_REPOSITORY)"
    )
    listing.add_argument("--model", help="the model's name (default: SKINSCAN_MODEL_NAME)")
    listing.set_defaults(run=_list)
    push = actions.add_parser(
        "push", help="publish a version folder (model.onnx, metadata.json, card) to a repository"
    )
    push.add_argument("version_dir", type=Path, help="e.g. models/skinscan-resnet50/2")
    push.add_argument(
        "--to", help="a folder or s3://bucket/prefix (default: SKINSCAN_MODEL_REPOSITORY)"
    )
    push.set_defaults(run=_push)
    curve = actions.add_parser(
        "curve",
        help="validation ROC-AUC against training minutes: the served version's lineage and "
        "every run tried from it (the repository's CURVE.md)",
    )
    curve.add_argument(
        "--repository", help="a folder or s3://bucket/prefix (default: SKINSCAN_MODEL_REPOSITORY)"
    )
    curve.add_argument("--model", help="the model's name (default: SKINSCAN_MODEL_NAME)")
    curve.add_argument(
        "--write",
        action="store_true",
        help="rewrite the folder repository's <model>/CURVE.md instead of printing it",
    )
    curve.set_defaults(run=_curve)
    trial = actions.add_parser(
        "record-trial",
        help="record a candidate that did not beat its parent (skinscan train exited 3) as a "
        "trial in its parent's repository, where the next version's card finds it",
    )
    trial.add_argument("candidate_dir", type=Path, help="e.g. runs/NAME/candidates/NAME/1")
    trial.add_argument("--to", help="the parent's repository (default: SKINSCAN_MODEL_REPOSITORY)")
    trial.set_defaults(run=_record_trial)
