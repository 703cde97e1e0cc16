"""Cold start: handler import time against `import boto3`, and the deployed layer's size.

`python -m bench.coldstart` prints the import times alone: each handler, `import boto3`
and the Powertools floor (FLOOR), medians of interleaved fresh interpreters. On a shared
machine those medians move by 0.1x from one minute to the next; `--instructions` counts
the instructions each import executes instead (valgrind), the same on every run: what
a change saves, though not what it costs in time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tally_dev import template

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "shared"
_TIMER = (
    "import time; started = time.perf_counter(); {statement}; print(time.perf_counter() - started)"
)
# What every API handler imports before any of the layer's own code: Powertools' REST
# resolver with request validation (which loads pydantic), its Logger and Metrics. The
# handlers cannot import faster than this; the rest of their time is the layer's.
FLOOR = (
    "from aws_lambda_powertools import Logger, Metrics; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "APIGatewayRestResolver(enable_validation=True)"
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


def _with_code(env: dict[str, str], code_dir: Path | None) -> dict[str, str]:
    """`env` for a function whose code is `code_dir`: Lambda puts the function's code first
    on sys.path, then the layer."""
    if code_dir is None:
        return env
    return {**env, "PYTHONPATH": f"{code_dir}{os.pathsep}{env['PYTHONPATH']}"}


def _once(statement: str, code_dir: Path | None, env: dict[str, str]) -> float:
    output = subprocess.run(  # noqa: S603 - this interpreter, a fixed statement
        [sys.executable, "-S", "-c", _TIMER.format(statement=statement)],
        env=_with_code(env, code_dir),
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return float(output.stdout.strip().splitlines()[-1])


def instructions(statement: str, code_dir: Path | None, env: dict[str, str]) -> int:
    """Instructions a fresh interpreter executes for `statement` and its own start-up
    (valgrind's callgrind, the bytecode caches written by a first plain run)."""
    _once(statement, code_dir, env)
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    output = subprocess.run(  # noqa: S603 - valgrind on this interpreter, a fixed statement
        [*command, sys.executable, "-S", "-c", statement],
        env=_with_code(env, code_dir),
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    found = re.search(r"Collected : (\d+)", output.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {output.stderr[-300:]}")
    return int(found.group(1))


def import_instructions() -> dict[str, int]:
    """Instructions of `import boto3`, the floor and each handler's `import app`, less an
    interpreter that imports nothing (two at a time: one per core)."""
    env = _environment()
    jobs: dict[str, tuple[str, Path | None]] = {
        "": ("pass", None),
        "boto3": ("import boto3", None),
        "floor": (FLOOR, None),
    }
    jobs.update({group: ("import app", ROOT / "functions" / group) for group in handler_groups()})
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda job: instructions(job[0], job[1], env), jobs.values())
        counts = dict(zip(jobs, found, strict=True))
    start_up = counts.pop("")
    return {name: count - start_up for name, count in counts.items()}


@dataclass
class ImportTimes:
    runs: int
    boto3_ms: float
    floor_ms: float = 0.0
    handlers_ms: dict[str, float] = field(default_factory=dict)
    breakdown: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def ratio(self, group: str) -> float:
        return self.handlers_ms[group] / self.boto3_ms


def handler_groups() -> list[str]:
    groups = {route.handler.group for route in template.load().routes}
    groups.update(mapping.handler.group for mapping in template.load().stream_mappings)
    return sorted(g for g in groups if (ROOT / "functions" / g / "app.py").exists())


def import_times(runs: int = 11, limit: float = 1.3) -> ImportTimes:
    """Median import time per handler in fresh interpreters, with `import boto3` and the
    Powertools floor; runs interleave them so a burst of load from other processes hits
    all of them alike."""
    env = _environment()
    groups = handler_groups()
    statements = {"boto3": "import boto3", "floor": FLOOR}
    samples: dict[str, list[float]] = {name: [] for name in [*statements, *groups]}
    # One unmeasured round writes the bytecode caches, as a deployed package ships them.
    for run in range(runs + 1):
        for name, values in samples.items():
            code_dir = None if name in statements else ROOT / "functions" / name
            seconds = _once(statements.get(name, "import app"), code_dir, env)
            if run:
                values.append(seconds)
    result = ImportTimes(
        runs=runs,
        boto3_ms=statistics.median(samples["boto3"]) * 1000,
        floor_ms=statistics.median(samples["floor"]) * 1000,
    )
    for group in groups:
        result.handlers_ms[group] = statistics.median(samples[group]) * 1000
        if result.ratio(group) > limit:
            result.breakdown[group] = import_breakdown(group, env)
    return result


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_breakdown(group: str, env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """The costliest imports made directly by a handler module (`python -X importtime`,
    cumulative ms): where its import time goes."""
    output = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", "import app"],
        env=_with_code(env, ROOT / "functions" / group),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__)
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per module")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (valgrind), not time"
    )
    args = parser.parse_args(argv)
    if args.instructions:
        counts = import_instructions()
        for name, count in counts.items():
            print(f"{name:>24} {count / 1e6:7.1f} M instructions  {count / counts['boto3']:.3f}x")
        return 0
    times = import_times(args.runs, limit=float("inf"))
    print(f"median of {times.runs} interleaved runs; an API handler's layer share: handler - floor")
    print(f"{'import boto3':>24} {times.boto3_ms:6.1f} ms  1.00x")
    print(
        f"{'floor (Powertools)':>24} {times.floor_ms:6.1f} ms  {times.floor_ms / times.boto3_ms:.2f}x"
    )
    for group, ms in times.handlers_ms.items():
        share = ms - times.floor_ms
        print(
            f"{group:>24} {ms:6.1f} ms  {times.ratio(group):.2f}x  layer's share {share:+5.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
