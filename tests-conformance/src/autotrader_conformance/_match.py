"""Partial structural matching with ``"<ANY>"`` wildcards, and readable diffs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = ["ANY_MARKER", "compact", "describe_mismatch", "mismatches", "pretty"]

ANY_MARKER = "<ANY>"
"""A recorded value that matches anything (timestamps, signatures, generated ids)."""


def mismatches(expected: Any, actual: Any, *, partial: bool = True, path: str = "$") -> list[str]:
    """List where ``actual`` departs from ``expected`` (empty list: it matches).

    Args:
        partial: Objects in ``actual`` may carry keys ``expected`` does not list
            (used for client frames: the kit checks what the recording states).
            With ``partial=False`` extra keys are mismatches too.
    """
    if expected == ANY_MARKER:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, was {_short(actual)}"]
        found = [f"{path}.{key}: missing" for key in expected if key not in actual]
        for key, value in expected.items():
            if key in actual:
                found += mismatches(value, actual[key], partial=partial, path=f"{path}.{key}")
        if not partial:
            found += [f"{path}.{key}: not in the recording" for key in actual if key not in expected]
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, was {_short(actual)}"]
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} items, was {len(actual)}"]
        found = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found += mismatches(want, got, partial=partial, path=f"{path}[{index}]")
        return found
    if _scalar_equal(expected, actual):
        return []
    return [f"{path}: expected {_short(expected)}, was {_short(actual)}"]


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | Decimal) and isinstance(actual, int | Decimal):
        return Decimal(expected) == Decimal(actual)
    return bool(type(expected) is type(actual) and expected == actual)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def pretty(value: Any) -> str:
    """Indented JSON-ish text for diffs (Decimals shown as numbers)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def compact(value: Any) -> str:
    """One-line JSON-ish text (for status lines)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def describe_mismatch(what: str, expected: Any, actual: Any, problems: list[str]) -> str:
    """A failure message: the problems, then a unified diff of expected vs actual."""
    diff = difflib.unified_diff(
        pretty(expected).splitlines(),
        pretty(actual).splitlines(),
        fromfile="recorded (expected)",
        tofile="sent by the adapter",
        lineterm="",
    )
    lines = [f"{what} does not match the recording:"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("")
    lines += list(diff)
    return "\n".join(lines)


def unplayed_steps(connections: Sequence[Sequence[Any]], positions: Sequence[int]) -> list[str]:
    """Per-connection scripts a replay server did not play to the end (empty when all were).

    ``positions[n]`` is how far connection ``n`` got; a missing entry means it never opened.
    """
    problems = []
    for number, steps in enumerate(connections):
        position = positions[number] if number < len(positions) else None
        if position is None:
            problems.append(
                f"connection #{number + 1} was never opened (the recording has {len(connections)})"
            )
        elif position < len(steps):
            problems.append(
                f"connection #{number + 1} stopped at step {position}: {compact(steps[position])}"
            )
    return problems
