"""The `skinscan` command: up, analyze, train."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skinscan.analysis import DISCLAIMER

__all__ = ["main"]


def _train(args: argparse.Namespace) -> int:
    # The trainer needs torch (the `train` extra); serving commands must not.
    from trainer.train import TrainConfig, train

    config = TrainConfig(
        data=args.data,
        out=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        learning_rate=args.learning_rate,
        weights=args.weights,
        architecture=args.architecture,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        seed=args.seed,
        model_name=args.model_name,
    )
    train(config)
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from skinscan.client import Client
    from skinscan.errors import SkinscanError

    failures = 0
    with Client(args.target, timeout_s=args.timeout) as client:
        for path in args.images:
            try:
                analysis = client.analyze(path)
            except (SkinscanError, OSError) as error:
                failures += 1
                print(f"{path}: error: {error}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps({"image": str(path), **analysis.to_dict()}))
            else:
                probabilities = ", ".join(f"{k} {v:.3f}" for k, v in analysis.probabilities.items())
                print(
                    f"{path}: {analysis.label} (confidence {analysis.confidence:.3f}; {probabilities}) "
                    f"model {analysis.model.name} v{analysis.model.version}"
                )
        if not args.json:
            print(f"note: {DISCLAIMER}")
    return 1 if failures else 0


def _up(args: argparse.Namespace) -> int:
    from skinscan.launcher import run_system

    return run_system()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skinscan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Redis, inference, preprocessor and gateway")
    up.set_defaults(run=_up)

    analyze = commands.add_parser("analyze", help="classify dermoscopic images through the gateway")
    analyze.add_argument("images", nargs="+", type=Path)
    analyze.add_argument("--target", default="127.0.0.1:50051", help="gateway gRPC HOST:PORT")
    analyze.add_argument("--json", action="store_true", help="one JSON object per line")
    analyze.add_argument("--timeout", type=float, default=60.0, help="seconds per image")
    analyze.set_defaults(run=_analyze)

    train = commands.add_parser(
        "train", help="train a classifier and export it to a model repository"
    )
    train.add_argument(
        "--data", type=Path, required=True, help="folder with one sub-folder per class"
    )
    train.add_argument("--out", type=Path, default=Path("models"), help="model repository")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--image-size", type=int, default=224)
    train.add_argument("--learning-rate", type=float, default=1e-4)
    train.add_argument(
        "--weights",
        choices=["imagenet", "none"],
        default="imagenet",
        help="ImageNet weights through torchvision (needs a download), or none",
    )
    train.add_argument(
        "--architecture",
        choices=["resnet50", "tiny"],
        default="resnet50",
        help="tiny is a small CNN for smoke tests",
    )
    train.add_argument("--validation-fraction", type=float, default=0.2)
    train.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--model-name", default="skinscan-resnet50")
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
