"""The EKS cluster's Terraform: formatted, and valid against the pinned AWS provider,
offline (the provider is installed as a local plugin directory on these machines)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONFIGURATION = ROOT / "k8s" / "eks"
PLUGIN_ROOTS = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
)


def _terraform() -> tuple[str, Path]:
    binary = shutil.which("terraform")
    configured = os.environ.get("SKINSCAN_TF_PLUGIN_DIR")
    roots = [Path(configured)] if configured else list(PLUGIN_ROOTS)
    plugins = next(
        (
            root
            for root in roots
            if any(root.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"))
        ),
        None,
    )
    if binary is None or plugins is None:
        reason = "terraform" if binary is None else "the AWS provider plugin directory"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} is missing on this CI machine")
        pytest.skip(f"{reason} is not installed")
    return binary, plugins


def _run(*arguments: str, cwd: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arguments,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_DATA_DIR": str(data), "TF_IN_AUTOMATION": "1", "NO_COLOR": "1"},
    )


def test_the_cluster_configuration_is_formatted_and_valid(tmp_path: Path) -> None:
    terraform, plugins = _terraform()
    formatted = _run(terraform, "fmt", "-check", "-recursive", cwd=CONFIGURATION, data=tmp_path)
    assert formatted.returncode == 0, f"run terraform fmt on: {formatted.stdout}"
    # A copy: init writes its working files, and the repository stays as it is.
    work = tmp_path / "eks"
    shutil.copytree(CONFIGURATION, work)
    data = tmp_path / "data"
    init = _run(
        terraform,
        "init",
        "-backend=false",
        "-input=false",
        f"-plugin-dir={plugins}",
        cwd=work,
        data=data,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    valid = _run(terraform, "validate", "-json", cwd=work, data=data)
    assert valid.returncode == 0 and '"valid": true' in valid.stdout, valid.stdout + valid.stderr
    # The lock file pins the provider CI validated against.
    lock = (CONFIGURATION / ".terraform.lock.hcl").read_text()
    assert 'version     = "5.100.0"' in lock
