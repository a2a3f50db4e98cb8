"""The adapter guide ("Writing an adapter"), shipped inside the kit: ``python -m autotrader_conformance.guide``.

The kit's messages point here because a user who installed the wheel has no
``docs/`` folder. The wheel carries the guide as ``autotrader_conformance/guide.md``
(copied from ``docs/writing-an-adapter.md`` at build time by ``hatch_build.py``); in a
clone with an editable install the repository's own file is read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

__all__ = ["GUIDE_COMMAND", "guide_path", "guide_text", "main"]

GUIDE_COMMAND = "python -m autotrader_conformance.guide"
"""How a user reads the guide; the kit's messages name it."""

_PACKAGED = "guide.md"
_IN_CLONE = Path(__file__).resolve().parents[3] / "docs" / "writing-an-adapter.md"


def guide_path() -> Path:
    """Where the guide is on this machine.

    Raises:
        FileNotFoundError: neither the packaged copy nor a clone's ``docs/`` file exists.
    """
    packaged = files("autotrader_conformance") / _PACKAGED
    if packaged.is_file():
        return Path(str(packaged))
    if _IN_CLONE.is_file():
        return _IN_CLONE
    raise FileNotFoundError(
        f"the adapter guide is missing: neither {packaged} nor {_IN_CLONE} exists (a broken install?)"
    )


def guide_text() -> str:
    """The guide's Markdown text."""
    return guide_path().read_text(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the guide (``--path``: only where it is)."""
    parser = argparse.ArgumentParser(prog=GUIDE_COMMAND, description="Print the adapter guide.")
    parser.add_argument("--path", action="store_true", help="print the guide's file path instead")
    args = parser.parse_args(argv)
    try:
        print(guide_path() if args.path else guide_text())
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
