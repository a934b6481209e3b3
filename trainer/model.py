"""The classifier: a backbone, global average pooling, and the paper's head.

The network takes what the service sends, uint8 RGB pixels in NHWC, and does
everything after resizing inside the graph: optional Shades of Gray colour
constancy, then normalization. Training and serving therefore cannot disagree
on either, any Open Inference Protocol client gets the same answer as our
preprocessor, and requests carry 4x fewer bytes than float32.
"""

from __future__ import annotations

import torch
from torch import nn

from skinscan_model.metadata import InputSpec

__all__ = [
    "COLOR_CONSTANCY_METHODS",
    "ExportedClassifier",
    "ShadesOfGray",
    "SkinLesionClassifier",
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


class SkinLesionClassifier(nn.Module):
    """backbone -> global average pooling -> Dense 224 -> BatchNorm -> ReLU -> Dense classes.

    The ReLU is ours: without a non-linearity the two dense layers would
    collapse into one linear map once BatchNorm is folded at inference.
    """

    def __init__(self, backbone: nn.Module, features: int, classes: int, spec: InputSpec) -> None:
        super().__init__()
        self.normalize = PixelNormalization(spec.mean, spec.std, spec.color_constancy)
        self.backbone = backbone
        self.head = nn.Sequential(
            nn.Linear(features, HEAD_WIDTH),
            nn.BatchNorm1d(HEAD_WIDTH),
            nn.ReLU(inplace=True),
            nn.Linear(HEAD_WIDTH, classes),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Returns logits; softmax is applied by the loss in training and in the export."""
        return self.head(self.backbone(self.normalize(pixels)))


class ExportedClassifier(nn.Module):
    """What goes into ONNX: pixels -> (calibrated logits, calibrated probabilities).

    The temperature fitted on validation data divides the logits inside the
    graph, so every consumer of the model gets calibrated probabilities.
    """

    def __init__(self, classifier: SkinLesionClassifier, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.classifier = classifier
        self.temperature = float(temperature)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.classifier(pixels)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return logits, torch.softmax(logits, dim=1)


def _resnet50(weights: str) -> tuple[nn.Module, int]:
    from torchvision.models import ResNet50_Weights, resnet50

    chosen = {"imagenet": ResNet50_Weights.IMAGENET1K_V2, "none": None}[weights]
    network = resnet50(weights=chosen)
    features = network.fc.in_features
    network.fc = nn.Identity()  # keep torchvision's global average pooling, drop its classifier
    return network, features


def _tiny() -> tuple[nn.Module, int]:
    """A small CNN (about 100k parameters) for tests and smoke runs, same interface as ResNet50."""
    layers: list[nn.Module] = []
    channels = 3
    for width in (32, 64, 128):
        layers += [
            nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        channels = width
    network = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return network, channels


def build_classifier(
    architecture: str, weights: str, classes: int, spec: InputSpec
) -> SkinLesionClassifier:
    if architecture == "resnet50":
        backbone, features = _resnet50(weights)
    elif architecture == "tiny":
        if weights != "none":
            raise ValueError("the tiny architecture has no pretrained weights; use --weights none")
        backbone, features = _tiny()
    else:
        raise ValueError(f"unknown architecture {architecture!r}; choose resnet50 or tiny")
    return SkinLesionClassifier(backbone, features, classes, spec)
