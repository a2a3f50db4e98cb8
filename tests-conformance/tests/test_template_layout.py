"""The adapter guide and the template adapter cannot drift apart.

``docs/writing-an-adapter.md`` lists the one adapter layout and quotes the template's
code; ``autotrader-template/`` is what third parties copy. This checks that the
template has exactly the files the guide lists (optional ``[if ...]`` modules may be
absent), that the guide has a section for each of the template's modules, and that
every excerpt marked ``# from autotrader-template/...`` is the template's real code.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-an-adapter.md"
TEMPLATE = ROOT / "autotrader-template"
LAYOUT_MARK = "<!-- layout: the tree below is checked against autotrader-template/ -->"


def _guide_layout() -> dict[str, bool]:
    """``{relative path: required}`` from the guide's layout tree (``<broker>`` → ``template``)."""
    text = GUIDE.read_text(encoding="utf-8")
    block = text.split(LAYOUT_MARK, 1)[1].split("```", 2)[1]
    entries: dict[str, bool] = {}
    parents: list[tuple[int, str]] = []
    for line in block.strip("\n").splitlines()[1:]:  # the first line is the package folder itself
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        name, _, note = line.strip().partition(" ")
        parents = [(i, p) for i, p in parents if i < indent]
        path = "/".join([p for _, p in parents] + [name.rstrip("/")])
        path = path.replace("<broker>", "template")
        if name.endswith("/"):
            parents.append((indent, name.rstrip("/")))
        entries[path] = not note.strip().startswith("[if")
    return entries


def _template_files() -> set[str]:
    """The template's files, with ``tests/recordings/`` as one entry (its files are data)."""
    found: set[str] = set()
    for path in TEMPLATE.rglob("*"):
        rel = path.relative_to(TEMPLATE).as_posix()
        if "__pycache__" in rel or ".egg-info" in rel or not path.is_file():
            continue
        found.add("tests/recordings" if rel.startswith("tests/recordings/") else rel)
    return found


def test_template_has_exactly_the_files_the_guide_lists() -> None:
    layout = _guide_layout()
    listed = {path for path in layout if not (TEMPLATE / path).is_dir() or path == "tests/recordings"}
    files = _template_files()
    missing = sorted(path for path in listed - files if layout[path])
    unlisted = sorted(files - listed)
    assert not missing, f"the guide lists {missing}, which autotrader-template/ does not have"
    assert not unlisted, f"autotrader-template/ has {unlisted}, which the guide's layout does not list"


def test_guide_has_a_section_per_template_module() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    modules = sorted(p.name for p in (TEMPLATE / "src" / "autotrader_template").glob("*.py"))
    missing = [name for name in modules if f"#### `{name}`" not in text]
    assert not missing, f"docs/writing-an-adapter.md has no '#### `<module>`' section for {missing}"


def test_every_guide_excerpt_is_the_templates_code() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    excerpts = re.findall(r"```\w*\n# from (autotrader-template/\S+)\n(.*?)```", text, flags=re.DOTALL)
    assert len(excerpts) >= 10, "the guide quotes the template module by module"
    for where, code in excerpts:
        source = (ROOT / where).read_text(encoding="utf-8")
        assert code in source, f"the guide's excerpt of {where} is not in that file any more:\n{code}"
