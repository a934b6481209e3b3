"""`skinscan backup DIR` and `skinscan restore DIR`: the embedded records database.

A backup is a folder: `skinscan.db`, a consistent copy taken with SQLite's online
backup (safe while `skinscan up` runs and writes), and `images/`, the kept images
when they are in the state folder. The field-encryption keys are deliberately not
in it: with them a backup could be read by whoever finds it. Keep them apart (the
state folder's key files, or SKINSCAN_FIELD_KEYS and SKINSCAN_SEARCH_KEY).

Restoring needs `skinscan up` stopped; what it replaces is kept beside, renamed
`*.before-restore-<time>`. A PostgreSQL database is backed up with PostgreSQL's own
tools (README: point-in-time recovery).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from skinscan_cli.state_lock import StateInUse, holding_state
from skinscan_kit.settings import DatabaseSettings, SettingsError, read_settings

__all__ = ["add_commands"]

DATABASE_FILE = "skinscan.db"
IMAGES = "images"


class BackupError(RuntimeError):
    pass


def _embedded(settings: DatabaseSettings) -> Path:
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        raise BackupError(
            "the records are in PostgreSQL (SKINSCAN_DATABASE_URL): back them up with "
            "PostgreSQL's tools, pg_dump or point-in-time recovery (README, Backups)"
        )
    return Path(settings.database.removeprefix("sqlite:///"))


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its WAL included)."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _check(database: Path) -> None:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            (verdict,) = db.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{database} is not a skinscan backup: {error}") from error
    if verdict != "ok":
        raise BackupError(f"{database} is damaged: {verdict}")
    if not {"alembic_version", "clinics"} <= tables:
        raise BackupError(f"{database} is not a skinscan records database")


def backup(settings: DatabaseSettings, target: Path) -> str:
    database = _embedded(settings)
    if not database.is_file():
        raise BackupError(f"there are no records to back up yet ({database} does not exist)")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    _copy_database(database, target / DATABASE_FILE)
    _check(target / DATABASE_FILE)
    images = database.parent / IMAGES
    count = 0
    if images.is_dir():
        shutil.copytree(images, target / IMAGES)
        count = sum(1 for _ in (target / IMAGES).iterdir())
    return (
        f"backed up {database} and {count} kept images to {target}; the field-encryption keys "
        "are not in it: keep them apart, the backup cannot be read without them"
    )


def restore(settings: DatabaseSettings, source: Path) -> str:
    database = _embedded(settings)
    _check(source / DATABASE_FILE)
    with holding_state(settings.state_dir):
        stamp = time.strftime("%Y%m%dT%H%M%S")
        kept = []
        for path in (database, database.parent / IMAGES):
            if path.exists():
                aside = path.with_name(f"{path.name}.before-restore-{stamp}")
                path.rename(aside)
                kept.append(aside.name)
        for leftover in (f"{database}-wal", f"{database}-shm"):
            Path(leftover).unlink(missing_ok=True)
        database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _copy_database(source / DATABASE_FILE, database)
        if (source / IMAGES).is_dir():
            shutil.copytree(source / IMAGES, database.parent / IMAGES)
    before = f" (what it replaced is kept as {', '.join(kept)})" if kept else ""
    return f"restored the records from {source}{before}"


def _run(action: str, args: argparse.Namespace) -> int:
    try:
        settings = read_settings(DatabaseSettings)
        done = (
            backup(settings, args.folder) if action == "backup" else restore(settings, args.folder)
        )
    except (SettingsError, BackupError, StateInUse, OSError, sqlite3.Error) as error:
        print(f"skinscan {action}: {error}", file=sys.stderr)
        return 2 if isinstance(error, SettingsError | BackupError) else 1
    print(done)
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    saving = commands.add_parser(
        "backup", help="copy the embedded records database (and kept images) to a new folder"
    )
    saving.add_argument("folder", type=Path, help="a new, empty folder")
    saving.set_defaults(run=lambda args: _run("backup", args))
    restoring = commands.add_parser(
        "restore", help="replace the embedded records with a backup (skinscan up stopped)"
    )
    restoring.add_argument("folder", type=Path, help="a folder `skinscan backup` wrote")
    restoring.set_defaults(run=lambda args: _run("restore", args))
