"""Where kept images' bytes live: a folder (one gateway, the embedded default) or S3.

Several gateway replicas must see the same images, and a pod's disk goes with
the pod, so a deployment keeps them in S3 (`SKINSCAN_GATEWAY_IMAGE_STORE=
s3://bucket/prefix`). Either way the bytes arrive here already encrypted by the
clinic's field keys; the bucket's own encryption comes on top. A missing image
raises FileNotFoundError from both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from skinscan_model.s3 import error_code, parse_s3_url, s3_client, s3_errors

__all__ = ["FolderBlobs", "ImageBlobs", "S3Blobs", "open_blobs"]


class ImageBlobs(Protocol):
    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes:
        """The bytes stored under `name`; FileNotFoundError when there are none."""
        ...

    def delete(self, name: str) -> None:
        """Removes `name`; nothing happens when it is already gone."""
        ...


def open_blobs(location: str | Path) -> ImageBlobs:
    """`s3://bucket/prefix`, or a folder."""
    if str(location).startswith("s3://"):
        return S3Blobs(str(location))
    return FolderBlobs(Path(location))


class FolderBlobs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.expanduser()

    def __repr__(self) -> str:
        return f"FolderBlobs({str(self.folder)!r})"

    def put(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.folder / f"{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(partial, self.folder / name)

    def get(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def delete(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)


class S3Blobs:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = parse_s3_url(url)
        self._s3 = s3_client()

    def __repr__(self) -> str:
        return f"S3Blobs({self.url!r})"

    def put(self, name: str, data: bytes) -> None:
        with s3_errors(f"keeping an image in {self.url}"):
            self._s3.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data)

    def get(self, name: str) -> bytes:
        with s3_errors(f"reading a kept image from {self.url}"):
            try:
                response = self._s3.get_object(Bucket=self.bucket, Key=self.prefix + name)
            except Exception as error:
                if error_code(error) in ("NoSuchKey", "404"):
                    raise FileNotFoundError(f"{self.url}/{name}") from error
                raise
            return bytes(response["Body"].read())

    def delete(self, name: str) -> None:
        # S3 answers a delete of a missing key with success too.
        with s3_errors(f"deleting a kept image from {self.url}"):
            self._s3.delete_object(Bucket=self.bucket, Key=self.prefix + name)
