"""Training data from S3 and the trained model to an S3 model repository.

`skinscan train --data s3://bucket/isic-binary/train --out s3://bucket/models`,
as the training Job on the cluster runs it: each S3 data set is copied once per
node into the data cache (kept between runs, so a resumed job downloads only
what is missing; under torchrun the first process of each node downloads while
the others wait for it), training runs on local files as always, and the new
version is uploaded under the repository's next number.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from skinscan_model.s3 import download_prefix
from skinscan_model.s3_store import S3ModelStore
from skinscan_model.store import ModelVersion

__all__ = ["is_remote", "local_data", "publish", "staging_repository"]

# How long the other processes of a node wait for the first to download the data.
_DOWNLOAD_WAIT_S = 4 * 3600


def is_remote(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def local_data(location: str, cache: Path) -> Path:
    """The local folder holding the data set at `location` (downloaded if it is in S3)."""
    if not is_remote(location):
        return Path(location)
    target = cache / hashlib.sha256(location.encode()).hexdigest()[:16]
    done = target / ".downloaded"
    # One run's processes agree on this; a marker left by an earlier run does not count.
    run = os.environ.get("TORCHELASTIC_RUN_ID", "single")
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        target.mkdir(parents=True, exist_ok=True)
        done.unlink(missing_ok=True)
        fetched = download_prefix(location, target)
        print(f"{location}: {fetched} files downloaded to {target}", flush=True)
        done.write_text(run)
        return target
    give_up = time.monotonic() + _DOWNLOAD_WAIT_S
    while not (done.is_file() and done.read_text() == run):
        if time.monotonic() > give_up:
            raise TimeoutError(f"{location} was not downloaded to {target} in time")
        time.sleep(2)
    return target


def staging_repository() -> Path:
    """Where a run whose --out is in S3 writes its version before the upload."""
    return Path(tempfile.mkdtemp(prefix="skinscan-train-out-"))


def publish(version: ModelVersion, repository: str, cache: Path) -> ModelVersion:
    """Uploads a trained version to an S3 repository as its next number."""
    published = S3ModelStore(repository, cache).publish_next(version)
    print(f"published {published.name} version {published.version} to {repository}", flush=True)
    return published
