"""skinscan: skin-lesion triage from dermoscopic images.

This package is the Python SDK for the gateway's public gRPC API, and nothing
else: the services, the trainer and the command line live in their own
packages, so an app that embeds the SDK pulls in gRPC and protobuf only.

    from skinscan import Client
    with Client("127.0.0.1:50051") as client:
        analysis = client.analyze("lesion.jpg")
"""

from skinscan.analysis import (
    DISCLAIMER,
    Analysis,
    CropBox,
    Diagnosis,
    Finding,
    HeatMap,
    ModelRef,
    Severity,
)
from skinscan.client import Client
from skinscan.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
    SkinscanError,
    UnavailableError,
)
from skinscan.jobs import Job, JobStatus

__all__ = [
    "DISCLAIMER",
    "Analysis",
    "Client",
    "CropBox",
    "Diagnosis",
    "Finding",
    "HeatMap",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidRequestError",
    "Job",
    "JobStatus",
    "ModelNotFoundError",
    "ModelRef",
    "NotFoundError",
    "Severity",
    "SkinscanError",
    "UnavailableError",
]
