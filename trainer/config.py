"""What one `skinscan train` run does: every choice, with its default, in one frozen record.

No torch here: the command line builds this before the trainer (and torch) is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skinscan_model.store import DEFAULT_MODEL_NAME

__all__ = ["DEFAULT_IMAGE_SIZE", "TrainConfig"]

DEFAULT_IMAGE_SIZE = 224


@dataclass(frozen=True)
class TrainConfig:
    # One or more labelled sources: the binary decision learns from all of
    # them; a diagnosis head is trained when any carries diagnoses (HAM10000).
    data: tuple[Path, ...]
    out: Path = Path("models")
    labels: str = "binary"
    epochs: int = 30
    # Minutes the training phase may take, validation included (0: no budget, `epochs`
    # decide). With a budget `epochs` is an upper bound (trainer.training.budget).
    budget_minutes: float = 0.0
    batch_size: int = 32
    # Input size in px. 0: DEFAULT_IMAGE_SIZE for a new network, the parent's with
    # --init-from. A continued run may change it (the network pools globally) and is then
    # trained, compared with its parent (each at its own size) and served at the new size.
    image_size: int = 0
    learning_rate: float = 1e-4
    weights: str = "imagenet"
    architecture: str = "resnet50"
    color_constancy: str = "shades_of_gray"
    class_weighting: bool = True
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    patience: int = 6
    # 0: every training image in every epoch. Otherwise each source gives at
    # most this many per epoch, drawn afresh (see trainer.training.loop.epoch_order).
    images_per_source: int = 0
    seed: int = 0
    model_name: str = DEFAULT_MODEL_NAME
    positive_label: str = "malignant"
    target_sensitivity: float = 0.90
    pretrain_data: Path | None = None
    pretrain_labels: str = "dx"
    pretrain_epochs: int = 0
    pretrain_learning_rate: float = 1e-3
    # Pretraining at a lower resolution than fine-tuning is a large saving on a
    # CPU, and a network with global pooling carries over between sizes.
    pretrain_image_size: int | None = None
    checkpoint_dir: Path | None = None
    # Where S3 data sets are downloaded (trainer.data.remote); kept between runs.
    data_cache: Path = Path("data-cache")
    quantize: bool = True
    device: str = "auto"
    # Start from an exported version (a folder, or REPOSITORY/NAME/VERSION, local or
    # s3://) and train only what is new on top of it (trainer.init_from).
    init_from: str | None = None
    # The split to keep: a split.csv (default: the parent's, with --init-from).
    split_from: Path | None = None
    # The diagnosis head reads its own fine-tuned copy of the last stage.
    diagnosis_branch: bool = False
    # Augmentation draws of the frozen front's features (trainer.training.frozen_features).
    feature_draws: int = 4
    # An explanation is served only when its validation check reaches this
    # (trainer.export.output_gates): the heat map's peak on the lesion, the diagnosis
    # head's balanced accuracy. 0 serves it whatever its figures.
    min_heatmap_on_lesion: float = 0.90
    min_diagnosis_accuracy: float = 0.70
    # What helps a decision carry across collections (issue 27), each its own switch so
    # that runs can try them one at a time: every batch shares its images equally among the
    # sources; random resized crops down to this share of the area (0: zoom and shift);
    # brightness, contrast and saturation jitter (a third of it as a colour cast); a random
    # tone curve, which the model's colour constancy cannot undo (0: none); label smoothing.
    balance_sources: bool = False
    crop_scale: float = 0.0
    colour_jitter: float = 0.15
    tone_jitter: float = 0.0
    label_smoothing: float = 0.0
    # With a budget: average the weights of the last N planned epochs (0: none).
    average_epochs: int = 0
    # Training on from a version: the stem and the first N stages keep their weights (0: all
    # train). The first layers see edges and colour blobs that carry across collections, and
    # not computing their gradients makes a step about a sixth cheaper (stem + layer1).
    freeze_stages: int = 0
    # Training on from a version: the trained weights are also tried mixed with the parent's
    # (trainer.training.parent_mix, WiSE-FT), and the one whose decision validates best (loss) is kept.
    mix_with_parent: bool = False
    # bf16 autocast in training: auto uses it on CUDA and on CPUs that run it natively.
    train_precision: str = "auto"
    # The acquisition gate (trainer.network.acquisition), fitted at export when negatives are given:
    # a not-dermoscopy folder (metadata.csv: file, kind, source), further dermoscopy
    # collections besides --data (metadata.csv with image_id and institution, e.g. acral/),
    # and the augmentation draws of their training images' features; besides those, this
    # many images of each kind that no collection holds (trainer.data.made_negatives).
    negatives: Path | None = None
    gate_dermoscopy: tuple[Path, ...] = ()
    gate_draws: int = 2
    gate_made: int = 60
    # With --init-from: keep the parent's whole network, diagnosis head included, and fit
    # only the gate (the version decides and names diagnoses exactly as its parent).
    gate_only: bool = False

    @property
    def continues(self) -> bool:
        """Whether the whole network trains on from --init-from (a budget given), rather than
        only what is new on top of its frozen network."""
        return self.init_from is not None and self.budget_minutes > 0

    @property
    def pretrains(self) -> bool:
        return self.pretrain_data is not None and self.pretrain_epochs > 0

    @property
    def input_size(self) -> int:
        """The size a new network is trained at (a parent's is resolved by trainer.init_from)."""
        return self.image_size or DEFAULT_IMAGE_SIZE

    @property
    def pretrain_size(self) -> int:
        return self.pretrain_image_size or self.input_size

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("give at least one data set")
        if self.feature_draws < 1:
            raise ValueError("--feature-draws must be at least 1")
        for name in ("min_heatmap_on_lesion", "min_diagnosis_accuracy"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.image_size and self.image_size < 32:
            raise ValueError("--image-size must be at least 32 px (0: the default)")
        if not 0.0 <= self.crop_scale < 1.0:
            raise ValueError("--crop-scale is a share of the image's area: from 0 up to 1")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError("--label-smoothing must be from 0 up to 1")
        if self.colour_jitter < 0 or self.tone_jitter < 0:
            raise ValueError("--colour-jitter and --tone-jitter cannot be negative")
        if self.average_epochs < 0 or (self.average_epochs and not self.budget_minutes):
            raise ValueError(
                "--average-epochs averages a budget's last epochs: give --budget-minutes"
            )
        if self.freeze_stages < 0 or (self.freeze_stages and not self.continues):
            raise ValueError(
                "--freeze-stages keeps a parent's first stages: give --init-from and "
                "--budget-minutes"
            )
        if self.mix_with_parent and not self.continues:
            raise ValueError(
                "--mix-with-parent mixes a trained network with its parent's weights: give "
                "--init-from and --budget-minutes"
            )
        if self.balance_sources and self.images_per_source:
            raise ValueError("--balance-sources and --images-per-source exclude each other")
        if self.diagnosis_branch and self.init_from is None:
            raise ValueError("--diagnosis-branch trains on top of a model: give --init-from")
        if self.gate_only and (self.init_from is None or self.negatives is None):
            raise ValueError(
                "--gate-only refits the acquisition gate of a model: give --init-from and "
                "--negatives"
            )
        if self.gate_only and (self.continues or self.diagnosis_branch):
            raise ValueError(
                "--gate-only keeps the parent's network: no --budget-minutes or --diagnosis-branch"
            )
        if self.gate_dermoscopy and self.negatives is None:
            raise ValueError("--gate-dermoscopy adds dermoscopy to the gate: give --negatives")
        if self.gate_made < 0:
            raise ValueError("--gate-made is a count of images per kind: 0 or more")
        if self.gate_draws < 1:
            raise ValueError("--gate-draws must be at least 1")

    def describe(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return str(value) if isinstance(value, Path) else value

        return {k: plain(v) for k, v in asdict(self).items()}
