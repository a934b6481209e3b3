"""The classifier: a backbone, global average pooling, and the paper's head.

The network takes what the service sends, uint8 RGB pixels in NHWC, and does
everything after resizing inside the graph: optional Shades of Gray colour
constancy, then normalization. Training and serving therefore cannot disagree
on either, any Open Inference Protocol client gets the same answer as our
preprocessor, and requests carry 4x fewer bytes than float32.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional

from skinscan_model.metadata import InputSpec
from trainer.network.acquisition import AcquisitionHead
from trainer.network.ood import OodScore, stage_features

__all__ = [
    "ACQUISITION_OUTPUT",
    "COLOR_CONSTANCY_METHODS",
    "EXPORTED_OUTPUTS",
    "ExportedClassifier",
    "ShadesOfGray",
    "SkinLesionClassifier",
    "Trunk",
    "build_classifier",
]

HEAD_WIDTH = 224  # "Dense 224" in the paper's head
COLOR_CONSTANCY_METHODS = ("none", "shades_of_gray")


class ShadesOfGray(nn.Module):
    """Shades of Gray colour constancy (Finlayson and Trezzi, 2004) on NHWC pixels in 0-255.

    Estimates each image's illuminant as the Minkowski p-norm mean of each
    channel and rescales the channels so the illuminant becomes grey. Top ISIC
    2017-2019 entries used p=6 to cancel the colour casts of different
    dermatoscopes and cameras.
    """

    def __init__(self, power: float = 6.0) -> None:
        super().__init__()
        self.power = power

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels / 255.0
        illuminant = x.pow(self.power).mean(dim=(1, 2), keepdim=True).pow(1.0 / self.power)
        # A unit-length grey illuminant has each channel at 1/sqrt(3).
        unit = illuminant / illuminant.norm(dim=3, keepdim=True).clamp_min(1e-6)
        gain = 1.0 / (unit * 3.0**0.5).clamp_min(1e-3)
        return (pixels * gain).clamp(0.0, 255.0)


class PixelNormalization(nn.Module):
    """uint8 (or float 0-255) NHWC pixels -> float NCHW, standardized with the backbone's mean and std."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, mean: tuple[float, ...], std: tuple[float, ...], color_constancy: str = "none"
    ) -> None:
        super().__init__()
        if color_constancy not in COLOR_CONSTANCY_METHODS:
            raise ValueError(
                f"unknown colour constancy {color_constancy!r}; choose {COLOR_CONSTANCY_METHODS}"
            )
        self.color_constancy = ShadesOfGray() if color_constancy == "shades_of_gray" else None
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255.0)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # Always float32: x**6 overflows half precision under autocast.
        with torch.autocast(pixels.device.type, enabled=False):
            x = pixels.float()
            if self.color_constancy is not None:
                x = self.color_constancy(x)
            # permute (not reshape) keeps NHWC memory order: channels_last for free.
            return (x.permute(0, 3, 1, 2) - self.mean) / self.std


def _head(features: int, classes: int) -> nn.Sequential:
    """The paper's head: Dense 224 -> BatchNorm -> ReLU -> Dense classes."""
    return nn.Sequential(
        nn.Linear(features, HEAD_WIDTH),
        nn.BatchNorm1d(HEAD_WIDTH),
        nn.ReLU(inplace=True),
        nn.Linear(HEAD_WIDTH, classes),
    )


