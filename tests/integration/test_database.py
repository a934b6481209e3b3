"""Migrations up and down on SQLite and PostgreSQL, and the schema they build is schema.py's."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from gateway.database import database_urls, upgrade
from gateway.database.engine import downgrade
from gateway.database.schema import Base

pytestmark = pytest.mark.integration


def _tables(url: str) -> set[str]:
    engine = create_engine(database_urls(url).sync_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_build_the_schema_and_take_it_down_again(database_url: str) -> None:
    upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)
    upgrade(database_url)  # again, as every start does: nothing to do
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)


def test_migrations_match_the_schema(database_url: str) -> None:
    """A change to schema.py without its migration fails here."""
    upgrade(database_url)
    engine = create_engine(database_urls(database_url).sync_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/x", "not a url", "sqlite+pysqlite:///x.db"],
)
def test_unsupported_or_malformed_urls_are_refused_with_a_reason(url: str) -> None:
    if url.startswith("sqlite"):
        assert database_urls(url).backend == "sqlite"
        return
    with pytest.raises(ValueError, match="database"):
        database_urls(url)
