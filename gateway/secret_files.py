"""Secrets generated once into the state folder, for an install that configures none."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["kept_secret"]


def kept_secret(path: Path, make: bytes) -> bytes:
    """The secret in `path`, written from `make` first if absent (readable by its owner only).

    O_EXCL: two gateways starting together cannot both write one; the loser reads
    the winner's.
    """
    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as file:
                file.write(make)
    return path.read_bytes().strip()