class SkinLesionClassifier(nn.Module):
    """backbone -> global average pooling -> Dense 224 -> BatchNorm -> ReLU -> Dense classes.

    The ReLU is ours: without a non-linearity the two dense layers would
    collapse into one linear map once BatchNorm is folded at inference. The
    backbone ends at its last convolutional block: the pooling is done here,
    so the feature map stays reachable for Grad-CAM. With `diagnoses`, a
    second head of the same shape names the diagnosis; its logits follow the
    decision's in the output, columns `classes` onwards.

    With `diagnosis_branch`, the diagnosis head reads its own copy of the
    backbone's last stage (fed by the stage before it) instead of the
    decision's: the diagnosis can be fine-tuned while the decision keeps its
    weights bit for bit. It costs the last stage's compute once more.
    """

    def __init__(
        self,
        backbone: Trunk,
        features: int,
        classes: int,
        spec: InputSpec,
        diagnoses: int = 0,
        diagnosis_branch: bool = False,
    ) -> None:
        super().__init__()
        if diagnosis_branch and not diagnoses:
            raise ValueError("a diagnosis branch needs a diagnosis head")
        self.normalize = PixelNormalization(spec.mean, spec.std, spec.color_constancy)
        self.backbone = backbone
        self.classes = classes
        self.head = _head(features, classes)
        self.diagnosis_head = _head(features, diagnoses) if diagnoses else None
        self.diagnosis_stage = backbone.last_stage_copy() if diagnosis_branch else None

    def stage_maps(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output, (N, C, h, w) each; the last is the decision's feature map."""
        maps: list[torch.Tensor] = self.backbone(self.normalize(pixels))
        return maps

    def feature_map(self, pixels: torch.Tensor) -> torch.Tensor:
        """The last convolutional block's output, (N, C, h, w)."""
        return self.stage_maps(pixels)[-1]

    def diagnosis_input(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """What the diagnosis path starts from, among the stage maps: the map before the last
        stage for a branch (which runs its own copy of that stage), else the pooled last map.
        Training on top of a frozen network caches exactly this (trainer.init_from)."""
        if self.diagnosis_stage is None:
            return maps[-1].mean(dim=(2, 3))
        return maps[-2]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Returns logits; softmax is applied by the loss in training and in the export."""
        maps = self.stage_maps(pixels)
        logits = self.head(maps[-1].mean(dim=(2, 3)))
        if self.diagnosis_head is None:
            return logits
        diagnosis = diagnosis_logits(
            self.diagnosis_stage, self.diagnosis_head, self.diagnosis_input(maps)
        )
        return torch.cat([logits, diagnosis], dim=1)


def diagnosis_logits(stage: nn.Module | None, head: nn.Module, start: torch.Tensor) -> torch.Tensor:
    """The diagnosis path from its input (SkinLesionClassifier.diagnosis_input) to its logits."""
    if stage is not None:
        start = stage(start).mean(dim=(2, 3))
    logits: torch.Tensor = head(start)
    return logits


EXPORTED_OUTPUTS = ("logits", "probabilities", "ood_score", "heatmap")
DIAGNOSIS_OUTPUT = "diagnosis_probabilities"
ACQUISITION_OUTPUT = "acquisition_probabilities"
CAM_FLOOR = 0.01


class ExportedClassifier(nn.Module):
    """What goes into ONNX: pixels -> logits, probabilities, ood_score, heatmap.

    - logits and probabilities are calibrated: the temperature fitted on
      validation data divides the logits inside the graph.
    - ood_score is how far the pooled features of the last stages lie from
      the training images' (trainer.network.ood), so serving needs no second model.
    - heatmap is Grad-CAM over the last convolutional block, for the decided
      class (the positive class when its probability reaches `threshold`),
      as uint8 at the input size. Its gradient is a closed form through the
      head, so the graph needs no autograd: d(score)/d(pooled) =
      W1^T (BN scale * ReLU gate * e), with e the score's row of W2.
    - diagnosis_probabilities, when the classifier has a diagnosis head,
      calibrated with its own temperature.
    - acquisition_probabilities, with an acquisition head (trainer.network.acquisition):
      dermoscopy, clinical photograph, other, from every stage's pooled features.
    """

    def __init__(
        self,
        classifier: SkinLesionClassifier,
        ood: OodScore,
        temperature: float = 1.0,
        positive: int = 1,
        threshold: float = 0.5,
        diagnosis_temperature: float = 1.0,
        acquisition: AcquisitionHead | None = None,
    ) -> None:
        super().__init__()
        if not temperature > 0 or not diagnosis_temperature > 0:
            raise ValueError(
                f"temperatures must be positive, got {temperature}, {diagnosis_temperature}"
            )
        self.classifier = classifier
        self.ood = ood
        self.temperature = float(temperature)
        self.diagnosis_temperature = float(diagnosis_temperature)
        self.positive = positive
        self.threshold = float(threshold)
        self.acquisition = acquisition

    @property
    def output_names(self) -> tuple[str, ...]:
        diagnosing = self.classifier.diagnosis_head is not None
        gated = self.acquisition is not None
        return (
            *EXPORTED_OUTPUTS,
            *((DIAGNOSIS_OUTPUT,) if diagnosing else ()),
            *((ACQUISITION_OUTPUT,) if gated else ()),
        )

    def _decide(
        self, pixels: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every stage's map, the last one pooled, the calibrated logits and probabilities."""
        maps = self.classifier.stage_maps(pixels)
        pooled = maps[-1].mean(dim=(2, 3))
        logits = self.classifier.head(pooled) / self.temperature
        return maps, pooled, logits, torch.softmax(logits, dim=1)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps, pooled, logits, probabilities = self._decide(pixels)
        feature_map = maps[-1]
        decided = probabilities[:, self.positive] >= self.threshold
        heatmap = self._grad_cam(feature_map, pooled, decided, pixels.shape[1])
        stages = [stage_features(m) for m in maps[-self.ood.stages :]]
        outputs: tuple[torch.Tensor, ...] = (logits, probabilities, self.ood(stages), heatmap)
        classifier = self.classifier
        if classifier.diagnosis_head is not None:
            diagnosis = diagnosis_logits(
                classifier.diagnosis_stage,
                classifier.diagnosis_head,
                classifier.diagnosis_input(maps),
            )
            outputs = (*outputs, torch.softmax(diagnosis / self.diagnosis_temperature, dim=1))
        if self.acquisition is not None:
            outputs = (*outputs, self.acquisition(maps))
        return outputs

    def _grad_cam(
        self, feature_map: torch.Tensor, pooled: torch.Tensor, decided: torch.Tensor, size: int
    ) -> torch.Tensor:
        first, _, _, last = self.classifier.head
        assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
        # The class score: the positive logit against the others' mean, or its
        # opposite when the other class was decided.
        others = [i for i in range(last.weight.shape[0]) if i != self.positive]
        direction = last.weight[self.positive] - last.weight[others].mean(dim=0)
        gate_input, scale = self._hidden(pooled)
        gate = (gate_input > 0).float()
        weights = (gate * scale * direction) @ first.weight  # (N, C)
        sign = torch.where(decided, 1.0, -1.0).unsqueeze(1)
        cam = torch.relu((feature_map * (sign * weights)[:, :, None, None]).sum(dim=1))
        # Scaled to its peak; a map whose peak adds under 0.01 to the class score
        # says nothing, and stays near black instead of amplifying rounding.
        cam = cam / cam.amax(dim=(1, 2), keepdim=True).clamp_min(CAM_FLOOR)
        resized = functional.interpolate(
            cam.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False
        )
        return (resized.squeeze(1) * 255.0).round().clamp(0, 255).to(torch.uint8)

    def _hidden(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The decision head's hidden layer before its ReLU, (N, H), and its BatchNorm's scale
        per unit, (H,)."""
        first, norm, _, _ = self.classifier.head
        assert isinstance(norm, nn.BatchNorm1d) and norm.running_var is not None
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        return norm(first(pooled)), scale

    def heatmap_switches(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """How far each image lies from a switch of its heat map: two (N,) distances.

        The map changes at once, not gradually, where the decided class changes (the positive
        probability crosses the threshold) and where a unit of the head's hidden layer crosses
        its ReLU (which units weigh the channels). An image within float rounding of either may
        get another map from another runtime, however faithful the export. The first distance
        is the probability's from the threshold; the second the nearest unit's from its ReLU,
        relative to the image's median unit (rounding scales with the activations), leaving out
        units BatchNorm scales to nothing (their gate weighs no channel).
        """
        with torch.no_grad():
            _, pooled, _, probabilities = self._decide(pixels)
            gate_input, scale = self._hidden(pooled)
            to_threshold = (probabilities[:, self.positive] - self.threshold).abs()
            gate_input = gate_input[:, scale != 0].abs()
            typical = gate_input.median(dim=1).values.clamp_min(torch.finfo(torch.float32).tiny)
            return to_threshold, gate_input.amin(dim=1) / typical


class Trunk(nn.Module):
    """A backbone as a sequence of stages whose outputs are all reachable.

    The out-of-distribution score reads the pooled output of several stages,
    and a diagnosis branch re-runs the last stage from the one before it.
    `stem` runs before the first stage (it may be empty).
    """

    stages: tuple[str, ...] = ()
    stem: tuple[str, ...] = ()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output. Called as a module (not a method) so that the exported
        graph's node names carry the whole path (`/backbone/layer1/...`): --init-from reads
        the weights back by them."""
        for name in self.stem:
            x = getattr(self, name)(x)
        maps = []
        for name in self.stages:
            x = getattr(self, name)(x)
            maps.append(x)
        return maps

    def last_stage_copy(self) -> nn.Module:
        return copy.deepcopy(getattr(self, self.stages[-1]))

    def front(self, stages: int) -> tuple[str, ...]:
        """The names of the stem and the first `stages` stages (none for 0)."""
        return (*self.stem, *self.stages[:stages]) if stages else ()


class ResNetTrunk(Trunk):
    """A torchvision ResNet up to its last block: its pooling and classifier dropped.

    The blocks keep their torchvision names, so weights load as they are.
    """

    stem = ("conv1", "bn1", "relu", "maxpool")
    stages = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        for name in (*self.stem, *self.stages):
            self.add_module(name, getattr(network, name))


class TinyTrunk(Trunk):
    """A small CNN (about 100k parameters) for tests and smoke runs, same interface as ResNet50:
    three stages of a strided convolution, BatchNorm and ReLU."""

    stages = ("0", "1", "2")

    def __init__(self) -> None:
        super().__init__()
        channels = 3
        for name, width in zip(self.stages, (32, 64, 128), strict=True):
            self.add_module(
                name,
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ),
            )
            channels = width
        self.features = channels


def _resnet50(weights: str) -> tuple[Trunk, int]:
    from torchvision.models import ResNet50_Weights, resnet50

    chosen = {"imagenet": ResNet50_Weights.IMAGENET1K_V2, "none": None}[weights]
    network = resnet50(weights=chosen)
    return ResNetTrunk(network), network.fc.in_features


def build_classifier(
    architecture: str,
    weights: str,
    classes: int,
    spec: InputSpec,
    diagnoses: int = 0,
    diagnosis_branch: bool = False,
) -> SkinLesionClassifier:
    backbone: Trunk
    if architecture == "resnet50":
        backbone, features = _resnet50(weights)
    elif architecture == "tiny":
        if weights != "none":
            raise ValueError("the tiny architecture has no pretrained weights; use --weights none")
        backbone = TinyTrunk()
        features = backbone.features
    else:
        raise ValueError(f"unknown architecture {architecture!r}; choose resnet50 or tiny")
    return SkinLesionClassifier(backbone, features, classes, spec, diagnoses, diagnosis_branch)
