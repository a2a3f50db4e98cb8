"""The public face: every name a strategy author imports, and cheap to import for plugin discovery."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import autotrader_core
import pytest


def _type_checking_imports() -> set[str]:
    tree = ast.parse(Path(autotrader_core.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If))
    return {alias.name for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_the_imports_all_and_modules_agree() -> None:
    public = set(autotrader_core.__all__) - {"__version__"}
    assert _type_checking_imports() == public
    for name in sorted(public):
        assert getattr(autotrader_core, name) is not None, name
    assert autotrader_core.__version__  # from the package metadata
    assert {"ExecutionEngine", "Strategy", "StrategyContext", "EngineControl"} <= public


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        autotrader_core.NoSuchThing  # noqa: B018


def test_plugin_discovery_does_not_load_the_engine_or_pydantic_settings() -> None:
    code = (
        "import sys, autotrader_core.plugins, autotrader_core.hookspecs, autotrader_core.capabilities; "
        "print([m for m in ('autotrader_core.engine', 'pydantic_settings', 'httpx') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
