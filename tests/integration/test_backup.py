"""`skinscan backup` and `skinscan restore` of the embedded records database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from skinscan_cli.state_lock import holding_state
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, arguments)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def _clinics(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return sorted(row[0] for row in db.execute("SELECT name FROM clinics"))


def test_backup_and_restore_bring_the_records_back(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "SKINSCAN_STATE_DIR": str(state)}
    for name in ("SKINSCAN_DATABASE_URL", "SKINSCAN_FIELD_KEYS", "SKINSCAN_SEARCH_KEY"):
        env.pop(name, None)
    created = _run(env, "-m", "gateway.operator", "create-clinic", "North clinic", "--admin", "n.a")
    assert created.returncode == 0, created.stderr
    (state / "images").mkdir()
    (state / "images" / "a.img").write_bytes(b"encrypted image")
    database = state / "skinscan.db"

    saved = _run(env, "-m", "skinscan_cli", "backup", tmp_path / "backup")
    assert saved.returncode == 0, saved.stderr
    assert "keys are not in it" in saved.stdout
    assert _clinics(tmp_path / "backup" / "skinscan.db") == _clinics(database)
    assert (tmp_path / "backup" / "images" / "a.img").read_bytes() == b"encrypted image"
    again = _run(env, "-m", "skinscan_cli", "backup", tmp_path / "backup")
    assert again.returncode == 2 and "not empty" in again.stderr

    # After the backup: another clinic, and the kept image gone.
    later = _run(env, "-m", "gateway.operator", "create-clinic", "South clinic", "--admin", "s.a")
    assert later.returncode == 0, later.stderr
    (state / "images" / "a.img").unlink()
    assert "South clinic" in _clinics(database)

    # Not while skinscan up holds the state folder.
    with holding_state(state):
        refused = _run(env, "-m", "skinscan_cli", "restore", tmp_path / "backup")
    assert refused.returncode == 1 and "skinscan up" in refused.stderr
    assert "South clinic" in _clinics(database)

    restored = _run(env, "-m", "skinscan_cli", "restore", tmp_path / "backup")
    assert restored.returncode == 0, restored.stderr
    assert "South clinic" not in _clinics(database) and "North clinic" in _clinics(database)
    assert (state / "images" / "a.img").read_bytes() == b"encrypted image"
    kept = [p.name for p in state.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 2  # the replaced database and images, kept beside
    # The restored database serves: the operator can use it at once.
    third = _run(env, "-m", "gateway.operator", "create-clinic", "East clinic", "--admin", "e.a")
    assert third.returncode == 0, third.stderr


def test_what_cannot_be_backed_up_or_restored_is_refused_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "SKINSCAN_STATE_DIR": str(tmp_path / "state")}
    env.pop("SKINSCAN_DATABASE_URL", None)
    nothing = _run(env, "-m", "skinscan_cli", "backup", tmp_path / "backup")
    assert nothing.returncode == 2 and "no records to back up" in nothing.stderr
    (tmp_path / "bogus").mkdir()
    (tmp_path / "bogus" / "skinscan.db").write_bytes(b"not a database at all" * 100)
    bogus = _run(env, "-m", "skinscan_cli", "restore", tmp_path / "bogus")
    assert bogus.returncode == 2 and "not a skinscan backup" in bogus.stderr
    postgres = {**env, "SKINSCAN_DATABASE_URL": "postgresql://skinscan@db/skinscan"}
    refused = _run(postgres, "-m", "skinscan_cli", "backup", tmp_path / "backup")
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
    for result in (nothing, bogus, refused):
        assert "Traceback" not in result.stderr
