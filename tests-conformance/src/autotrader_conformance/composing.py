"""Recordings composed in code: one registry, one deterministic writer, one command line.

When no broker traffic can be captured, an adapter composes its recordings from the
broker's documented payloads. The code that does it is a *composer*: one module in the
adapter's tests folder, ``tests/<package>_compose_recordings.py``, shaped like this::

    from autotrader_conformance.composing import Composer

    COMPOSER = Composer(Path(__file__).parent / "recordings")
    recording = COMPOSER.recording

    @recording("TC-CON-01")
    def tc_con_01() -> dict[str, Any]:
        return {"id": "TC-CON-01", "description": "…", "source": "…", "provenance": "composed: …", …}

    if __name__ == "__main__":
        raise SystemExit(COMPOSER.main())

``python tests/<package>_compose_recordings.py`` (re)writes every registered file;
``--only ID`` writes one; ``--check`` writes nothing and fails, showing a diff, when a
committed file differs from what the composer makes (the adapter's CI test runs it).
Every file is validated before it is written: a kit recording by the kit's own writer
(:func:`~autotrader_conformance.recordings.dump_recording`: the schema, the scenario's
keys, the id matching the file name, numbers exact), any other transcript format for the
``source`` and ``provenance`` the kit requires of every recording.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from autotrader_conformance import _json
from autotrader_conformance.catalogue import CATALOGUE
from autotrader_conformance.recordings import (
    RecordingError,
    _Checker,
    _provenance,
    _required_text,
    dump_recording,
)

__all__ = ["Build", "Composer"]

Build = Callable[[], dict[str, Any]]
"""A function that returns the content of one recording file."""


class Composer:
    """The recordings one adapter composes in code: which file each function builds, and how it is written.

    Args:
        folder: Where the files go (the adapter's ``tests/recordings``).
        kit_schema: The files are kit recordings (``<id>.json``), written by
            ``dump_recording`` (two-space indent, non-ASCII kept). ``False`` for an
            adapter's own transcript format (IBKR's fake TWS), written with ``indent``
            and ``ensure_ascii`` and checked for ``source`` and ``provenance`` only.
        indent: JSON indentation of an own-format file.
        ensure_ascii: Escape non-ASCII characters in an own-format file.
    """

    def __init__(
        self, folder: Path, *, kit_schema: bool = True, indent: int = 2, ensure_ascii: bool = False
    ) -> None:
        self.folder = folder
        self.indent = indent
        self.ensure_ascii = ensure_ascii
        self.kit_schema = kit_schema
        self.builds: dict[str, Build] = {}
        """File name (without ``.json``, relative to ``folder``) -> its builder, in registration order."""

    def recording(self, name: str) -> Callable[[Build], Build]:
        """Decorator: register a function as the builder of ``<folder>/<name>.json``."""

        def register(build: Build) -> Build:
            self.add(name, build)
            return build

        return register

    def add(self, name: str, build: Build) -> None:
        """Register ``build`` for ``<folder>/<name>.json`` (for builders made in a loop).

        Raises:
            ValueError: ``name`` is registered already (two builders for one file).
        """
        if name in self.builds:
            raise ValueError(f"{name!r} is composed twice")
        self.builds[name] = build

    def path(self, name: str) -> Path:
        """Where the recording ``name`` is written."""
        return self.folder / f"{name}.json"

    def render(self, name: str) -> str:
        """The exact text of ``<name>.json``: built, validated, serialised deterministically.

        Raises:
            RecordingError: the content breaks the schema or lacks ``source``/``provenance``.
        """
        content = self.builds[name]()
        origin = str(self.path(name))
        if self.kit_schema:
            recording_id = content.get("id")
            if recording_id != Path(name).name:
                raise RecordingError(f"{origin}: id {recording_id!r} does not match the file name")
            try:
                return dump_recording(_exact(content), spec=CATALOGUE.get(recording_id))
            except RecordingError as exc:
                raise RecordingError(f"{origin}: {exc}") from None
        text = json.dumps(content, indent=self.indent, ensure_ascii=self.ensure_ascii) + "\n"
        check = _Checker(origin)
        data = _json.loads(text)
        if not isinstance(data, dict):
            raise RecordingError(f"{origin}: the top level must be a JSON object")
        _required_text(check, data, "source")
        _provenance(check, data)
        check.raise_if_any()
        return text

    def write(self, name: str) -> bool:
        """Write ``<name>.json``; returns whether its content changed."""
        text = self.render(name)
        path = self.path(name)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return True

    def difference(self, name: str) -> str:
        """A unified diff from the committed ``<name>.json`` to what is composed ("" when equal)."""
        path = self.path(name)
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        composed = self.render(name)
        if committed == composed:
            return ""
        lines = difflib.unified_diff(
            committed.splitlines(keepends=True),
            composed.splitlines(keepends=True),
            fromfile=f"{path} (committed)" if committed else f"{path} (missing)",
            tofile=f"{path} (composed)",
        )
        return "".join(lines)

    def main(self, argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
        """The composer's command line; returns the exit status.

        ``--check``: write nothing; 1 (and a diff) when a committed file differs.
        ``--only ID`` (repeatable): only these files. Unknown names exit 2.
        """
        out = out if out is not None else sys.stdout
        parser = argparse.ArgumentParser(description="Write the recordings composed in code.")
        parser.add_argument("--check", action="store_true", help="write nothing; fail on any difference")
        parser.add_argument("--only", action="append", metavar="ID", help="only this recording (repeatable)")
        args = parser.parse_args(argv)
        names = list(args.only or self.builds)
        unknown = [name for name in names if name not in self.builds]
        if unknown:
            out.write(f"not composed here: {', '.join(unknown)} (known: {', '.join(self.builds)})\n")
            return 2
        if args.check:
            return self._check(names, out)
        changed = [name for name in names if self.write(name)]
        out.write(f"{len(names)} recordings composed, {len(changed)} changed{_listing(changed)}\n")
        return 0

    def _check(self, names: Sequence[str], out: TextIO) -> int:
        stale = []
        for name in names:
            diff = self.difference(name)
            if diff:
                stale.append(name)
                out.write(diff)
        if stale:
            out.write(
                f"{len(stale)} committed recordings differ from what the composer makes{_listing(stale)}\n"
                "run the composer without --check to rewrite them, and review the diff\n"
            )
            return 1
        out.write(f"{len(names)} recordings are exactly what the composer makes\n")
        return 0


def _exact(value: Any) -> Any:
    """``value`` with every float (a stream step's ``sleep``) as the Decimal of its shortest repr.

    The kit reads every recorded number as a Decimal; ``repr`` is what ``json.dumps``
    writes, so the file reads as the float did.
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(item) for item in value]
    return value


def _listing(names: Sequence[str]) -> str:
    return f": {', '.join(names)}" if names else ""
