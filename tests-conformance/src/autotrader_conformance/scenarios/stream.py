"""TC-STR: fills through the private stream, and no fill lost or doubled across a reconnect."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_core.events import OrderFilled
from autotrader_core.models import Fill

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import (
    assert_fill,
    assert_fill_list,
    assert_fills_match,
    events_of,
)
from autotrader_conformance.session import unique_fills

__all__ = ["StreamScenarios"]


class StreamScenarios(ScenarioBase):
    """Private-stream scenarios."""

    @scenario("TC-STR-01")
    async def test_str_01_fills_through_stream(self, conformance_scenario: Scenario) -> None:
        """The order's fills arrive on stream_events() with exact quantity, price and fee."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            await session.start_stream()
            order = session.order()
            await session.submit(order)
            want = sc.decimal("fill_quantity")

            def streamed() -> list[Fill]:
                return unique_fills(session.stream_fills(order.client_order_id))

            await session.wait_until(
                lambda: sum(f.quantity for f in streamed()) >= want, f"stream fills totalling {want}"
            )
            await session.stream_played()
            fills = streamed()
            for fill in fills:
                assert_fill(fill, order, adapter)
            assert_fills_match(fills, sc)

    @scenario("TC-STR-02")
    async def test_str_02_reconnect_catch_up_exactly_once(self, conformance_scenario: Scenario) -> None:
        """The stream drops mid-fill; after reconnect and catch-up every fill is there exactly once."""
        sc = conformance_scenario
        expected = sc.value("fills")
        assert isinstance(expected, list), f"{sc.id}: expect.fills must be a list"
        assert expected, f"{sc.id}: expect.fills must not be empty"
        want = sum((Decimal(str(item["quantity"])) for item in expected), Decimal(0))
        async with self.session(sc) as session:
            adapter = session.adapter
            drop = getattr(session.faults, "drop_stream", None) if session.faults is not None else None
            if session.faults is not None and not callable(drop):
                pytest.skip(
                    f"{sc.id}: the simulated adapter's fault hooks have no drop_stream(); "
                    "without one there is no stream connection to drop"
                )
            await adapter.connect()
            await session.start_stream()
            order = session.order()
            events = await session.submit(order)
            reply = [event.fill for event in events_of(events, OrderFilled)]
            if callable(drop):
                drop()

            def collected() -> list[Fill]:
                return unique_fills(reply + session.stream_fills(order.client_order_id))

            await session.wait_until(
                lambda: sum(f.quantity for f in collected()) >= want,
                f"fills totalling {want} after the reconnect",
            )
            await session.stream_played()
            fills = collected()
            for fill in fills:
                assert_fill(fill, order, adapter)
            assert_fill_list(fills, expected, sc)
            server = sc.stream_server
            if server is not None:
                connections = int(sc.value("connections", 2))
                assert server.connections_opened >= connections, (
                    f"the adapter opened {server.connections_opened} stream connection(s); "
                    f"after the drop it must reconnect ({connections} expected)"
                )
