"""`pip install .` (no extras) gives an operator `tally keys create` without the dev tools:
no moto, PyYAML or pytest. Installs into a fresh venv; pip's cache keeps reruns quick."""

from __future__ import annotations

import subprocess
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.support import ROOT

ABSENT = ("moto", "yaml", "pytest", "hypothesis", "cfnlint")
PRESENT = ("tally", "tally_dev", "boto3", "pydantic", "aws_lambda_powertools", "tqdm")


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def base_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding `pip install .`; its bin directory."""
    target = tmp_path_factory.mktemp("base-install") / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-compile", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        if not _pypi_reachable():
            pytest.skip(f"PyPI is unreachable, so `pip install .` failed: {install.stderr[-300:]}")
        pytest.fail(f"pip install . failed:\n{install.stderr}")
    return target / "bin"


def test_the_base_install_has_the_cli_and_not_the_dev_tools(base_install: Path) -> None:
    probe = (
        "import importlib.util as u; "
        f"print([m for m in {PRESENT!r} if not u.find_spec(m)], "
        f"[m for m in {ABSENT!r} if u.find_spec(m)])"
    )
    checked = subprocess.run(
        [base_install / "python", "-c", probe], capture_output=True, text=True, check=True
    )
    assert checked.stdout.strip() == "[] []"


def test_keys_create_runs_from_the_base_install(base_install: Path) -> None:
    tally = str(base_install / "tally")
    helped = subprocess.run(
        [tally, "keys", "create", "--help"], capture_output=True, text=True, check=False
    )
    assert helped.returncode == 0, helped.stderr
    assert "--stack" in helped.stdout
    assert "--account platform --scopes admin" in " ".join(helped.stdout.split())
    # Without a target it refuses (exit 2) before any AWS call, naming what to pass.
    refused = subprocess.run(
        [tally, "keys", "create", "--account", "platform", "--scopes", "admin"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(base_install)},
    )
    assert refused.returncode == 2, refused.stderr
    assert "Pass --stack NAME" in refused.stderr
