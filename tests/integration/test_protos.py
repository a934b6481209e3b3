"""The committed stubs are exactly what `make proto` generates, and live only where it puts them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

# The public API ships with the SDK; service-to-service APIs have their own root.
GENERATED_ROOTS = ("skinscan/v1/", "skinscan_internal/")


def _generated(root: Path, paths: list[str]) -> dict[str, str]:
    return {path: (root / path).read_text() for path in paths}


def test_committed_stubs_are_not_stale(tmp_path: Path) -> None:
    buf = shutil.which("buf", path=str(ROOT / ".venv" / "bin")) or shutil.which("buf")
    assert buf, "buf (PyPI buf-bin) is part of the dev extra"
    subprocess.run([buf, "generate", "--output", str(tmp_path)], cwd=ROOT, check=True)
    generated = _generated(
        tmp_path,
        [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()],
    )
    tracked = subprocess.run(
        ["git", "ls-files", "--", "*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    committed = _generated(ROOT, tracked)
    assert generated, "buf generated nothing"
    assert all(path.startswith(GENERATED_ROOTS) for path in generated), sorted(generated)
    assert committed == generated, "stubs are stale: run `make proto` and commit the result"
