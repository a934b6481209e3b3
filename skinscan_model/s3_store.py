"""A model repository in S3: `s3://bucket/prefix/<model>/<version>/<file>`.

The layout is the local repository's, so a folder synced with `aws s3 sync`
is a valid repository too. A publisher first claims a version number with a
conditional write (`.claim`), so two never mix their files under one number;
it uploads every other file, and the metadata last: a version is complete, and
seen by readers, once its `metadata.json` exists.

Serving needs a local file to load, so `fetch` downloads model.onnx and
metadata.json into a cache folder (a temporary name, then a rename) and
reuses what is already there when its SHA-256 matches the published one.
Credentials: see skinscan_model.s3.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from skinscan.errors import ConflictError, InvalidRequestError, ModelNotFoundError
from skinscan_model.metadata import ModelMetadata, sha256_of
from skinscan_model.s3 import S3Client, error_code, parse_s3_url, s3_client, s3_errors
from skinscan_model.store import (
    METADATA_FILE,
    MODEL_FILE,
    TRIALS_DIR,
    ModelVersion,
    parse_trial_record,
)

__all__ = ["S3ModelStore"]

# Marks a version number as taken by a publisher before its files are uploaded.
CLAIM_FILE = ".claim"
# What S3 answers a conditional write whose object exists (or is being written).
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")


class S3ModelStore:
    """A model repository under an S3 prefix, fetched into a local cache folder."""

    def __init__(self, url: str, cache_dir: Path, client: S3Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = parse_s3_url(url)
        self.cache_dir = cache_dir
        self._s3 = client if client is not None else s3_client()

    def __repr__(self) -> str:
        return f"S3ModelStore({self.url!r})"

    def _key(self, name: str, version: str, file: str) -> str:
        return f"{self.prefix}{name}/{version}/{file}"

    def _calling_s3(self, action: str) -> contextlib.AbstractContextManager[None]:
        return s3_errors(f"{action} in {self.url}", ModelNotFoundError)

    def _files(self, name: str) -> list[tuple[int, str]]:
        """(version number, file name) of every object under the model's prefix."""
        found = []
        with self._calling_s3(f"listing the versions of {name!r}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{name}/"
            )
            for page in pages:
                for item in page.get("Contents", []):
                    relative = item["Key"][len(self.prefix) + len(name) + 1 :]
                    version, _, file = relative.partition("/")
                    if version.isdigit():
                        found.append((int(version), file))
        return found

    def versions(self, name: str) -> list[str]:
        complete = {number for number, file in self._files(name) if file == METADATA_FILE}
        return [str(n) for n in sorted(complete)]

    def fetch(self, name: str, version: str | None = None) -> ModelVersion:
        versions = self.versions(name)
        if not versions:
            raise ModelNotFoundError(
                f"{self.url} holds no version of model {name!r}: publish one with "
                f"`skinscan models push models/{name}/<version> --to {self.url}`"
            )
        chosen = version if version is not None else versions[-1]
        if chosen not in versions:
            raise ModelNotFoundError(f"model {name!r} has no version {chosen}; it has {versions}")
        local = self.cache_dir / name / chosen
        local.mkdir(parents=True, exist_ok=True)
        # The metadata is small and says which model.onnx is the right one: always read it.
        self._download(self._key(name, chosen, METADATA_FILE), local / METADATA_FILE)
        try:
            metadata = ModelMetadata.from_dict(json.loads((local / METADATA_FILE).read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelNotFoundError(
                f"{self.url}/{name}/{chosen}/{METADATA_FILE} is invalid: {error}"
            ) from error
        cached = local / MODEL_FILE
        if not (cached.is_file() and metadata.model_sha256 == sha256_of(cached)):
            self._download(self._key(name, chosen, MODEL_FILE), cached)
        return ModelVersion(name=name, version=chosen, path=local, metadata=metadata)

    def verify(self, version: ModelVersion) -> None:
        recorded = version.metadata.model_sha256
        if not recorded:
            raise ModelNotFoundError(
                f"{self.url}/{version.name}/{version.version} records no SHA-256 of its model: "
                "publish it again with `skinscan models push`"
            )
        if sha256_of(version.onnx_path) != recorded:
            # Not kept: the next fetch downloads it again instead of trusting this copy.
            version.onnx_path.unlink(missing_ok=True)
            raise ModelNotFoundError(
                f"{self.url}/{version.name}/{version.version}/{MODEL_FILE} is not the file that "
                f"was published (its SHA-256 differs from {METADATA_FILE}): push the version again"
            )

    def put(self, source: ModelVersion) -> ModelVersion:
        """Uploads every file of a local version under the same name and number."""
        name, number = source.name, source.version
        recorded = self._checked_sha(source)
        existing = self._metadata(name, number)
        if existing is not None:
            if existing.model_sha256 == recorded:
                return source  # published before: pushing again changes nothing
            raise ConflictError(
                f"{self.url} already holds a different {name} version {number}: "
                "versions are never overwritten; publish the new model under a new number"
            )
        if not self._claim(name, number, recorded):
            raise ConflictError(
                f"another publisher is writing {name} version {number} in {self.url}"
            )
        self._upload(source, number)
        return source

    def publish_next(self, source: ModelVersion) -> ModelVersion:
        """Uploads a local version (e.g. just trained) as the repository's next number."""
        recorded = self._checked_sha(source)
        for _ in range(20):
            taken = [number for number, _ in self._files(source.name)]
            number = str(max(taken, default=0) + 1)
            if self._claim(source.name, number, recorded):
                self._upload(source, number)
                return ModelVersion(source.name, number, source.path, source.metadata)
        raise ConflictError(f"{self.url}: no free version number after 20 tries; try again")

    def _checked_sha(self, source: ModelVersion) -> str:
        recorded = source.metadata.model_sha256
        if not recorded or sha256_of(source.onnx_path) != recorded:
            raise InvalidRequestError(
                f"{source.path} is not a complete published version: its {METADATA_FILE} "
                f"records no SHA-256 of {MODEL_FILE}, or another one"
            )
        return recorded

    def _claim(self, name: str, number: str, sha: str) -> bool:
        """Takes a version number before anything is written under it (a conditional write
        of a small marker), so two publishers never mix their files under one number. A
        retry of the same model (same checksum) may go on with its own claim."""
        key = self._key(name, number, CLAIM_FILE)
        with self._calling_s3(f"claiming {name} version {number}"):
            try:
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=sha.encode(), IfNoneMatch="*")
                return True
            except Exception as error:
                if error_code(error) not in _TAKEN:
                    raise
            claimed = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return bytes(claimed).decode() == sha

    def _upload(self, source: ModelVersion, number: str) -> None:
        name = source.name
        files = sorted(p for p in source.path.iterdir() if p.is_file() and p.name != METADATA_FILE)
        with self._calling_s3(f"uploading {name} version {number}"):
            for path in files:
                self._s3.upload_file(str(path), self.bucket, self._key(name, number, path.name))
            try:
                # The metadata completes the version: written last, and only once.
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(name, number, METADATA_FILE),
                    Body=(source.path / METADATA_FILE).read_bytes(),
                    IfNoneMatch="*",
                )
            except Exception as error:
                if error_code(error) in _TAKEN:
                    raise ConflictError(
                        f"another publisher completed {name} version {number} in {self.url} "
                        "at the same time"
                    ) from error
                raise

    def trials(self, name: str) -> list[dict[str, Any]]:
        prefix = f"{self.prefix}{name}/{TRIALS_DIR}/"
        records = []
        with self._calling_s3(f"reading the trials of {name!r}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            keys = sorted(
                item["Key"]
                for page in pages
                for item in page.get("Contents", [])
                if item["Key"].endswith(".json")
            )
            for key in keys:
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                records.append(parse_trial_record(body, f"s3://{self.bucket}/{key}"))
        return records

    def record_trial(self, name: str, key: str, record: dict[str, Any]) -> str:
        target = f"{self.prefix}{name}/{TRIALS_DIR}/{key}.json"
        with self._calling_s3(f"recording a trial of {name!r}"):
            # One PUT: S3 shows an object whole or not at all.
            self._s3.put_object(
                Bucket=self.bucket,
                Key=target,
                Body=(json.dumps(record, indent=2) + "\n").encode(),
                ContentType="application/json",
            )
        return f"s3://{self.bucket}/{target}"

    def metadata(self, name: str, version: str) -> ModelMetadata:
        found = self._metadata(name, version)
        if found is None:
            raise ModelNotFoundError(f"{self.url} holds no {name} version {version}")
        return found

    def _metadata(self, name: str, version: str) -> ModelMetadata | None:
        """A published version's metadata; None when the version does not exist."""
        key = self._key(name, version, METADATA_FILE)
        with self._calling_s3(f"reading {name} version {version}"):
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except Exception as error:
                if error_code(error) in ("NoSuchKey", "404"):
                    return None
                raise
        try:
            return ModelMetadata.from_dict(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelNotFoundError(f"s3://{self.bucket}/{key} is invalid: {error}") from error

    def _download(self, key: str, target: Path) -> None:
        handle, partial = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
        os.close(handle)
        try:
            with self._calling_s3(f"downloading {key}"):
                self._s3.download_file(self.bucket, key, partial)
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)
