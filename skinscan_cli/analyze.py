"""`skinscan analyze`: classify images through the gateway, with the SDK."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skinscan import DISCLAIMER, Analysis, SkinscanError, UnauthenticatedError, UnavailableError
from skinscan_cli.credentials import signed_in_client
from skinscan_cli.failures import explain
from skinscan_cli.heatmaps import write_overlay

__all__ = ["add_command", "analyze_command"]


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
    else:
        lines = [f"{path}: cannot be assessed ({model})"]
    lines += [f"  {f.severity.value}: {f.reason}" for f in analysis.findings]
    return "\n".join(lines)


def analyze_command(args: argparse.Namespace) -> int:
    failures = 0
    with signed_in_client(args.target, args.timeout) as client:
        for path in args.images:
            try:
                data = path.read_bytes()
                analysis = client.analyze(data, filename=path.name)
                overlay = None
                if args.heatmap is not None and analysis.heatmap is not None:
                    target = args.heatmap / f"{path.stem}.heatmap.png"
                    overlay = write_overlay(data, analysis.heatmap, target)
            except (UnauthenticatedError, UnavailableError) as error:
                # Every other image would fail the same way.
                print(f"error: {explain(error, args.target)}", file=sys.stderr)
                return 1
            except (SkinscanError, OSError) as error:
                failures += 1
                print(f"{path}: error: {error}", file=sys.stderr)
                continue
            if args.json:
                body = {"image": str(path), **analysis.to_dict()}
                if overlay is not None:
                    body["heatmap_overlay"] = str(overlay)
                print(json.dumps(body))
            else:
                print(_describe(path, analysis))
                if overlay is not None:
                    print(f"  heat map: {overlay}")
                elif args.heatmap is not None:
                    print("  heat map: none (the image was not assessed, or the model has none)")
        if not args.json:
            print(f"note: {DISCLAIMER}")
    return 1 if failures else 0


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analyze = commands.add_parser("analyze", help="classify dermoscopic images through the gateway")
    analyze.add_argument("images", nargs="+", type=Path)
    analyze.add_argument("--target", default="127.0.0.1:50051", help="gateway gRPC HOST:PORT")
    analyze.add_argument("--json", action="store_true", help="one JSON object per line")
    analyze.add_argument("--timeout", type=float, default=60.0, help="seconds per image")
    analyze.add_argument(
        "--heatmap",
        type=Path,
        metavar="DIR",
        help="write each image with the model's heat map over it to DIR/<name>.heatmap.png",
    )
    analyze.set_defaults(run=analyze_command)
