"""The gateway's records: one schema, SQLite or PostgreSQL, migrated by Alembic at start-up."""

from gateway.database.engine import Database, upgrade
from gateway.database.urls import DatabaseUrls, database_urls

__all__ = ["Database", "DatabaseUrls", "database_urls", "upgrade"]
