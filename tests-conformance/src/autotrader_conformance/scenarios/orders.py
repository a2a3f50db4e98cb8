"""TC-ORD: placing, querying, listing, modifying and canceling orders."""

from __future__ import annotations

from typing import Any

from autotrader_core.adapter import OrderChange
from autotrader_core.capabilities import Feature
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.events import OrderCanceled, OrderFilled, OrderModified, OrderModifyRejected
from autotrader_core.models import Fill

from autotrader_conformance.scenario import Scenario, to_decimal
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import (
    assert_accepted,
    assert_fill,
    assert_fill_list,
    assert_fills_match,
    assert_report_matches,
    assert_resting,
    events_of,
)
from autotrader_conformance.session import apply_events, unique_fills

__all__ = ["OrderScenarios"]


class OrderScenarios(ScenarioBase):
    """Order scenarios."""

    @scenario("TC-ORD-01")
    async def test_ord_01_market_order_fills(self, conformance_scenario: Scenario) -> None:
        """A market order fills with exact quantity, price and fee, from the reply and/or the stream."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            streaming = self.declares(Feature.STREAMING_FILLS)
            if streaming:
                await session.start_stream()
            order = session.order()
            assert order.order_type is OrderType.MARKET, f"{sc.id} input must describe a market order"
            events = await session.submit(order)
            reply_fills: list[Fill] = [event.fill for event in events_of(events, OrderFilled)]
            want = sc.decimal("fill_quantity")

            def collected() -> list[Fill]:
                return unique_fills(reply_fills + session.stream_fills(order.client_order_id))

            if streaming:
                await session.wait_until(
                    lambda: sum(f.quantity for f in collected()) >= want, f"fills totalling {want}"
                )
                await session.stream_played()
            fills = collected()
            if not fills and self.declares(Feature.FILL_HISTORY):
                history = await adapter.get_fills(symbol=order.symbol)
                fills = unique_fills([f for f in history if f.client_order_id == order.client_order_id])
            assert fills, (
                "the market order produced no fill: not in submit_order's reply, not on the stream"
                + (", not in get_fills()" if self.declares(Feature.FILL_HISTORY) else "")
            )
            for fill in fills:
                assert_fill(fill, order, adapter)
            assert_fills_match(fills, sc)
            if "fills" in sc.expect:
                assert_fill_list(fills, sc.expect["fills"], sc)

    @scenario("TC-ORD-02")
    async def test_ord_02_limit_order_lifecycle(self, conformance_scenario: Scenario) -> None:
        """limit order → accepted and resting → found by query → canceled."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            assert order.order_type is OrderType.LIMIT, f"{sc.id} input must describe a limit order"
            assert_accepted(await session.submit(order), order)
            report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
            assert_report_matches(report, order, adapter, "get_order(client_order_id=...)")
            assert_resting(report, "get_order after submit")
            events = await adapter.cancel_order(order)
            assert isinstance(events, list), f"cancel_order must return a list of events, returned {events!r}"
            apply_events(order, events)
            if not events_of(events, OrderCanceled):
                after = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
                assert after.status is OrderStatus.CANCELED, (
                    "cancel_order's reply proved no cancel and the order is not canceled at the broker: "
                    f"{after.status!r}"
                )
            else:
                assert order.status is OrderStatus.CANCELED

    @scenario("TC-ORD-03")
    async def test_ord_03_query_by_client_order_id(self, conformance_scenario: Scenario) -> None:
        """The same order is found by our client order id and by the broker's id."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            assert_accepted(await session.submit(order), order)
            by_client = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
            assert by_client.client_order_id == order.client_order_id, (
                f"get_order(client_order_id=...) must report our id, reported {by_client.client_order_id!r}"
            )
            assert_report_matches(by_client, order, adapter, "get_order(client_order_id=...)")
            by_broker = await adapter.get_order(symbol=order.symbol, broker_order_id=order.broker_order_id)
            assert by_broker.broker_order_id == order.broker_order_id, (
                f"get_order(broker_order_id=...) reported {by_broker.broker_order_id!r}"
            )
            assert_report_matches(by_broker, order, adapter, "get_order(broker_order_id=...)")

    @scenario("TC-ORD-04")
    async def test_ord_04_open_orders(self, conformance_scenario: Scenario) -> None:
        """Every order placed is listed by get_open_orders(symbol) with exact terms."""
        sc = conformance_scenario
        symbol = sc.text("symbol")
        specs = sc.value("orders")
        assert isinstance(specs, list), f"{sc.id}: input.orders must be a list"
        assert specs, f"{sc.id}: input.orders must not be empty"
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            placed = []
            for index, raw in enumerate(specs):
                assert isinstance(raw, dict), f"{sc.id}: input.orders[{index}] must be an object"
                values: dict[str, Any] = {"symbol": symbol, **raw}
                missing = [
                    k for k in ("client_order_id", "side", "quantity", "limit_price") if k not in values
                ]
                assert not missing, f"{sc.id}: input.orders[{index}] lacks {missing}"
                order = session.order(values)
                assert_accepted(await session.submit(order), order)
                placed.append(order)
            reports = await adapter.get_open_orders(symbol)
            assert isinstance(reports, list), f"get_open_orders must return a list, returned {reports!r}"
            by_id = {report.client_order_id: report for report in reports}
            for report in reports:
                assert report.symbol == symbol, f"get_open_orders({symbol!r}) listed {report.symbol}"
                assert report.status.is_open, f"get_open_orders listed a closed order: {report!r}"
            for order in placed:
                assert order.client_order_id in by_id, (
                    f"order {order.client_order_id} missing from get_open_orders; "
                    f"listed: {sorted(map(str, by_id))}"
                )
                assert_report_matches(by_id[order.client_order_id], order, adapter, "get_open_orders item")

    @scenario("TC-ORD-05")
    async def test_ord_05_modify(self, conformance_scenario: Scenario) -> None:
        """A working order takes new quantity and/or limit price."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            assert_accepted(await session.submit(order), order)
            new_quantity = sc.optional_decimal("new_quantity")
            new_price = sc.optional_decimal("new_limit_price")
            events = await adapter.modify_order(
                order, OrderChange(quantity=new_quantity, limit_price=new_price)
            )
            assert isinstance(events, list), f"modify_order must return a list of events, returned {events!r}"
            assert not events_of(events, OrderModifyRejected), f"the broker refused the modify: {events!r}"
            modified = events_of(events, OrderModified)
            apply_events(order, events)
            if modified:
                event = modified[-1]
                if new_quantity is not None and event.quantity is not None:
                    assert event.quantity == new_quantity, (
                        f"OrderModified.quantity {event.quantity}, expected {new_quantity}"
                    )
                if new_price is not None and event.limit_price is not None:
                    assert event.limit_price == new_price, (
                        f"OrderModified.limit_price {event.limit_price}, expected {new_price}"
                    )
            if new_quantity is not None:
                order.quantity = new_quantity
            if new_price is not None:
                order.limit_price = new_price
            if not modified:
                report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
                assert_report_matches(report, order, adapter, "get_order after modify")

    @scenario("TC-ORD-06")
    async def test_ord_06_stop_limit(self, conformance_scenario: Scenario) -> None:
        """A stop-limit order rests with exact stop and limit prices."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            assert order.order_type is OrderType.STOP_LIMIT, f"{sc.id} input must describe a stop-limit order"
            assert_accepted(await session.submit(order), order)
            report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
            assert_report_matches(report, order, adapter, "get_order(client_order_id=...)")
            assert report.stop_price == to_decimal(sc.input["stop_price"], "stop_price")
            assert_resting(report, "stop-limit order after submit")
