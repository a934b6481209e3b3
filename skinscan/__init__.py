"""skinscan: skin-lesion triage from dermoscopic images.

This package is the Python SDK for the gateway's public gRPC API, and nothing
else: the services, the trainer and the command line live in their own
packages, so an app that embeds the SDK pulls in gRPC and protobuf only.

    from skinscan import Client
    with Client("127.0.0.1:50051", api_key="sks_...") as client:
        analysis = client.analyze("lesion.jpg")
"""

from skinscan.accounts import ApiKey, Caller, Role, Tokens, User
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
from skinscan.async_client import AsyncClient
from skinscan.client import Client
from skinscan.errors import (
    ConflictError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SkinscanError,
    UnauthenticatedError,
    UnavailableError,
)
from skinscan.jobs import Job, JobStatus
from skinscan.records import (
    BODY_SITES,
    Lesion,
    Page,
    Patient,
    RecordedAnalysis,
    Review,
    ReviewMethod,
    ReviewStatus,
    Sex,
)

__all__ = [
    "BODY_SITES",
    "DISCLAIMER",
    "Analysis",
    "ApiKey",
    "AsyncClient",
    "Caller",
    "Client",
    "ConflictError",
    "CropBox",
    "Diagnosis",
    "Finding",
    "HeatMap",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidRequestError",
    "Job",
    "JobStatus",
    "Lesion",
    "ModelNotFoundError",
    "ModelRef",
    "NotFoundError",
    "Page",
    "Patient",
    "PermissionDeniedError",
    "RateLimitedError",
    "RecordedAnalysis",
    "Review",
    "ReviewMethod",
    "ReviewStatus",
    "Role",
    "Severity",
    "Sex",
    "SkinscanError",
    "Tokens",
    "UnauthenticatedError",
    "UnavailableError",
    "User",
]
