from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_skinscan_up_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    env = {"SKINSCAN_MODEL_REPOSITORY": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "skinscan_cli", "up"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no model to serve" in result.stderr and "skinscan train" in result.stderr
