"""One `skinscan up` per state folder: an exclusive lock on `<state>/.skinscan-up.lock`.

Held by the launcher while it runs (the kernel drops it if the launcher dies, so a
crash never leaves a stale lock); `skinscan restore` takes it too, so records are
never replaced under a running gateway.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StateInUse", "holding_state"]


class StateInUse(RuntimeError):
    pass


@contextmanager
def holding_state(state_dir: Path) -> Iterator[None]:
    folder = state_dir.expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(folder / ".skinscan-up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise StateInUse(
                f"{folder} is in use by a running `skinscan up` (stop it first, or set "
                "SKINSCAN_STATE_DIR to another folder)"
            ) from error
        yield
    finally:
        os.close(descriptor)
