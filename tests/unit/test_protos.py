"""The committed stubs are exactly what `make proto` generates, and buf lint is clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def _stubs(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in root.rglob("*_pb2*")
        if p.suffix in (".py", ".pyi") and ".venv" not in p.parts
    }


def test_committed_stubs_are_not_stale(tmp_path: Path) -> None:
    buf = shutil.which("buf", path=str(ROOT / ".venv" / "bin")) or shutil.which("buf")
    assert buf, "buf (PyPI buf-bin) is part of the dev extra"
    subprocess.run([buf, "generate", "--output", str(tmp_path)], cwd=ROOT, check=True)
    generated = _stubs(tmp_path)
    committed = {
        k: v
        for k, v in _stubs(ROOT).items()
        if k in generated or k.startswith(("skinscan/", "inference/"))
    }
    assert generated, "buf generated nothing"
    assert committed == generated, "stubs are stale: run `make proto` and commit the result"
