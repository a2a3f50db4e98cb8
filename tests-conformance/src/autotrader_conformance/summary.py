"""The fault-suite summary printed at the end of the pytest session.

One row per adapter test class: fault scenarios tried (passed / failed /
skipped), faults injected, orders placed, fills seen, fills lost and orders or
fills doubled; for the in-flight scenarios (``TC-INF-*``) also the most orders the
venue held for one client order id and the state and position mismatches between
engine and venue. A scenario marked ``xfail`` (a declared open defect) is counted
in its own column and its figures are kept apart, so the totals stay about the rest. Losses and duplicates must be 0 — the kit's scenarios fail when
they are not, and the table makes the figures visible.

The fault suite's own scenarios (``TC-FLT-*``) report measured figures through
:func:`record`. The catalogue's older fault scenarios (429/418, 5xx and timeout
on submit, malformed submit reply, stream drop) are counted from their outcome:
one injected fault each, the orders and fills they prove when they pass.

A request the replay refused because it repeated an exchange already answered (a
re-sent submit, say) is a duplicate too, in any conformance scenario and whether
the scenario passed or failed: "duplicates 0" next to failures caused by
repeated submits would hide exactly what the column is for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

__all__ = [
    "FAULT_SCENARIOS",
    "FIGURES",
    "ClassTally",
    "RunFigures",
    "SummaryTable",
    "record_figures",
    "render",
]

FAULT_SCENARIOS: dict[str, tuple[int, int]] = {
    "TC-ERR-05": (1, 1),  # malformed submit reply
    "TC-RES-01": (1, 0),  # 429 with Retry-After
    "TC-RES-02": (1, 1),  # 5xx on submit
    "TC-RES-03": (1, 1),  # timeout on submit
    "TC-RES-04": (1, 0),  # 418 ban
    "TC-STR-02": (1, 1),  # stream drop mid-fill
}
"""Catalogue scenarios the fault suite re-uses: id → (faults injected, orders placed) when they pass."""


@dataclass(slots=True)
class RunFigures:
    """What one fault scenario measured."""

    faults: int = 0
    orders: int = 0
    fills: int = 0
    losses: int = 0
    duplicates: int = 0
    max_orders_per_cid: int = 0
    """In-flight scenarios: the most orders the venue held for one client order id."""
    state_mismatches: int = 0
    """In-flight scenarios: orders whose final state differs between engine and venue."""
    position_mismatches: int = 0
    """In-flight scenarios: symbols whose engine position differs from the venue's fills."""


FIGURES = pytest.StashKey["RunFigures"]()
"""Where a scenario leaves its figures on its test item."""


def record_figures(request: pytest.FixtureRequest, figures: RunFigures) -> None:
    """Hand a running scenario's figures to the session summary."""
    request.node.stash[FIGURES] = figures


@dataclass(slots=True)
class ClassTally:
    """Totals for one adapter test class."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    figures: RunFigures = field(default_factory=RunFigures)
    xfailed: int = 0
    """Scenarios failing as expected (``xfail``: a known open defect); their figures are in ``known``."""
    known: RunFigures = field(default_factory=RunFigures)

    @property
    def tried(self) -> int:
        """Scenarios that ran (passed or failed)."""
        return self.passed + self.failed


class SummaryTable:
    """Collects figures and outcomes per test class during the session."""

    def __init__(self) -> None:
        self.tallies: dict[str, ClassTally] = {}

    def outcome(
        self,
        class_name: str,
        scenario_id: str,
        outcome: str,
        figures: RunFigures | None,
        expect_fills: int,
        refused_repeats: int = 0,
    ) -> None:
        """Count a fault scenario's final outcome (``passed``, ``failed``, ``skipped`` or ``xfailed``) and its figures.

        ``refused_repeats`` (requests the replay refused as repeats) count as duplicates
        when the scenario's own figures show fewer.
        """
        tally = self.tallies.setdefault(class_name, ClassTally())
        if outcome == "skipped":
            tally.skipped += 1
            return
        if outcome == "xfailed":  # a known open defect: counted apart, so "losses 0" stays meaningful
            tally.xfailed += 1
            if figures is not None:
                _add(tally.known, figures)
            return
        if refused_repeats:
            figures = figures if figures is not None else RunFigures()
            figures.duplicates = max(figures.duplicates, refused_repeats)
        if outcome == "passed":
            tally.passed += 1
        else:
            tally.failed += 1
        if figures is None and scenario_id in FAULT_SCENARIOS and outcome == "passed":
            faults, orders = FAULT_SCENARIOS[scenario_id]
            figures = RunFigures(faults=faults, orders=orders, fills=expect_fills)
        if figures is not None:
            _add(tally.figures, figures)

    def refused_repeats(self, class_name: str, count: int) -> None:
        """Count repeats refused in a scenario outside the fault suite as duplicates."""
        if count:
            self.tallies.setdefault(class_name, ClassTally()).figures.duplicates += count


def _add(total: RunFigures, figures: RunFigures) -> None:
    total.faults += figures.faults
    total.orders += figures.orders
    total.fills += figures.fills
    total.losses += figures.losses
    total.duplicates += figures.duplicates
    total.max_orders_per_cid = max(total.max_orders_per_cid, figures.max_orders_per_cid)
    total.state_mismatches += figures.state_mismatches
    total.position_mismatches += figures.position_mismatches


def render(tallies: dict[str, ClassTally]) -> Iterable[str]:
    """The table's lines."""
    header = (
        "adapter test class",
        "tried",
        "passed",
        "failed",
        "skipped",
        "faults",
        "orders",
        "fills",
        "losses",
        "duplicates",
        "orders/cid max",
        "state mismatches",
        "position mismatches",
        "xfail",
    )
    rows = [
        (
            name,
            str(t.tried),
            str(t.passed),
            str(t.failed),
            str(t.skipped),
            str(t.figures.faults),
            str(t.figures.orders),
            str(t.figures.fills),
            str(t.figures.losses),
            str(t.figures.duplicates),
            str(t.figures.max_orders_per_cid),
            str(t.figures.state_mismatches),
            str(t.figures.position_mismatches),
            str(t.xfailed),
        )
        for name, t in sorted(tallies.items())
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    yield line(header)
    yield "  ".join("-" * width for width in widths)
    for row in rows:
        yield line(row)
