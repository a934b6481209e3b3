"""The import graph of docs/architecture.md, checked on every import of our own code.

Each package may import only the packages below it; a service never imports
another service, and nothing imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

SDK = {"skinscan"}
ALLOWED = {
    "skinscan": SDK,
    "skinscan_model": SDK | {"skinscan_model"},
    "skinscan_kit": SDK | {"skinscan_kit", "skinscan_model"},
    # The image pipeline: a library the preprocessor serves and a gateway may run itself.
    "skinscan_pipeline": SDK
    | {"skinscan_pipeline", "skinscan_kit", "skinscan_model", "skinscan_internal"},
    "gateway": SDK
    | {"gateway", "skinscan_pipeline", "skinscan_kit", "skinscan_model", "skinscan_internal"},
    "preprocessor": SDK
    | {"preprocessor", "skinscan_pipeline", "skinscan_kit", "skinscan_model", "skinscan_internal"},
    "inference": SDK | {"inference", "skinscan_kit", "skinscan_model", "skinscan_internal"},
    "trainer": SDK | {"trainer", "skinscan_model"},
    # The top: `skinscan bench` measures the served file through inference's own
    # loader, so the limit it reports is the session the service runs.
    "skinscan_cli": SDK
    | {"skinscan_cli", "skinscan_kit", "skinscan_model", "trainer", "inference"},
}
OURS = {*ALLOWED, "skinscan_internal", "tests"}


def _imports(path: Path) -> set[str]:
    """Top-level packages named by every import in the file, at any depth (lazy ones too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_point_down(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no package {package}"
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imports(path) - ALLOWED[package])
        for path in files
        if "_pb2" not in path.name and _imports(path) - ALLOWED[package]
    }
    assert wrong == {}, f"{package} may import only {sorted(ALLOWED[package])}"


def _modules_imported(path: Path) -> set[str]:
    """Full module names of every import in the file, at any depth (lazy ones too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_our_own_imports_one_that_imports_it() -> None:
    """No import circle between two modules (the model store and its S3 store had one)."""
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts): path
        for package in ALLOWED
        for path in (ROOT / package).rglob("*.py")
        if "_pb2" not in path.name
    }
    imported = {name: _modules_imported(path) & set(modules) for name, path in modules.items()}
    circles = sorted(
        f"{a} <-> {b}" for a, names in imported.items() for b in names if a < b and a in imported[b]
    )
    assert not circles, circles


# trainer/ in the order a run goes: each layer imports only the ones before it. The run's
# definition (config, options) is the ground; the commands and the run's steps sit on top.
TRAINER_LAYERS = ("data", "network", "evaluation", "training", "export", "card")
TRAINER_GROUND = {"trainer", "trainer.config", "trainer.options"}


def test_the_trainer_s_layers_import_only_downwards() -> None:
    wrong = []
    for rank, layer in enumerate(TRAINER_LAYERS):
        below = {f"trainer.{name}" for name in TRAINER_LAYERS[: rank + 1]}
        for path in sorted((ROOT / "trainer" / layer).rglob("*.py")):
            for module in _modules_imported(path):
                if not module.startswith("trainer"):
                    continue
                if module in TRAINER_GROUND or any(
                    module == b or module.startswith(b + ".") for b in below
                ):
                    continue
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, wrong
    for path in (ROOT / "trainer").glob("*.py"):
        # Only the ground and the commands on top live beside the layers.
        assert path.stem in {
            "__init__",
            "__main__",
            "config",
            "options",
            "commands",
            "train",
            "finalize",
            "init_from",
            "continue_training",
            "evaluate",
            "run",
            "served_graph",
        }, path


def test_no_trainer_module_is_past_500_lines() -> None:
    """The style guide's size: a module past it does more than one thing."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "trainer").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert not long, long
