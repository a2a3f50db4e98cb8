"""Build hook: ship the adapter guide (``docs/writing-an-adapter.md``) inside the kit.

The kit's failure messages send authors to the guide; a wheel user has no ``docs/``.
One source file, no committed copy: the sdist carries it as ``docs/writing-an-adapter.md``
and the wheel as ``autotrader_conformance/guide.md``, whether built from the repository
(the file is one level up) or from the sdist (it is inside).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

GUIDE = "writing-an-adapter.md"


class GuideHook(BuildHookInterface):  # type: ignore[type-arg]
    """Force-include the guide into the sdist and the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the guide to ``force_include`` (not for editable installs: they read the clone's file)."""
        if version == "editable":
            return
        root = Path(self.root)
        for source in (root.parent / "docs" / GUIDE, root / "docs" / GUIDE):
            if source.is_file():
                break
        else:
            raise FileNotFoundError(f"{GUIDE} not found in {root.parent / 'docs'} or {root / 'docs'}")
        target = f"docs/{GUIDE}" if self.target_name == "sdist" else "autotrader_conformance/guide.md"
        build_data["force_include"][str(source)] = target
