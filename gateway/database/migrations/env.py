"""Alembic's entry point: migrations run on the connection gateway.database.engine hands over."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from gateway.database.schema import Base

config = context.config
connection = config.attributes.get("connection")


def _run(bound: Any) -> None:
    context.configure(
        connection=bound,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it; batch mode does that for us.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the alembic command line, for writing a new migration
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as opened:
        _run(opened)
