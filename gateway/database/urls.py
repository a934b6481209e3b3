"""From the one SKINSCAN_DATABASE_URL to the drivers that use it.

Users write `sqlite:///path/skinscan.db` or `postgresql://user@host/db`; the
gateway talks to the database asynchronously (aiosqlite, psycopg's async
mode) and Alembic migrates it synchronously (sqlite3, psycopg), so each URL
gets its driver here rather than asking users to know SQLAlchemy's spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

__all__ = ["DatabaseUrls", "database_urls"]

_DRIVERS = {
    "sqlite": ("sqlite+aiosqlite", "sqlite"),
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
    "postgres": ("postgresql+psycopg", "postgresql+psycopg"),
}


@dataclass(frozen=True)
class DatabaseUrls:
    async_url: str
    sync_url: str
    backend: str  # "sqlite" or "postgresql"

    def redacted(self) -> str:
        """The URL with any password hidden, for logs."""
        return make_url(self.sync_url).render_as_string(hide_password=True)


def database_urls(url: str) -> DatabaseUrls:
    try:
        parsed = make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError, or ValueError for a bad port
        raise ValueError(f"not a database URL: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(
            f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    async_driver, sync_driver = _DRIVERS[backend]
    return DatabaseUrls(
        async_url=parsed.set(drivername=async_driver).render_as_string(hide_password=False),
        sync_url=parsed.set(drivername=sync_driver).render_as_string(hide_password=False),
        backend="sqlite" if backend == "sqlite" else "postgresql",
    )
