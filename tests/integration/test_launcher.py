"""`skinscan up` refuses to start, with a reason, when it cannot serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _up(**settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skinscan_cli", "up"],
        capture_output=True,
        text=True,
        env={**settings, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_skinscan_up_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    result = _up(SKINSCAN_MODEL_REPOSITORY=str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no model to serve" in result.stderr and "skinscan train" in result.stderr


def test_skinscan_up_with_an_invalid_setting_names_it() -> None:
    result = _up(SKINSCAN_INFERENCE_PORT="port")
    assert result.returncode == 2
    assert "SKINSCAN_INFERENCE_PORT='port'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_skinscan_up_on_the_same_state_is_refused(
    model_repository: Path, tmp_path: Path
) -> None:
    from skinscan_cli.state_lock import holding_state
    from tests.conftest import TEST_MODEL_NAME

    with holding_state(tmp_path / "state"):
        result = _up(
            SKINSCAN_MODEL_REPOSITORY=str(model_repository),
            SKINSCAN_MODEL_NAME=TEST_MODEL_NAME,
            SKINSCAN_STATE_DIR=str(tmp_path / "state"),
        )
    assert result.returncode == 2 and "in use by a running `skinscan up`" in result.stderr
    assert "Traceback" not in result.stderr
