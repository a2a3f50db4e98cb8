#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python >= 3.11, pip and git.

    python3 dev.py demo     run the paper-trading demo
    python3 dev.py test     run every test (lint, types, core, kit, each adapter alone, demo)
    python3 dev.py build    wheels and sdists of every package in dist/ (then, e.g.,
                            pip install dist/autotrader_core-*.whl dist/autotrader_paper-*.whl)
    python3 dev.py -- ...   any nox arguments, e.g. python3 dev.py -- -s bench

It creates ``.dev-venv/`` beside this file, installs nox (and uv, which nox uses
to build the per-package virtualenvs quickly), then hands over to nox.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".dev-venv"
REPORTS = ROOT / ".nox-reports"
TOOLS = ["nox>=2024.4", "uv>=0.4"]
DIST = ROOT / "dist"
PACKAGES = [path.parent for path in sorted(ROOT.glob("*/pyproject.toml"))]
"""Every package of the monorepo (the folders with a pyproject.toml: autotrader-*, tests-conformance)."""


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _bootstrap() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit(f"autotrader needs Python >= 3.11 (this is {sys.version.split()[0]})")
    if not _python().exists():
        print(f"creating {VENV.name} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.run(
        [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *TOOLS], check=True
    )


def _nox(*args: str) -> int:
    return subprocess.run(
        [str(_python()), "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args], cwd=ROOT
    ).returncode


def _build() -> int:
    """Build every package's sdist and wheel (the wheel from the sdist, as an installer would) into dist/."""
    DIST.mkdir(exist_ok=True)
    for old in [*DIST.glob("*.whl"), *DIST.glob("*.tar.gz")]:
        old.unlink()  # no stale version of a package beside the new one
    for package in PACKAGES:
        code = subprocess.run(
            [str(_python()), "-m", "uv", "build", "--quiet", "--out-dir", str(DIST), str(package)], cwd=ROOT
        ).returncode
        if code:
            print(f"building {package.name} failed", file=sys.stderr)
            return code
    for built in sorted([*DIST.glob("*.whl"), *DIST.glob("*.tar.gz")]):
        print(built.relative_to(ROOT))
    return 0


def _summarise() -> None:
    """Add up the junit reports of every pytest run into one closing line."""
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for report in sorted(REPORTS.glob("*.xml")):
        for suite in ET.parse(report).getroot().iter("testsuite"):
            tests = int(suite.get("tests", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", 0))
            totals["passed"] += tests - failed - skipped
            totals["failed"] += failed
            totals["skipped"] += skipped
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    _bootstrap()
    if command == "demo":
        return _nox("-s", "demo", *argv[1:])
    if command == "test":
        for old in REPORTS.glob("*.xml") if REPORTS.exists() else ():
            old.unlink()
        code = _nox(*argv[1:])
        _summarise()
        return code
    if command == "build":
        return _build()
    if command == "--":
        return _nox(*argv[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
