"""TC-BAD: one payload item the adapter cannot parse never costs the others.

A list reply or a stream can carry one item an adapter cannot read: an order
type added after the adapter was written (OKX's ``elp``), a status it has never
seen, a garbage frame. The adapter must report it (a
:class:`~autotrader_core.errors.BrokerProtocolError` through
``AdapterTelemetry.bad_item``, see :mod:`autotrader_core.skipping`) and skip it:
the rest of the list comes back and the stream goes on.

The bad item in each recording is a *composed* variation of a documented payload
(the recording's ``provenance`` says so); everything around it keeps the
broker's documented shapes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.models import Fill

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_fill, assert_fill_list
from autotrader_conformance.session import unique_fills

__all__ = ["BadItemScenarios", "BadItemTelemetry"]


class BadItemTelemetry(AdapterTelemetry):
    """Records every ``bad_item`` report (the kit installs it on the adapter under test)."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, BrokerProtocolError, bool]] = []

    def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
        """Keep the report."""
        self.reports.append((what, error, may_hold_fill))


def _check_reports(sc: Scenario, telemetry: BadItemTelemetry) -> None:
    expected = int(sc.value("reported", 1))
    reports = telemetry.reports
    assert len(reports) >= expected, (
        f"{sc.id}: the unparseable item was skipped silently: AdapterTelemetry.bad_item was called "
        f"{len(reports)} time(s), {expected} expected (report it, see autotrader_core.skipping)"
    )
    for what, error, _ in reports:
        assert isinstance(error, BrokerProtocolError), (
            f"{sc.id}: bad_item({what!r}) must carry a BrokerProtocolError, got {error!r}"
        )


class BadItemScenarios(ScenarioBase):
    """Rule 11: report and skip the one bad item; keep everything else."""

    @scenario("TC-BAD-01")
    async def test_bad_01_list_reply_with_one_unknown_item(self, conformance_scenario: Scenario) -> None:
        """get_open_orders: the valid orders come back, the unknown one is reported, nothing raises."""
        sc = conformance_scenario
        wanted = sc.value("client_order_ids")
        assert isinstance(wanted, list) and wanted, (
            f"{sc.id}: expect.client_order_ids must be a non-empty list"
        )
        async with self.session(sc) as session:
            adapter = session.adapter
            telemetry = BadItemTelemetry()
            adapter.telemetry = telemetry
            await adapter.connect()
            reports = await adapter.get_open_orders(sc.value("symbol", None))
            assert isinstance(reports, list), f"get_open_orders must return a list, returned {reports!r}"
            listed = sorted(str(report.client_order_id) for report in reports)
            assert listed == sorted(map(str, wanted)), (
                f"{sc.id}: get_open_orders listed {listed}; the valid orders are {sorted(map(str, wanted))} "
                "(one bad item must cost none of the others, and must not be listed itself)"
            )
            _check_reports(sc, telemetry)

    @scenario("TC-BAD-02")
    async def test_bad_02_garbage_frame_between_two_fills(self, conformance_scenario: Scenario) -> None:
        """A garbage stream frame between two fills: both fills arrive, the frame is reported."""
        sc = conformance_scenario
        expected: Any = sc.value("fills")
        assert isinstance(expected, list) and expected, f"{sc.id}: expect.fills must be a non-empty list"
        want = sum((Decimal(str(item["quantity"])) for item in expected), Decimal(0))
        async with self.session(sc) as session:
            adapter = session.adapter
            telemetry = BadItemTelemetry()
            adapter.telemetry = telemetry
            await adapter.connect()
            await session.start_stream()
            order = session.order()
            await session.submit(order)

            def streamed() -> list[Fill]:
                return unique_fills(session.stream_fills(order.client_order_id))

            await session.wait_until(
                lambda: sum(f.quantity for f in streamed()) >= want,
                f"stream fills totalling {want} (the garbage frame must not end the stream)",
            )
            await session.stream_played()
            fills = streamed()
            for fill in fills:
                assert_fill(fill, order, adapter)
            assert_fill_list(fills, expected, sc)
            _check_reports(sc, telemetry)
