"""The connection to the records database, and migrating it to the current schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from gateway.database.urls import DatabaseUrls, database_urls
from skinscan.errors import UnavailableError

__all__ = ["Database", "alembic_config", "downgrade", "upgrade"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # SQLite leaves foreign keys unenforced unless asked, per connection; WAL
    # lets readers carry on while a writer commits.
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _prepare_sqlite_folder(urls: DatabaseUrls) -> None:
    from sqlalchemy.engine import make_url

    database = make_url(urls.sync_url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def alembic_config(urls: DatabaseUrls) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Percent signs in a password would read as interpolation to configparser.
    config.set_main_option("sqlalchemy.url", urls.sync_url.replace("%", "%%"))
    return config


def _migrate(urls: DatabaseUrls, revision: str, up: bool) -> None:
    if urls.backend == "sqlite":
        _prepare_sqlite_folder(urls)
    engine = create_engine(urls.sync_url)
    if urls.backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.begin() as connection:
            config = alembic_config(urls)
            config.attributes["connection"] = connection
            if up:
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the database to `revision` (the current schema); safe to run at every start."""
    _migrate(database_urls(url), revision, up=True)


def downgrade(url: str, revision: str) -> None:
    _migrate(database_urls(url), revision, up=False)


def _unreachable(error: Exception) -> UnavailableError:
    # The driver's message can name hosts and users: it goes to the log, not to callers.
    log.warning("records database unreachable: %s", error)
    return UnavailableError("the records database cannot be reached now; retry shortly", 2.0)


class Database:
    """An async engine and its sessions. One per process; `close()` at shutdown."""

    def __init__(self, url: str) -> None:
        self.urls = database_urls(url)
        if self.urls.backend == "sqlite":
            _prepare_sqlite_folder(self.urls)
        # A server's connections can die under the pool (restart, idle timeout): test each
        # one as it is taken. An SQLite file cannot, and the test would be one more query.
        self.engine = create_async_engine(
            self.urls.async_url, pool_pre_ping=self.urls.backend != "sqlite"
        )
        if self.urls.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together at the end, or not at all on an error.

        A database that cannot be reached (restarting, network) is an UnavailableError
        (UNAVAILABLE / 503, retry later), not an internal error; nothing was written.
        """
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except (OperationalError, InterfaceError) as error:
            raise _unreachable(error) from error
        except DBAPIError as error:
            if error.connection_invalidated:
                raise _unreachable(error) from error
            raise

    async def ping(self) -> None:
        """Raises UnavailableError unless the database answers a query now."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except DBAPIError as error:
            raise _unreachable(error) from error

    async def close(self) -> None:
        await self.engine.dispose()
