"""What `sam build` ships: the layer holds `python/tally` and its dependencies built for the
template's runtime and architecture, and no developer tooling; each function holds its
handler only. `devtools/bootstrap.py test` runs `sam build` and names the build directory
in TALLY_SAM_BUILD_DIR; the artifact tests skip, saying so, without it."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from tally_dev import template as tpl
from tests.support import ROOT

RAW = tpl.load().raw
RESOURCES = RAW["Resources"]
LAYER_REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
# ELF e_machine values (the ELF specification): what each Lambda architecture runs.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}
DEV_TOOLING = ("tally_dev", "moto", "pytest", "yaml", "hypothesis", "schemathesis", "cfnlint")


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def _architecture() -> str:
    (function_architecture,) = RAW["Globals"]["Function"]["Architectures"]
    layer = RESOURCES["SharedLayer"]
    assert layer["Metadata"]["BuildArchitecture"] == function_architecture
    assert layer["Properties"]["CompatibleArchitectures"] == [function_architecture]
    return str(function_architecture)


# --- Always: the inputs of the build --------------------------------------------------------


def test_every_built_function_has_a_requirements_file() -> None:
    """sam build prints "requirements.txt file not found" for a function without one; the
    functions need only the layer, so theirs are empty (comments)."""
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Serverless::Function":
            requirements = ROOT / resource["Properties"]["CodeUri"] / "requirements.txt"
            assert requirements.is_file(), name
            assert _pins(requirements.read_text().splitlines()) == {}, name


def test_the_layer_pins_what_the_package_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    base = _pins(pyproject["project"]["dependencies"])
    layer = _pins(LAYER_REQUIREMENTS.read_text().splitlines())
    assert layer
    assert {name: base.get(name) for name in layer} == layer
    assert (
        RESOURCES["SharedLayer"]["Metadata"]["BuildMethod"] == RAW["Globals"]["Function"]["Runtime"]
    )


# --- The artifacts of `sam build` -----------------------------------------------------------


@pytest.fixture(scope="module")
def build_dir() -> Path:
    given = os.environ.get("TALLY_SAM_BUILD_DIR")
    if not given:
        pytest.skip(
            "no sam build output: `python3 devtools/bootstrap.py test` runs sam build (with "
            "the template's CPython) and sets TALLY_SAM_BUILD_DIR"
        )
    path = Path(given)
    assert (path / "template.yaml").is_file(), f"{path} holds no sam build output"
    return path


def _elf_machine(path: Path) -> int | None:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def test_the_layer_holds_the_tally_package(build_dir: Path) -> None:
    built = build_dir / "SharedLayer" / "python" / "tally"
    source = ROOT / "layers" / "shared" / "tally"
    assert {p.relative_to(built) for p in built.rglob("*.py")} == {
        p.relative_to(source) for p in source.rglob("*.py")
    }


def test_the_layer_holds_the_pinned_dependencies(build_dir: Path) -> None:
    python = build_dir / "SharedLayer" / "python"
    installed = {
        match.group(1).lower().replace("_", "-"): match.group(2)
        for info in python.glob("*.dist-info")
        if (match := re.fullmatch(r"(.+)-([^-]+)\.dist-info", info.name))
    }
    for name, version in _pins(LAYER_REQUIREMENTS.read_text().splitlines()).items():
        assert installed.get(name) == version, name


def test_compiled_modules_are_for_the_template_runtime_and_architecture(build_dir: Path) -> None:
    python = build_dir / "SharedLayer" / "python"
    runtime = RAW["Globals"]["Function"]["Runtime"].removeprefix("python").replace(".", "")
    modules = list(python.rglob("*.so"))
    assert any(path.parent.name == "pydantic_core" for path in modules)
    for path in modules:
        assert _elf_machine(path) == ELF_MACHINES[_architecture()], path
        assert f"cpython-{runtime}-" in path.name, path


def test_no_developer_tooling_ships(build_dir: Path) -> None:
    for name in DEV_TOOLING:
        assert not list(build_dir.glob(f"*/python/{name}")), name
        assert not list(build_dir.glob(f"*/{name}")), name
    # The functions take `tally` from the layer; a copy of their own would shadow it.
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert (build_dir / name / "app.py").is_file(), name
            assert not (build_dir / name / "tally").exists(), name
