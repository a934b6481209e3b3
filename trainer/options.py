"""The one table of `skinscan train` options.

Each row names a TrainConfig field and its flag. The table builds the
argparse options (types and defaults come from TrainConfig itself), turns
parsed arguments into a TrainConfig, and writes the command that reproduces a
run into its model card, so a new option is added in one place.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.config import TrainConfig

__all__ = ["OPTIONS", "Option", "add_train_arguments", "config_from_arguments", "reproduce_command"]


@dataclass(frozen=True)
class Option:
    field: str
    help: str = ""
    choices: tuple[str, ...] | None = None
    # Derived from the field's name unless given.
    name: str | None = None
    # A `--no-...` switch that turns a true-by-default field off.
    negates: bool = False
    # Part of the command in the model card; run-time choices (where
    # checkpoints go, which device) do not change the model.
    reproduces: bool = True
    # Only meaningful when this other field is set (pretraining options).
    only_with: str | None = None
    # May be given several times; the field holds them all, in order.
    repeats: bool = False
    # May be an s3:// URL (trainer.data.remote): kept as text until the command resolves it.
    remote: bool = False
    # A `--...` switch that turns a false-by-default field on.
    flag_only: bool = False

    @property
    def flag(self) -> str:
        return self.name or "--" + self.field.replace("_", "-")


_PRETRAIN = "pretrain_data"

OPTIONS: tuple[Option, ...] = (
    Option(
        "data",
        "class sub-folders, a HAM10000 folder (HAM10000_metadata.csv) or an isic-cli "
        "download (metadata.csv), or the same in S3 (s3://bucket/prefix); repeat to train on "
        "several (e.g. isic-binary and HAM10000)",
        repeats=True,
        remote=True,
    ),
    Option(
        "labels",
        "HAM10000 only: benign/malignant, or the seven diagnoses",
        choices=("binary", "dx"),
    ),
    Option(
        "pretrain_data",
        "a data set to pretrain the backbone on first (e.g. HAM10000), a folder or s3://",
        remote=True,
    ),
    Option("pretrain_labels", choices=("binary", "dx"), only_with=_PRETRAIN),
    Option("pretrain_epochs", only_with=_PRETRAIN),
    Option("pretrain_learning_rate", only_with=_PRETRAIN),
    Option(
        "pretrain_image_size",
        "pretrain at this size (default --image-size); lower is much cheaper on a CPU",
        only_with=_PRETRAIN,
    ),
    Option("epochs"),
    Option(
        "budget_minutes",
        "train for at most this many minutes, validation included: the learning rate warms "
        "up, then a cosine ends with the budget, planned from the first steps' measured time; "
        "--epochs is then an upper bound (0: no budget)",
    ),
    Option("learning_rate"),
    Option("patience", "early-stopping patience in epochs"),
    Option(
        "images_per_source",
        "at most this many images of each --data source per epoch, drawn afresh every epoch "
        "(0: all); a small source stays whole while a large one rotates, so an epoch is "
        "affordable on a CPU",
    ),
    Option(
        "image_size",
        "input size in px (0: 224, or with --init-from the parent's); with --init-from and "
        "--budget-minutes another size trains the parent's network on at it, and it is "
        "compared with its parent (each at its own size) and served at it",
    ),
    Option("batch_size"),
    Option(
        "weights",
        "ImageNet weights through torchvision (needs a download), or none",
        choices=("imagenet", "none"),
    ),
    Option("architecture", "tiny is a small CNN for smoke tests", choices=("resnet50", "tiny")),
    Option(
        "color_constancy",
        "Shades of Gray (p=6) inside the model, in training and serving alike",
        choices=("shades_of_gray", "none"),
    ),
    Option("validation_fraction"),
    Option("test_fraction"),
    Option(
        "target_sensitivity",
        "the decision threshold is chosen to reach this sensitivity on validation data",
    ),
    Option("seed"),
    Option("model_name"),
    Option("out", "model repository: a folder, or s3://bucket/prefix", remote=True),
    Option(
        "class_weighting",
        "do not weight the loss by inverse class frequency",
        name="--no-class-weights",
        negates=True,
    ),
    Option("quantize", "export fp32 only", name="--no-int8", negates=True),
    Option(
        "checkpoint_dir",
        "where resumable checkpoints go (default runs/MODEL_NAME)",
        reproduces=False,
    ),
    Option(
        "init_from",
        "start from this exported version (REPOSITORY/NAME/VERSION, its folder; or "
        "REPOSITORY/NAME, its newest; the repository a folder or s3://), on its split. With "
        "--budget-minutes the whole network trains on for that long and the result is "
        "published only if it beats its parent on validation (else kept under "
        "CHECKPOINT_DIR/candidates); without, its decision path is kept as it is and only what "
        "is new (the diagnosis head) is trained on features of the frozen network",
    ),
    Option(
        "split_from",
        "take the train/validation/test split from this split.csv (default with --init-from: "
        "the parent's); sources it does not cover are split afresh",
    ),
    Option(
        "diagnosis_branch",
        "with --init-from: the diagnosis head reads its own copy of the last stage, fine-tuned, "
        "while the decision keeps the parent's",
        name="--diagnosis-branch",
        flag_only=True,
    ),
    Option(
        "negatives",
        "a not-dermoscopy folder (metadata.csv: file, kind, source; kinds clinical, skin, "
        "medical, everyday, document): fits the acquisition gate at export, which refuses "
        "clinical photographs and images that are not skin",
        remote=True,
    ),
    Option(
        "gate_dermoscopy",
        "with --negatives: a further dermoscopy collection the gate learns to pass (metadata.csv "
        "with image_id, institution, patient_id, lesion_id, e.g. acral/); repeat for several",
        repeats=True,
        remote=True,
    ),
    Option(
        "gate_draws",
        "with --negatives: augmentation draws of the gate's training images (a new clinic's "
        "colour, blur, JPEG, vignettes, rulers, crops)",
    ),
    Option(
        "gate_made",
        "with --negatives: images of each kind no collection holds (noise, colour fields, "
        "words, scanned pages, application screens), made from the seed; 0 for none",
    ),
    Option(
        "gate_only",
        "with --init-from and --negatives: keep the parent's whole network (decision, "
        "diagnosis head, temperatures) and fit only the acquisition gate",
        name="--gate-only",
        flag_only=True,
    ),
    Option(
        "feature_draws",
        "with --init-from: augmentation draws of the frozen network's features, computed once "
        "each and kept in memory (fp16); epoch e trains on draw e mod N",
    ),
    Option(
        "min_heatmap_on_lesion",
        "serve the heat map only when its peak lies on the lesion for at least this share of "
        "validation images (0: always)",
    ),
    Option(
        "min_diagnosis_accuracy",
        "serve the diagnosis only when its balanced accuracy on validation reaches this "
        "(0: always)",
    ),
    Option(
        "balance_sources",
        "every batch takes as many images from each --data source (a small source repeats, "
        "a large one is sampled afresh each epoch)",
        name="--balance-sources",
        flag_only=True,
    ),
    Option(
        "crop_scale",
        "random resized crops down to this share of the image's area, aspect ratios 3/4 to "
        "4/3, instead of zoom and shift (0: zoom and shift)",
    ),
    Option(
        "colour_jitter",
        "brightness, contrast and saturation jitter (and a third of it as a colour cast)",
    ),
    Option(
        "tone_jitter",
        "a random tone curve (x ** g, g from 1/(1+t) to 1+t), which colour constancy cannot "
        "undo (0: none)",
    ),
    Option("label_smoothing", "cross-entropy against labels smoothed by this much"),
    Option(
        "average_epochs",
        "with --budget-minutes: average the weights of the last N planned epochs (stochastic "
        "weight averaging), kept if they validate better than the best single epoch",
    ),
    Option(
        "freeze_stages",
        "with --init-from and --budget-minutes: the stem and the first N stages keep the "
        "parent's weights and BatchNorm statistics (0: every layer trains)",
    ),
    Option(
        "mix_with_parent",
        "with --init-from and --budget-minutes: also try the trained weights mixed with the "
        "parent's (WiSE-FT: shares 0.25, 0.5, 0.75 of the trained ones, BatchNorm measured "
        "again) and keep whichever decision validates with the lowest loss",
        flag_only=True,
    ),
    Option(
        "train_precision",
        "bf16 autocast while training: auto uses it on CUDA and on CPUs that run it natively",
        choices=("auto", "bf16", "fp32"),
        reproduces=False,
    ),
    Option("device", choices=("auto", "cpu", "cuda"), reproduces=False),
    Option("data_cache", "where s3:// data sets are downloaded", reproduces=False),
)

_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = typing.get_type_hints(TrainConfig)


def _value_type(field: str) -> type:
    """The type argparse converts to: `Path | None` and `tuple[Path, ...]` take a Path."""
    hint = _TYPES[field]
    if isinstance(hint, types.UnionType):
        (hint,) = (t for t in typing.get_args(hint) if t is not type(None))
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    return typing.cast(type, hint)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        field = _FIELDS[option.field]
        if option.negates or option.flag_only:
            parser.add_argument(
                option.flag,
                dest=option.field,
                action="store_false" if option.negates else "store_true",
                help=option.help,
            )
            continue
        required = field.default is dataclasses.MISSING
        parser.add_argument(
            option.flag,
            dest=option.field,
            type=str if option.remote else _value_type(option.field),
            choices=option.choices,
            required=required,
            # argparse appends to a repeated option's default in place: a tuple cannot.
            default=None if required or option.repeats else field.default,
            action="append" if option.repeats else "store",
            help=option.help or None,
        )
    parser.add_argument("--no-checkpoints", action="store_true", help="train without checkpoints")


def config_from_arguments(
    args: argparse.Namespace, local: Callable[[str], Path] = Path
) -> TrainConfig:
    """The run's config; `local` turns each data location given (a folder, or an s3:// URL
    in the command) into the local folder the trainer reads."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value = getattr(args, option.field)
        if option.repeats and value is None:
            value = _FIELDS[option.field].default
        if option.remote and value is not None and option.field != "out":
            value = [local(v) for v in value] if option.repeats else local(value)
        values[option.field] = tuple(value) if option.repeats else value
    if isinstance(values["out"], str):
        values["out"] = Path(values["out"])
    if args.no_checkpoints:
        values["checkpoint_dir"] = None
    elif values["checkpoint_dir"] is None:
        values["checkpoint_dir"] = Path("runs") / values["model_name"]
    return TrainConfig(**values)


def reproduce_command(config: dict[str, Any]) -> str:
    """`skinscan train ...` for a run's described config (TrainConfig.describe())."""
    parts = ["skinscan train"]
    for option in OPTIONS:
        value = config.get(option.field)
        if not option.reproduces or (option.only_with and not config.get(option.only_with)):
            continue
        if option.negates or option.flag_only:
            if value is (not option.negates):
                parts.append(option.flag)
        elif option.repeats:
            parts += [f"{option.flag} {v}" for v in value or ()]
        elif value is not None:
            parts.append(f"{option.flag} {value}")
    return " \\\n    ".join(parts)
