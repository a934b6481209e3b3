"""`skinscan train` and `evaluate` on a serving install (no `train` extra): a clear message, no traceback."""

from __future__ import annotations

import sys

import pytest

from skinscan_cli.main import main


@pytest.mark.parametrize(
    "argv",
    [["train", "--data", "isic"], ["evaluate", "--model", "models/m", "--data", "isic"]],
)
def test_without_torch_the_trainer_commands_say_what_to_install(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As on an install without the extra: importing torch fails.
    monkeypatch.setitem(sys.modules, "torch", None)
    for module in [m for m in sys.modules if m.startswith("trainer.")]:
        if module not in ("trainer.commands", "trainer.options", "trainer.config"):
            monkeypatch.delitem(sys.modules, module)
    assert main(argv) == 2
    assert "pip install 'skinscan[train]'" in capsys.readouterr().err
