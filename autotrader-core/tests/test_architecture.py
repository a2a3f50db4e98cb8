"""Architecture rules of the core, checked on its source: no import cycle, no reach into privates."""

from __future__ import annotations

import ast
from pathlib import Path

import autotrader_core

SRC = Path(autotrader_core.__file__).parent
DOMAIN = {"models", "enums", "errors", "events", "decimals", "capabilities", "state_machine"}
IO_MODULES = {
    "asyncio",
    "anyio",
    "socket",
    "ssl",
    "sqlite3",
    "aiohttp",
    "httpx",
    "pluggy",
    "pydantic_settings",
}


def modules() -> dict[str, ast.Module]:
    """Every core module by dotted name (``autotrader_core.engine``, ``autotrader_core.journal``, ...)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def imported(tree: ast.Module) -> set[str]:
    """Every module a module imports, at any level (``TYPE_CHECKING`` blocks and function bodies too).

    ``from package import submodule`` counts as importing the submodule only.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & MODULE_NAMES
            names.update(submodules)
            if len(submodules) < len(node.names):
                names.add(node.module)
    return names


MODULE_NAMES = set(modules())


def core_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imported(tree) if m in mods and m != name} for name, tree in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_core_modules() -> None:
    graph = core_graph()
    # The package itself is the public face: it imports the modules, none imports it back.
    graph.pop("autotrader_core")
    assert cycles(graph) == []
    assert not [m for m, deps in graph.items() if "autotrader_core" in deps]


def test_recovery_kill_switch_and_the_seams_import_no_engine() -> None:
    graph = core_graph()
    for name in (
        "recovery",
        "kill_switch",
        "control",
        "order_flow",
        "broker_gateway",
        "background",
        "notifier",
    ):
        assert "autotrader_core.engine" not in graph[f"autotrader_core.{name}"], name


def test_the_domain_layer_does_no_io() -> None:
    mods = modules()
    for name in DOMAIN:
        deps = {m.split(".")[0] for m in imported(mods[f"autotrader_core.{name}"])}
        assert not deps & IO_MODULES, (name, deps & IO_MODULES)
        core_deps = {m for m in imported(mods[f"autotrader_core.{name}"]) if m.startswith("autotrader_core.")}
        assert {m.split(".")[1] for m in core_deps} <= DOMAIN, (name, core_deps)


def test_the_core_never_imports_an_adapter() -> None:
    for name, tree in modules().items():
        adapters = {
            m for m in imported(tree) if m.startswith("autotrader_") and not m.startswith("autotrader_core")
        }
        assert not adapters, (name, adapters)


def test_no_module_calls_another_object_s_private_method() -> None:
    """``x._name(...)`` only on ``self`` / ``cls`` (or a private attribute of them: our own parts)."""
    offenders = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls", "super"}:
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            offenders.append(f"{name}:{node.lineno} {ast.unparse(node.func)}")
    assert offenders == []
