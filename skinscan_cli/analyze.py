"""`skinscan analyze`: classify images (files or folders) through the gateway, with the SDK."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from skinscan import DISCLAIMER, Analysis, SkinscanError, UnauthenticatedError, UnavailableError
from skinscan.analysis import MODEL_THRESHOLD
from skinscan_cli.credentials import signed_in_client
from skinscan_cli.failures import explain
from skinscan_cli.heatmaps import write_overlay

if TYPE_CHECKING:
    Parsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["CSV_COLUMNS", "add_command", "analyze_command", "image_paths"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
CSV_COLUMNS = (
    "image",
    "assessable",
    "label",
    "malignant_probability",
    "decision_threshold",
    "diagnosis",
    "diagnosis_probability",
    "findings",
    "model",
    "error",
)


def image_paths(arguments: list[Path]) -> Iterator[Path]:
    """Files as given; folders searched for JPEG and PNG images, in name order."""
    for path in arguments:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        else:
            yield path


def _describe(path: Path, analysis: Analysis) -> str:
    model = f"model {analysis.model.name} v{analysis.model.version}"
    if analysis.assessable:
        lines = [f"{path}: {analysis.label} ({analysis.explanation}; {model})"]
        if analysis.diagnosis is not None:
            diagnosis = analysis.diagnosis
            kind = "malignant" if diagnosis.malignant else "benign"
            lines.append(
                f"  most likely diagnosis: {diagnosis.name} ({kind}), "
                f"{diagnosis.probabilities[diagnosis.code]:.0%}"
            )
        if analysis.threshold_basis and analysis.threshold_basis != MODEL_THRESHOLD:
            lines.append(f"  decided by the {analysis.threshold_basis}")
    else:
        lines = [f"{path}: cannot be assessed ({model})"]
    lines += [f"  {f.severity.value}: {f.reason}" for f in analysis.findings]
    return "\n".join(lines)


def _csv_row(path: Path, analysis: Analysis | None, error: str = "") -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CSV_COLUMNS, "")
    row["image"], row["error"] = str(path), error
    if analysis is not None:
        row["assessable"] = analysis.assessable
        row["model"] = f"{analysis.model.name}:{analysis.model.version}"
        row["findings"] = ";".join(f.code for f in analysis.findings)
        if analysis.assessable:
            row["label"] = analysis.label
            row["malignant_probability"] = f"{analysis.malignant_probability:.4f}"
            row["decision_threshold"] = f"{analysis.decision_threshold:.4f}"
            if analysis.diagnosis is not None:
                row["diagnosis"] = analysis.diagnosis.code
                row["diagnosis_probability"] = (
                    f"{analysis.diagnosis.probabilities[analysis.diagnosis.code]:.4f}"
                )
    return row


class _Output:
    """Writes each result, or each image's error, in the one format asked for."""

    def __init__(self, form: str) -> None:
        self.form = form
        self.csv = csv.DictWriter(sys.stdout, CSV_COLUMNS) if form == "csv" else None
        if self.csv is not None:
            self.csv.writeheader()

    def result(self, path: Path, analysis: Analysis, overlay: Path | None, heatmaps: bool) -> None:
        if self.csv is not None:
            self.csv.writerow(_csv_row(path, analysis))
        elif self.form == "json":
            body = {"image": str(path), **analysis.to_dict()}
            if overlay is not None:
                body["heatmap_overlay"] = str(overlay)
            print(json.dumps(body))
        else:
            print(_describe(path, analysis))
            if overlay is not None:
                print(f"  heat map: {overlay}")
            elif heatmaps:
                print("  heat map: none (the image was not assessed, or the model has none)")
        sys.stdout.flush()

    def error(self, path: Path, reason: str) -> None:
        if self.csv is not None:
            self.csv.writerow(_csv_row(path, None, reason))
        elif self.form == "json":
            print(json.dumps({"image": str(path), "error": reason}))
        else:
            print(f"{path}: error: {reason}", file=sys.stderr)
        sys.stdout.flush()


def analyze_command(args: argparse.Namespace) -> int:
    paths = list(image_paths(args.images))
    if not paths:
        print("error: no JPEG or PNG images in the paths given", file=sys.stderr)
        return 1
    output = _Output("csv" if args.csv else "json" if args.json else "text")
    failures = 0
    # Results come back as they complete; they are written in the order given.
    done: dict[int, Analysis | SkinscanError | OSError] = {}
    written = 0
    with (
        signed_in_client(args.target, args.timeout) as client,
        tqdm(total=len(paths), unit="image", file=sys.stderr, disable=None, leave=False) as bar,
    ):
        for index, result in client.analyze_many(paths, concurrency=args.concurrency):
            bar.update()
            if isinstance(result, UnauthenticatedError | UnavailableError):
                # Every other image would fail the same way.
                bar.close()
                print(f"error: {explain(result, args.target)}", file=sys.stderr)
                return 1
            done[index] = result
            while written in done:
                path, outcome = paths[written], done.pop(written)
                written += 1
                if isinstance(outcome, Analysis):
                    overlay = None
                    if args.heatmap is not None and outcome.heatmap is not None:
                        target = args.heatmap / f"{path.stem}.heatmap.png"
                        try:
                            overlay = write_overlay(path.read_bytes(), outcome.heatmap, target)
                        except OSError as error:
                            failures += 1
                            output.error(path, f"cannot write the heat map: {error}")
                            continue
                    output.result(path, outcome, overlay, args.heatmap is not None)
                else:
                    failures += 1
                    output.error(path, str(outcome))
    if output.form == "text":
        print(f"note: {DISCLAIMER}")
    return 1 if failures else 0


def add_command(commands: Parsers) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="classify dermoscopic images through the gateway",
        description="Classify JPEG or PNG images (files, or folders searched recursively). "
        "Needs `skinscan login` or SKINSCAN_API_KEY.",
    )
    analyze.add_argument("images", nargs="+", type=Path, help="image files or folders")
    analyze.add_argument("--target", default="127.0.0.1:50051", help="gateway gRPC HOST:PORT")
    form = analyze.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON object per line")
    form.add_argument("--csv", action="store_true", help="CSV with a header row")
    analyze.add_argument("--timeout", type=float, default=60.0, help="seconds per image")
    analyze.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="images sent ahead of their results (they are analysed in batches)",
    )
    analyze.add_argument(
        "--heatmap",
        type=Path,
        metavar="DIR",
        help="write each image with the model's heat map over it to DIR/<name>.heatmap.png",
    )
    analyze.set_defaults(run=analyze_command)
