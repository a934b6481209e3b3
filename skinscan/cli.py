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
    from trainer.data import DataError
    from trainer.train import TrainConfig, train

    checkpoints = args.checkpoint_dir or Path("runs") / args.model_name
    config = TrainConfig(
        data=args.data,
        out=args.out,
        labels=args.labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        learning_rate=args.learning_rate,
        weights=args.weights,
        architecture=args.architecture,
        color_constancy=args.color_constancy,
        class_weighting=not args.no_class_weights,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        patience=args.patience,
        seed=args.seed,
        model_name=args.model_name,
        target_sensitivity=args.target_sensitivity,
        pretrain_data=args.pretrain_data,
        pretrain_labels=args.pretrain_labels,
        pretrain_epochs=args.pretrain_epochs,
        pretrain_learning_rate=args.pretrain_learning_rate,
        pretrain_image_size=args.pretrain_image_size,
        checkpoint_dir=None if args.no_checkpoints else checkpoints,
        quantize=not args.no_int8,
        device=args.device,
    )
    try:
        train(config)
    except DataError as error:
        print(f"skinscan train: {error}", file=sys.stderr)
        return 2
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from skinscan.errors import ModelNotFoundError
    from trainer.data import DataError
    from trainer.evaluate import evaluate

    try:
        evaluate(args.model, args.data, args.out, args.split)
    except (DataError, ModelNotFoundError) as error:
        print(f"skinscan evaluate: {error}", file=sys.stderr)
        return 2
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
        "--out", type=Path, default=Path("report"), help="folder for metrics.json and the plots"
    )
    evaluate.set_defaults(run=_evaluate)

    train = commands.add_parser(
        "train",
        help="train a classifier and export it to a model repository",
        description="Trains, calibrates and exports a model. Re-running the same command "
        "resumes from the checkpoints in --checkpoint-dir.",
    )
    train.add_argument(
        "--data",
        type=Path,
        required=True,
        help="class sub-folders, a HAM10000 folder (HAM10000_metadata.csv) or an isic-cli "
        "download (metadata.csv)",
    )
    train.add_argument(
        "--labels",
        choices=["binary", "dx"],
        default="binary",
        help="HAM10000 only: benign/malignant, or the seven diagnoses",
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
    train.add_argument(
        "--color-constancy",
        choices=["shades_of_gray", "none"],
        default="shades_of_gray",
        help="Shades of Gray (p=6) inside the model, in training and serving alike",
    )
    train.add_argument(
        "--no-class-weights",
        action="store_true",
        help="do not weight the loss by inverse class frequency",
    )
    train.add_argument("--validation-fraction", type=float, default=0.15)
    train.add_argument("--test-fraction", type=float, default=0.15)
    train.add_argument("--patience", type=int, default=6, help="early-stopping patience in epochs")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--model-name", default="skinscan-resnet50")
    train.add_argument(
        "--target-sensitivity",
        type=float,
        default=0.90,
        help="the decision threshold is chosen to reach this sensitivity on validation data",
    )
    train.add_argument(
        "--pretrain-data",
        type=Path,
        help="a data set to pretrain the backbone on first (e.g. HAM10000)",
    )
    train.add_argument("--pretrain-labels", choices=["binary", "dx"], default="dx")
    train.add_argument("--pretrain-epochs", type=int, default=0)
    train.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    train.add_argument(
        "--pretrain-image-size",
        type=int,
        help="pretrain at this size (default --image-size); lower is much cheaper on a CPU",
    )
    train.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="where resumable checkpoints go (default runs/MODEL_NAME)",
    )
    train.add_argument("--no-checkpoints", action="store_true")
    train.add_argument("--no-int8", action="store_true", help="export fp32 only")
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
