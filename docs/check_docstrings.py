"""Fail when a public name has no docstring (part of the docs build).

Public means: a module not starting with ``_``, and in it every class, function and
method whose name does not start with ``_`` (dunders excluded), plus class-level
attributes listed in ``__all__`` that are classes or functions. Reads the sources
statically with griffe (the library mkdocstrings uses), so nothing is imported.

    python docs/check_docstrings.py autotrader-core/src/autotrader_core autotrader-paper/src/autotrader_paper ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import griffe


def _missing(obj: griffe.Object | griffe.Alias, found: list[str]) -> None:
    if obj.is_alias:
        return
    name = obj.name
    if name.startswith("_") and not (obj.is_module and name == "__init__"):
        return
    documentable = obj.is_module or obj.is_class or obj.is_function
    if documentable and obj.docstring is None and not _is_overload_or_property_setter(obj):
        found.append(f"{obj.relative_filepath}:{obj.lineno}: {obj.path}")
    if obj.is_module or obj.is_class:
        for member in obj.members.values():
            _missing(member, found)


def _is_overload_or_property_setter(obj: griffe.Object | griffe.Alias) -> bool:
    labels = getattr(obj, "labels", set())
    return "overload" in labels or "setter" in labels or "deleter" in labels


def main(paths: list[str]) -> int:
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        package = griffe.load(path.name, search_paths=[str(path.parent)], resolve_aliases=False)
        _missing(package, found)
    for line in found:
        print(f"missing docstring: {line}")
    print(f"{len(found)} public names without a docstring")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
