"""autotrader-template: a complete, small adapter for an imaginary REST + WebSocket venue.

Copy this package to write an adapter: rename ``template`` / ``Template`` to your
venue's name, then replace what each module's "REPLACE" note names
(``docs/writing-an-adapter.md`` walks through every module).
"""

from __future__ import annotations

from importlib.metadata import version

from autotrader_template.adapter import CAPABILITIES, TemplateAdapter
from autotrader_template.settings import TemplateSettings

__all__ = ["CAPABILITIES", "TemplateAdapter", "TemplateSettings", "__version__"]

__version__ = version("autotrader-template")
"""The installed distribution's version (one source: ``pyproject.toml``)."""
