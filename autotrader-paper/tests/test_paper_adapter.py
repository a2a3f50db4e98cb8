"""PaperAdapter: the async BrokerAdapter contract, the event stream, latency and faults."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal as D

import anyio
import pytest
from autotrader_core import (
    BrokerUnavailable,
    ConfigurationError,
    DuplicateClientOrderId,
    Feature,
    InvalidOrder,
    OrderAccepted,
    OrderCanceled,
    OrderChange,
    OrderFilled,
    OrderModified,
    OrderNotFound,
    OrderStatus,
    PluginManager,
    RateLimited,
    RequestTimeout,
)
from autotrader_core.events import OrderEvent
from autotrader_core.settings import BrokerSettings
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_paper.plugin import make_adapter
from paper_support import FIXED_TIME, adapter, order

pytestmark = pytest.mark.anyio


async def connected(**overrides: object) -> PaperAdapter:
    a = adapter(**overrides)
    await a.connect()
    return a


async def drain(a: PaperAdapter, count: int, limit: float = 2.0) -> list[OrderEvent]:
    """Read ``count`` events from the stream (fails after ``limit`` seconds)."""
    got: list[OrderEvent] = []
    with anyio.fail_after(limit):
        async for event in a.stream_events():
            got.append(event)
            if len(got) == count:
                break
    return got


async def buffered(a: PaperAdapter) -> list[OrderEvent]:
    """Everything waiting in the stream right now (disconnect ends the stream once drained)."""
    await a.disconnect()
    got = [e async for e in a.stream_events()]
    await a.connect()
    return got


# -- connection and contract basics ----------------------------------------------------------------


async def test_calls_before_connect_are_refused_as_unavailable() -> None:
    a = adapter()
    states = [a.is_connected]
    with pytest.raises(BrokerUnavailable):
        await a.submit_order(order())
    with pytest.raises(BrokerUnavailable):
        await a.get_balances()
    await a.connect()
    states.append(a.is_connected)
    await a.disconnect()
    await a.disconnect()  # safe twice
    states.append(a.is_connected)
    assert states == [False, True, False]
    assert "paper" in repr(a)


async def test_capabilities_declare_the_full_contract() -> None:
    caps = PaperAdapter.capabilities
    # A one-price simulator has no other participants (no public trades) and no mark price.
    not_simulated = {Feature.MODIFY, Feature.TRADES, Feature.MARK_PRICE}
    for feature in Feature:
        if feature not in not_simulated:
            assert caps.supports(feature), feature
    assert not caps.supports(Feature.TRADES) and not caps.supports(Feature.MARK_PRICE)
    assert caps.supports(Feature.MODIFY)
    assert caps.test_environments == ("paper",)
    assert {a.value for a in caps.asset_classes} == {"crypto_spot"}


async def test_market_order_reply_carries_ack_and_fill_and_nothing_is_streamed_twice() -> None:
    a = await connected()
    events = await a.submit_order(order("buy", "0.01"))
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert await buffered(a) == []


async def test_account_queries() -> None:
    a = await connected()
    await a.submit_order(order("buy", "0.1"))
    balances = {b.asset: b for b in await a.get_balances()}
    assert balances["USDT"].total == D(100000) - D(6500) - D("6.5")
    assert balances["BTC"].total == D("1.1")
    (position,) = await a.get_positions()
    assert (position.quantity, position.average_price, position.broker) == (D("0.1"), D("65000.00"), "paper")
    instruments = await a.get_instruments()
    assert {i.symbol for i in instruments} == {"BTCUSDT", "ETHUSDT", "ETHBTC"}
    assert a.last_price("BTCUSDT") == D("65000.00")
    assert a.last_price("NOPE") is None


async def test_get_order_by_client_or_broker_id_and_not_found() -> None:
    a = await connected()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    (ack,) = await a.submit_order(o)
    assert isinstance(ack, OrderAccepted)
    by_client = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    by_broker = await a.get_order(symbol="BTCUSDT", broker_order_id=ack.broker_order_id)
    assert by_client == by_broker
    assert (by_client.status, by_client.limit_price, by_client.broker) == (
        OrderStatus.ACCEPTED,
        D("64000.00"),
        "paper",
    )
    with pytest.raises(OrderNotFound):
        await a.get_order(symbol="BTCUSDT", client_order_id="unknown")
    with pytest.raises(OrderNotFound):
        await a.get_order(symbol="ETHUSDT", client_order_id=o.client_order_id)
    with pytest.raises(InvalidOrder):
        await a.get_order(symbol="BTCUSDT")


async def test_open_orders_cancel_and_modify() -> None:
    a = await connected()
    btc = order("buy", "0.1", kind="limit", limit="64000.00")
    eth = order("sell", "1", kind="limit", limit="4000.00", symbol="ETHUSDT")
    await a.submit_order(btc)
    await a.submit_order(eth)
    assert [r.client_order_id for r in await a.get_open_orders()] == [
        btc.client_order_id,
        eth.client_order_id,
    ]
    assert [r.symbol for r in await a.get_open_orders("ETHUSDT")] == ["ETHUSDT"]
    modified = await a.modify_order(btc, OrderChange(limit_price=D("63000.00")))
    assert isinstance(modified[0], OrderModified)
    assert modified[0].limit_price == D("63000.00")
    canceled = await a.cancel_order(eth)
    assert [type(e) for e in canceled] == [OrderCanceled]
    assert [r.client_order_id for r in await a.get_open_orders()] == [btc.client_order_id]
    with pytest.raises(OrderNotFound):
        await a.cancel_order(eth)


async def test_duplicate_client_order_id_through_the_adapter() -> None:
    a = await connected()
    await a.submit_order(order("buy", "0.01", cid="same"))
    with pytest.raises(DuplicateClientOrderId):
        await a.submit_order(order("buy", "0.01", cid="same"))
    assert len(await a.get_fills()) == 1


async def test_get_fills_by_symbol_and_since() -> None:
    a = await connected()
    await a.submit_order(order("buy", "0.01"))
    await a.submit_order(order("buy", "0.01", symbol="ETHUSDT"))
    assert len(await a.get_fills()) == 2
    assert [f.symbol for f in await a.get_fills(symbol="ETHUSDT")] == ["ETHUSDT"]
    assert await a.get_fills(since=FIXED_TIME + timedelta(minutes=1)) == []


# -- stream ----------------------------------------------------------------------------------------


async def test_resting_order_fills_are_delivered_on_the_stream() -> None:
    a = await connected()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    await a.submit_order(o)
    returned = a.set_price("BTCUSDT", D("63950.00"))
    (event,) = await drain(a, 1)
    assert event == returned[0]
    assert isinstance(event, OrderFilled)
    assert (event.fill.client_order_id, event.fill.price) == (o.client_order_id, D("64000.00"))


async def test_events_wait_in_the_buffer_while_nobody_reads() -> None:
    a = await connected(partial_fill_threshold=D("0.01"))
    await a.submit_order(order("buy", "0.5", kind="limit", limit="64000.00"))
    a.set_price("BTCUSDT", D("63000.00"))
    a.advance(49)
    events = await drain(a, 50)
    assert sum(e.fill.quantity for e in events if isinstance(e, OrderFilled)) == D("0.5")
    assert len({e.fill.trade_id for e in events if isinstance(e, OrderFilled)}) == 50


async def test_stream_clock_ticks_prices_in_the_background() -> None:
    a = await connected(quote_source="random_walk", tick_interval=0.002)
    start = a.simulator.prices.steps

    async def consume() -> None:
        async for _ in a.stream_events():
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.sleep(0.05)
        await a.disconnect()  # ends the stream
    assert a.simulator.prices.steps - start >= 5


async def test_a_new_stream_consumer_takes_over_and_the_old_one_ends() -> None:
    a = await connected()
    first: list[OrderEvent] = []
    first_ended = anyio.Event()

    async def consume_first() -> None:
        async for event in a.stream_events():
            first.append(event)
        first_ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume_first)
        await anyio.sleep(0.01)
        second = a.stream_events()  # e.g. the engine reopening its stream
        await a.submit_order(order("buy", "0.1", kind="limit", limit="64000.00"))
        a.set_price("BTCUSDT", D("63000.00"))
        with anyio.fail_after(2):
            event = await anext(second)
            await first_ended.wait()
        assert isinstance(event, OrderFilled)
        assert first == []  # each event goes to exactly one consumer
        await second.aclose()  # type: ignore[attr-defined]


async def test_latency_delays_the_ack_and_fill_to_the_stream() -> None:
    a = await connected(latency_ms=D(20))
    o = order("buy", "0.01")
    started = time.monotonic()
    assert await a.submit_order(o) == []
    report = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert report.status is OrderStatus.PENDING_SUBMIT
    events = await drain(a, 2)
    assert time.monotonic() - started >= 0.019
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    report = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert report.status is OrderStatus.FILLED


async def test_latency_arrivals_are_processed_by_later_calls_even_without_a_stream_reader() -> None:
    a = await connected(latency_ms=D(5))
    o = order("buy", "0.01")
    await a.submit_order(o)
    await anyio.sleep(0.01)
    report = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert report.status is OrderStatus.FILLED
    assert [type(e) for e in await buffered(a)] == [OrderAccepted, OrderFilled]


# -- faults ----------------------------------------------------------------------------------------


async def test_submit_fault_before_apply_creates_nothing() -> None:
    a = await connected()
    o = order("buy", "0.01")
    a.faults.fail_next("submit")
    with pytest.raises(BrokerUnavailable):
        await a.submit_order(o)
    with pytest.raises(OrderNotFound):
        await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert [type(e) for e in await a.submit_order(o)] == [OrderAccepted, OrderFilled]


async def test_submit_fault_after_apply_loses_the_reply_but_the_order_exists() -> None:
    a = await connected()
    o = order("buy", "0.01")
    a.faults.fail_next("submit", RequestTimeout("reply lost"), after_apply=True)
    with pytest.raises(RequestTimeout):
        await a.submit_order(o)
    report = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert (report.status, report.filled_quantity) == (OrderStatus.FILLED, D("0.01"))
    with pytest.raises(DuplicateClientOrderId):
        await a.submit_order(o)
    assert len(await a.get_fills()) == 1
    # the lost reply's events still reach the OMS through the stream
    assert [type(e) for e in await buffered(a)] == [OrderAccepted, OrderFilled]


async def test_cancel_fault_after_apply_cancels_but_raises() -> None:
    a = await connected()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    await a.submit_order(o)
    a.faults.fail_next("cancel", after_apply=True)
    with pytest.raises(BrokerUnavailable):
        await a.cancel_order(o)
    report = await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    assert report.status is OrderStatus.CANCELED
    assert [type(e) for e in await buffered(a)] == [OrderCanceled]


async def test_rate_limited_fault_keeps_retry_after_and_repeats() -> None:
    a = await connected()
    o = order("buy", "0.1", kind="limit", limit="64000.00")
    await a.submit_order(o)
    a.faults.fail_next("get_order", RateLimited("slow down", retry_after=1.5), times=2)
    for _ in range(2):
        with pytest.raises(RateLimited) as info:
            await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
        assert info.value.retry_after == 1.5
    assert a.faults.pending() == 0
    assert (
        await a.get_order(symbol="BTCUSDT", client_order_id=o.client_order_id)
    ).status is OrderStatus.ACCEPTED


async def test_fault_api_validates_and_clears() -> None:
    a = adapter()
    with pytest.raises(ValueError, match="unknown operation"):
        a.faults.fail_next("teleport")
    a.faults.fail_next("modify", times=3)
    a.faults.fail_next("connect")
    assert a.faults.pending("modify") == 3
    assert a.faults.pending() == 4
    with pytest.raises(BrokerUnavailable):
        await a.connect()
    assert not a.is_connected
    a.faults.clear()
    assert not a.faults
    a.faults.fail_next("connect", RequestTimeout("handshake reply lost"), after_apply=True)
    with pytest.raises(RequestTimeout):
        await a.connect()
    assert a.is_connected  # it did connect; only the answer was lost


# -- performance and plugin ------------------------------------------------------------------------


async def test_kill_switch_can_cancel_a_thousand_open_orders_quickly() -> None:
    a = await connected(initial_balances="USDT=100000000")
    orders = [order("buy", "0.01", kind="limit", limit="60000.00") for _ in range(1000)]
    for o in orders:
        await a.submit_order(o)
    assert len(await a.get_open_orders()) == 1000
    started = time.perf_counter()
    for o in orders:
        await a.cancel_order(o)
    elapsed = time.perf_counter() - started
    assert await a.get_open_orders() == []
    assert elapsed < 0.25, elapsed
    balance = {b.asset: b for b in await a.get_balances()}["USDT"]
    assert balance.available == balance.total == D(100000000)


async def test_plugin_is_found_through_its_entry_point_and_builds_the_adapter() -> None:
    manager = PluginManager(disabled=set()).load_entry_points()
    info = manager.adapter_info("paper")
    assert manager.load_errors == []
    assert info.settings_cls is PaperSettings
    assert info.capabilities is PaperAdapter.capabilities
    assert isinstance(manager.create_adapter("paper", PaperSettings(_env_file=None)), PaperAdapter)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        make_adapter(BrokerSettings())


def test_plugin_discovery_loads_neither_the_adapter_nor_pydantic_settings() -> None:
    """Discovery imports every installed adapter's registration: it must stay cheap."""
    import subprocess
    import sys

    from autotrader_paper import __version__

    code = (
        "import sys; from autotrader_core.plugins import PluginManager; "
        "info = PluginManager(disabled=set()).load_entry_points().adapters()['paper']; "
        "heavy = [m for m in ('autotrader_paper.adapter', 'autotrader_paper.settings', "
        "'autotrader_paper.simulator', 'pydantic_settings') if m in sys.modules]; "
        "print(info.version, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [__version__, "[]"]


async def test_dropped_stream_reconnects_with_a_catch_up_so_no_fill_is_lost() -> None:
    a = await connected(partial_fill_threshold=D("0.01"))
    o = order("buy", "0.05", kind="limit", limit="64000.00")
    await a.submit_order(o)
    a.set_price("BTCUSDT", D("63000.00"))  # fill 1
    stream = a.stream_events()
    delivered: list[OrderEvent] = []
    with anyio.fail_after(2):
        delivered.append(await anext(stream))
        a.advance(2)  # fills 2 and 3 are in flight...
        a.faults.drop_stream()  # ...when the connection drops: they are lost from the live feed
        while len({e.fill.trade_id for e in delivered if isinstance(e, OrderFilled)}) < 3:
            delivered.append(await anext(stream))
        a.advance(2)  # fills 4 and 5 arrive live after the reconnect
        while len({e.fill.trade_id for e in delivered if isinstance(e, OrderFilled)}) < 5:
            delivered.append(await anext(stream))
    await stream.aclose()  # type: ignore[attr-defined]
    history = await a.get_fills()
    assert {e.fill.trade_id for e in delivered if isinstance(e, OrderFilled)} == {f.trade_id for f in history}
    assert sum(f.quantity for f in history) == D("0.05")
    assert a.faults.stream_drops == 0


async def test_declared_resend_guarantee_matches_a_resend_after_a_lost_reply() -> None:
    """Idempotency key: the re-send of a taken order is refused as already there; one order, one fill."""
    from autotrader_core.resend import ResendRule

    a = await connected()
    assert a.resend_guarantee.rule is ResendRule.IDEMPOTENCY_KEY
    assert "DuplicateClientOrderId" in a.resend_guarantee.source
    o = order("buy", "0.01", kind="limit", limit="64000.00")
    a.faults.fail_next("submit", RequestTimeout("reply lost"), after_apply=True)
    with pytest.raises(RequestTimeout):
        await a.submit_order(o)
    with pytest.raises(DuplicateClientOrderId):
        await a.submit_order(o)  # the re-send the guarantee allows: nothing new is created
    assert [r.client_order_id for r in await a.get_open_orders()] == [o.client_order_id]
