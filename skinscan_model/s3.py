"""S3 access shared by everything skinscan stores there (model versions, kept images).

Credentials come from boto3's usual chain: the environment, a profile, or on
EKS the pod's IAM role (IRSA); AWS_ENDPOINT_URL points it at MinIO or a test
server. boto3 is imported only when an S3 location is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from skinscan.errors import NotFoundError, UnavailableError

__all__ = ["S3Client", "error_code", "parse_s3_url", "s3_client", "s3_errors"]

# boto3's client type is generated at run time; no stubs are installed for it.
S3Client = Any


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/"); the prefix may be empty."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3:// URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{url!r} names no bucket: write s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def s3_client() -> S3Client:
    import boto3

    return boto3.client("s3")


def error_code(error: BaseException) -> str:
    """The S3 error code of a botocore ClientError ("NoSuchKey", "404", ...); "" for others."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def s3_errors(action: str, missing: type[NotFoundError] = NotFoundError) -> Iterator[None]:
    """Turns boto3's errors into ones that say what failed and what to check; a missing
    bucket or object raises `missing`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if code in ("NoSuchBucket", "NoSuchKey", "404"):
            raise missing(f"{action}: {code}") from error
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise UnavailableError(
                f"{action}: access denied ({code}); check the credentials or the "
                "service account's IAM role"
            ) from error
        raise UnavailableError(f"{action}: {code or error}") from error
    except BotoCoreError as error:
        raise UnavailableError(f"{action}: {error}") from error
