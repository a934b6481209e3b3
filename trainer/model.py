"""The classifier: a backbone, global average pooling, and the paper's head.

The network takes what the service sends, uint8 RGB pixels in NHWC, and
normalizes inside the graph, so training and serving cannot disagree on
normalization and requests carry 4x fewer bytes than float32.
"""

from __future__ import annotations

import torch
from torch import nn

from skinscan.model_repository import InputSpec

__all__ = ["ExportedClassifier", "SkinLesionClassifier", "build_classifier"]

HEAD_WIDTH = 224  # "Dense 224" in the paper's head


class PixelNormalization(nn.Module):
    """uint8 NHWC pixels -> float NCHW, standardized with the backbone's mean and std."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255.0)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # permute (not reshape) keeps NHWC memory order: channels_last for free.
        x = pixels.permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std


class SkinLesionClassifier(nn.Module):
    """backbone -> global average pooling -> Dense 224 -> BatchNorm -> ReLU -> Dense classes.

    The ReLU is ours: without a non-linearity the two dense layers would
    collapse into one linear map once BatchNorm is folded at inference.
    """

    def __init__(self, backbone: nn.Module, features: int, classes: int, spec: InputSpec) -> None:
        super().__init__()
        self.normalize = PixelNormalization(spec.mean, spec.std)
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
    """What goes into ONNX: pixels -> (logits, probabilities)."""

    def __init__(self, classifier: SkinLesionClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.classifier(pixels)
        return logits, torch.softmax(logits, dim=1)


def _resnet50(weights: str) -> tuple[nn.Module, int]:
    from torchvision.models import ResNet50_Weights, resnet50

    chosen = {"imagenet": ResNet50_Weights.IMAGENET1K_V2, "none": None}[weights]
    network = resnet50(weights=chosen)
    features = network.fc.in_features
    network.fc = nn.Identity()  # keep torchvision's global average pooling, drop its classifier
    return network, features


def _tiny() -> tuple[nn.Module, int]:
    """A few-thousand-parameter CNN for tests and smoke runs, same interface as ResNet50."""
    network = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return network, 16


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
