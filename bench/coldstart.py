"""Cold start: handler import time against `import boto3`, and the deployed layer's size."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tally_dev import template

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "shared"
_TIMER = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def _environment() -> dict[str, str]:
    """The template's Globals environment (POWERTOOLS_*, table names) and Lambda's path:
    the layer, then the installed packages as plain directories. Interpreters run with
    -S, so the dev venv's editable-install hook (.pth), which Lambda does not have, is
    not imported and timed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "TALLY_"))}
    env.update(template.load().environment)
    env["PYTHONPATH"] = os.pathsep.join([str(LAYER), sysconfig.get_paths()["purelib"]])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _once(module: str, code_dir: Path | None, env: dict[str, str]) -> float:
    run_env = dict(env)
    if code_dir is not None:
        # Lambda puts the function's code first on sys.path, then the layer.
        run_env["PYTHONPATH"] = f"{code_dir}{os.pathsep}{env['PYTHONPATH']}"
    output = subprocess.run(  # noqa: S603 - this interpreter, a fixed statement
        [sys.executable, "-S", "-c", _TIMER.format(module=module)],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return float(output.stdout.strip().splitlines()[-1])


@dataclass
class ImportTimes:
    runs: int
    boto3_ms: float
    handlers_ms: dict[str, float] = field(default_factory=dict)
    breakdown: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def ratio(self, group: str) -> float:
        return self.handlers_ms[group] / self.boto3_ms


def handler_groups() -> list[str]:
    groups = {route.handler.group for route in template.load().routes}
    groups.update(mapping.handler.group for mapping in template.load().stream_mappings)
    return sorted(g for g in groups if (ROOT / "functions" / g / "app.py").exists())


def import_times(runs: int = 7, limit: float = 1.3) -> ImportTimes:
    """Median import time per handler in fresh interpreters; runs interleave the modules
    so a burst of load from other processes hits all of them alike."""
    env = _environment()
    groups = handler_groups()
    samples: dict[str, list[float]] = {name: [] for name in ["boto3", *groups]}
    # One unmeasured round writes the bytecode caches, as a deployed package ships them.
    for run in range(runs + 1):
        for name, values in samples.items():
            code_dir = None if name == "boto3" else ROOT / "functions" / name
            seconds = _once("boto3" if name == "boto3" else "app", code_dir, env)
            if run:
                values.append(seconds)
    result = ImportTimes(runs=runs, boto3_ms=statistics.median(samples["boto3"]) * 1000)
    for group in groups:
        result.handlers_ms[group] = statistics.median(samples[group]) * 1000
        if result.ratio(group) > limit:
            result.breakdown[group] = import_breakdown(group, env)
    return result


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_breakdown(group: str, env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """The costliest imports made directly by a handler module (`python -X importtime`,
    cumulative ms): where its import time goes."""
    run_env = {**env, "PYTHONPATH": f"{ROOT / 'functions' / group}{os.pathsep}{env['PYTHONPATH']}"}
    output = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    costs: list[tuple[str, float]] = []
    for line in output.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        # One space marks `app` itself, three the modules it imports directly.
        if match and len(match.group(3)) == 3:
            costs.append((match.group(4), int(match.group(2)) / 1000))
    return sorted(costs, key=lambda cost: -cost[1])[:top]


@dataclass
class LayerSize:
    unzipped_bytes: int | None
    zipped_bytes: int | None
    packages: list[tuple[str, int]]
    note: str


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def layer_size() -> LayerSize:
    """`pip install -r requirements.txt --target` for the template's runtime and architecture
    (python3.13, arm64), plus the tally package: what the layer deploys."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "python"
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-r", str(LAYER / "requirements.txt"), "--target", str(target),
            "--platform", "manylinux2014_aarch64", "--python-version", "3.13",
            "--implementation", "cp", "--only-binary=:all:",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            return LayerSize(None, None, [], f"pip failed: {done.stderr.strip()[-300:]}")
        shutil.copytree(
            LAYER / "tally", target / "tally", ignore=shutil.ignore_patterns("__pycache__")
        )
        packages = sorted(
            ((entry.name, _tree_bytes(entry)) for entry in target.iterdir() if entry.is_dir()),
            key=lambda package: -package[1],
        )
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in target.rglob("*"):
                if path.is_file():
                    bundle.write(path, path.relative_to(scratch))
        return LayerSize(
            unzipped_bytes=_tree_bytes(target),
            zipped_bytes=archive.stat().st_size,
            packages=packages[:8],
            note="python3.13 arm64 wheels; boto3/botocore come with the Lambda runtime "
            "and are not part of the layer unless a requirement pulls them in",
        )
