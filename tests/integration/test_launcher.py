"""`skinscan up` refuses to start, with a reason, when it cannot serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


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


def test_skinscan_up_with_an_invalid_setting_names_it(tmp_path: Path) -> None:
    env = {"SKINSCAN_INFERENCE_PORT": "port", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "skinscan_cli", "up"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SKINSCAN_INFERENCE_PORT='port'" in result.stderr
    assert "Traceback" not in result.stderr
