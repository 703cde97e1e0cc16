#!/usr/bin/env python3
"""Set up a fresh clone and run it: the two commands of the README.

    python3 devtools/bootstrap.py serve   # the service on http://127.0.0.1:3000 with demo data
    python3 devtools/bootstrap.py test    # every check and test suite (what CI runs)

Standard library only: it runs before anything is installed. It creates `.venv`
(the project, editable, with its dev extras) and `.tools/sam` (AWS SAM CLI, kept
apart because it pins its own boto3), reinstalling only when pyproject.toml changes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
SAM_VENV = ROOT / ".tools" / "sam"
SAM_CLI = "aws-sam-cli==1.170.0"
ENGINES = ("moto", "dynamodb-local")


def _bin(env_dir: Path, name: str) -> str:
    return str(env_dir / "bin" / name)


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _ensure_env(env_dir: Path, requirements: list[str], fingerprint: str) -> None:
    marker = env_dir / ".tally-installed"
    if marker.exists() and marker.read_text() == fingerprint:
        return
    print(f"== setting up {env_dir.relative_to(ROOT)}", flush=True)
    if not (env_dir / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    pip = [_bin(env_dir, "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *requirements], check=True, cwd=ROOT)
    marker.write_text(fingerprint)


def ensure_project() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    _ensure_env(VENV, ["-e", ".[dev]"], _fingerprint(pyproject, sys.version))


def ensure_sam() -> None:
    _ensure_env(SAM_VENV, [SAM_CLI], _fingerprint(SAM_CLI, sys.version))


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Debian's Chromium for the browser tests (tests/browser), which Playwright drives
    without downloading a browser of its own. Installed with apt-get when absent (as root)."""
    if CHROMIUM.exists():
        return
    print("== installing chromium (apt-get) for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"== chromium could not be installed ({error}); the browser tests will fail")


def run(step: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n== {step}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    print(
        f"== {step}: {'ok' if result.returncode == 0 else 'FAILED'} ({time.monotonic() - started:.0f} s)"
    )
    return result.returncode == 0


# --- sam build: the deployable artifacts, built as `sam deploy` would ship them -------------

SAM_BUILD_DIR = ROOT / ".aws-sam" / "build"


def _runtime_version() -> str:
    """The template's Python runtime version ("3.13" for `Runtime: python3.13`)."""
    found = re.search(
        r"^\s*Runtime:\s*python(3\.\d+)\s*$", (ROOT / "template.yaml").read_text(), re.M
    )
    return found.group(1) if found else ""


def _pyenv_root() -> Path:
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if root.stdout.strip():
            return Path(root.stdout.strip())
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _is_cpython(candidate: str, version: str) -> bool:
    # A pyenv shim on PATH is found by `which` but fails unless its version is selected.
    probe = "import platform; print(platform.python_implementation(), platform.python_version())"
    result = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, check=False)
    implementation, _, found = result.stdout.strip().partition(" ")
    return (
        result.returncode == 0 and implementation == "CPython" and found.startswith(version + ".")
    )


def find_runtime_python() -> tuple[Path | None, str]:
    """A working CPython of the template's runtime version, which `sam build` insists on
    (it validates `pythonX.Y` on PATH), or why there is none."""
    version = _runtime_version()
    if not version:
        return None, "template.yaml names no python runtime"
    on_path = [found] if (found := shutil.which(f"python{version}")) else []
    pyenv = sorted(_pyenv_root().glob(f"versions/{version}*/bin/python{version}"))
    for candidate in [*on_path, *map(str, pyenv)]:
        if _is_cpython(candidate, version):
            return Path(candidate), ""
    return None, (
        f"no CPython {version} (the template's runtime): neither python{version} on PATH nor "
        f"$(pyenv root)/versions/{version}*; install one to build the deployment artifacts"
    )


def sam_build() -> bool | None:
    """`sam build` into .aws-sam/build with the runtime's Python on PATH; None when skipped."""
    python, reason = find_runtime_python()
    if python is None:
        print(f"\n== sam build: SKIPPED ({reason})", flush=True)
        return None
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}",
    }
    command = [_bin(SAM_VENV, "sam"), "build", "--build-dir", str(SAM_BUILD_DIR)]
    return run(f"sam build (python {python})", command, env=env)


def serve(extra: list[str]) -> int:
    ensure_project()
    os.execv(_bin(VENV, "tally"), [_bin(VENV, "tally"), "serve", "--demo", *extra])
    return 0  # pragma: no cover - execv does not return


def test(engines: list[str], pytest_args: list[str]) -> int:
    ensure_project()
    ensure_sam()
    ensure_chromium()
    python = _bin(VENV, "python")
    functions = sorted(str(path) for path in (ROOT / "functions").glob("*/app.py"))
    results = [
        run("ruff check", [_bin(VENV, "ruff"), "check", "."]),
        run("ruff format", [_bin(VENV, "ruff"), "format", "--check", "."]),
        run("mypy", [_bin(VENV, "mypy")]),
        # Every handler module is named app.py, so each is checked on its own.
        *(run(f"mypy {Path(path).parent.name}", [_bin(VENV, "mypy"), path]) for path in functions),
        run("cfn-lint", [_bin(VENV, "cfn-lint"), "template.yaml"]),
        run(
            "sam validate",
            [_bin(SAM_VENV, "sam"), "validate", "--lint", "--region", "us-east-1"],
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        ),
    ]
    built = sam_build()
    if built is not None:
        results.append(built)
    # tests/unit/test_build.py inspects the artifacts (skipping, with the reason, without them).
    build_env = {"TALLY_SAM_BUILD_DIR": str(SAM_BUILD_DIR)} if built else {}
    for engine in engines:
        env = {**os.environ, **build_env, "TALLY_TEST_ENGINE": engine}
        # The unit suite does not touch DynamoDB: run it once, with the first engine.
        paths = (
            ["tests"]
            if engine == engines[0]
            else ["tests/integration", "tests/e2e", "tests/browser"]
        )
        results.append(
            run(
                f"pytest ({engine})",
                [python, "-m", "pytest", "-n", "auto", "-q", *paths, *pytest_args],
                env=env,
            )
        )
    failed = results.count(False)
    print(f"\n== {'all checks passed' if not failed else f'{failed} check(s) failed'}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="run the service locally with demo data (more `tally serve` options may follow)",
    )
    test_parser = commands.add_parser("test", help="run every check and test suite")
    test_parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        help="DynamoDB engine(s) for the integration and end-to-end suites (default: both)",
    )
    # Options the script does not know go on to `tally serve` or to pytest.
    args, passthrough = parser.parse_known_args()
    if args.command == "serve":
        return serve(passthrough)
    return test(args.engine or list(ENGINES), passthrough)


if __name__ == "__main__":
    sys.exit(main())
