"""The container images: built from the repository with the Makefile's own install step,
multi-stage, run as a non-root user, one service each. (No Docker engine runs here: what
can be checked without one is checked.)"""

from __future__ import annotations

import importlib
import importlib.util
import re

import pytest

from tests.conftest import ROOT

SERVICES = ("gateway", "preprocessor", "inference")


def _instructions(service: str) -> list[tuple[str, str]]:
    text = (ROOT / service / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_installs_as_make_does_and_runs_its_service_unprivileged(
    service: str,
) -> None:
    steps = _instructions(service)
    stages = [argument for kind, argument in steps if kind == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build"), "multi-stage: build, then run"
    assert all(stage.startswith("python:3.12-slim") for stage in stages)
    runs = " ".join(argument for kind, argument in steps if kind == "RUN")
    install = re.search(r"make VENV=(\S+) (\S+)/\.serve-installed", runs)
    assert install and install.group(1) == install.group(2), "the Makefile's serving install"
    assert "$(VENV)/.serve-installed:" in (ROOT / "Makefile").read_text()
    assert "train" not in runs and "torch" not in runs, "serving images carry no torch"
    users = [argument for kind, argument in steps if kind == "USER"]
    assert users and users[-1] not in ("0", "root"), "the service does not run as root"
    command = [argument for kind, argument in steps if kind == "CMD"][-1]
    assert command == f'["python", "-m", "{service}"]'
    assert importlib.util.find_spec(f"{service}.__main__") is not None


def test_the_build_context_leaves_out_what_images_do_not_need() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".git", ".venv", "tests", "**/__pycache__"):
        assert path in ignored
    # What the install needs stays in.
    for needed in ("pyproject.toml", "README.md", "Makefile", "models"):
        assert needed not in ignored


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_listens_beyond_its_own_pod(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service listens on 127.0.0.1 unless told: the image tells it, by the name its
    settings really read."""
    env = " ".join(argument for kind, argument in _instructions(service) if kind == "ENV")
    name = f"SKINSCAN_{service.upper()}_HOST"
    assert f"{name}=0.0.0.0" in env
    settings_type = {
        "gateway": "gateway.config:GatewaySettings",
        "preprocessor": "preprocessor.config:PreprocessorSettings",
        "inference": "inference.config:InferenceSettings",
    }[service]
    module, _, cls = settings_type.partition(":")
    monkeypatch.setenv(name, "0.0.0.0")
    settings = getattr(importlib.import_module(module), cls)()
    assert settings.host == "0.0.0.0"


def test_the_training_image_installs_as_make_does_and_runs_skinscan_train_unprivileged() -> None:
    steps = _instructions("trainer")
    stages = [argument for kind, argument in steps if kind == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    runs = " ".join(argument for kind, argument in steps if kind == "RUN")
    install = re.search(r"make VENV=(\S+) (\S+)/\.train-installed", runs)
    assert install and install.group(1) == install.group(2), "the Makefile's training install"
    assert "$(VENV)/.train-installed:" in (ROOT / "Makefile").read_text()
    users = [argument for kind, argument in steps if kind == "USER"]
    assert users and users[-1] not in ("0", "root")
    entrypoint = [argument for kind, argument in steps if kind == "ENTRYPOINT"][-1]
    assert entrypoint == '["skinscan", "train"]'
