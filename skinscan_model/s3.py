"""S3 access shared by everything skinscan stores there (model versions, kept images).

Credentials come from boto3's usual chain: the environment, a profile, or on
EKS the pod's IAM role (IRSA); AWS_ENDPOINT_URL points it at MinIO or a test
server. boto3 is imported only when an S3 location is used.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skinscan.errors import NotFoundError, UnavailableError

__all__ = [
    "S3Client",
    "download_prefix",
    "error_code",
    "parse_s3_url",
    "s3_client",
    "s3_errors",
]

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


def download_prefix(url: str, target: Path, client: S3Client | None = None) -> int:
    """Copies every object under `url` into `target` (same relative paths); returns how many
    were downloaded. A file already there with the object's size is kept, so a second run
    (or a resumed training job) downloads only what is missing."""
    s3 = client if client is not None else s3_client()
    bucket, prefix = parse_s3_url(url)
    fetched = 0
    with s3_errors(f"downloading {url}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                local = (target / relative).resolve()
                if not local.is_relative_to(target.resolve()):
                    raise UnavailableError(f"{url}: the key {item['Key']!r} leaves the folder")
                if local.is_file() and local.stat().st_size == item["Size"]:
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                handle, partial = tempfile.mkstemp(prefix=f".{local.name}-", dir=local.parent)
                os.close(handle)
                try:
                    s3.download_file(bucket, item["Key"], partial)
                    os.replace(partial, local)
                finally:
                    Path(partial).unlink(missing_ok=True)
                fetched += 1
    return fetched
