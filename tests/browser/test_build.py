"""The committed page (functions/web/static/) is exactly what the lockfile builds: `npm ci`
from web/package-lock.json, then web/build.mjs, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

WEB = ROOT / "web"
STATIC = ROOT / "functions" / "web" / "static"
SOURCES = ("package.json", "package-lock.json", "build.mjs", "index.html", "src")
# npm's words for "the registry cannot be reached" (no network is no verdict on the build).
OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network")


def test_committed_build_is_what_the_lockfile_builds(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        pytest.skip("node and npm are needed to rebuild the page (apt-get install nodejs npm)")
    work = tmp_path / "web"
    work.mkdir()
    for name in SOURCES:
        source = WEB / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy2(source, work / name)
    installed = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        if any(word in installed.stderr for word in OFFLINE):
            pytest.skip(f"the npm registry is unreachable: {installed.stderr.strip()[-300:]}")
        pytest.fail(f"npm ci failed:\n{installed.stderr}")
    out = tmp_path / "static"
    subprocess.run([node, "build.mjs", str(out)], cwd=work, check=True, timeout=300)
    built = {path.name: path.read_bytes() for path in out.iterdir()}
    committed = {path.name: path.read_bytes() for path in STATIC.iterdir()}
    assert sorted(built) == sorted(committed), (
        "functions/web/static/ is not the build of web/: run `npm ci && npm run build` in web/"
    )
    for name, content in built.items():
        assert content == committed[name], f"{name} differs from the build of web/"
