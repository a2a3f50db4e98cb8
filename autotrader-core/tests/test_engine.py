"""The engine end to end against a scripted broker: nothing lost, nothing doubled."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import DecisionAction, OrderStatus, TradingState
from autotrader_core.errors import (
    BrokerUnavailable,
    InsufficientFunds,
    InvalidOrder,
    RequestTimeout,
    RiskRejected,
    UnsupportedFeature,
)
from autotrader_core.events import OrderFilled
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Balance, ExecutionDecision, Fill, Order, Position
from autotrader_core.plugins import PluginManager
from autotrader_core.resend import ResendGuarantee
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.risk import RiskChecks, RiskLimits
from autotrader_core.settings import EngineSettings
from autotrader_core.strategy import Strategy, StrategyContext

from .fakes import FakeBroker
from .venue import declare_expiry

pytestmark = pytest.mark.anyio

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0)


class Recorder:
    """Observer plugin recording every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: Fill, position: Position) -> None:
        self.calls.append(("fill", fill.trade_id))

    @hookimpl
    def autotrader_on_reject(self, order: Order, reason: str) -> None:
        self.calls.append(("reject", reason))

    @hookimpl
    def autotrader_on_alert(self, alert: Any) -> None:
        self.calls.append(("alert", alert.source))


def make_engine(broker: FakeBroker, **kwargs: Any) -> tuple[ExecutionEngine, Recorder]:
    recorder = Recorder()
    plugins = PluginManager(disabled=set())
    plugins.register(recorder, name="recorder")
    kwargs.setdefault("retry_policy", FAST_RETRY)
    kwargs.setdefault("settings", EngineSettings(decision_interval=0.01, order_timeout=0.05))
    return ExecutionEngine(broker, plugins=plugins, **kwargs), recorder


async def test_market_order_fills_and_updates_position_and_hooks() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    assert order.status is OrderStatus.FILLED
    assert order.average_fill_price == D("100")
    assert engine.oms.position("BTCUSDT").quantity == D("0.5")
    assert ("fill", "T1") in recorder.calls
    assert broker.received == [order.client_order_id]
    assert not broker.connected  # leaving the context disconnects


async def test_risk_rejection_sends_nothing() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker, risk=RiskChecks(RiskLimits(max_order_notional=D("10"))))
    async with engine:
        with pytest.raises(RiskRejected):
            await engine.submit_order("BTCUSDT", "buy", D("1"))
        with pytest.raises(RiskRejected, match=r"0\.001"):
            await engine.submit_order("BTCUSDT", "buy", D("0.0015"), order_type="limit", limit_price="1")
    assert broker.received == []
    assert engine.oms.open_order_count() == 0
    assert [c for c in recorder.calls if c[0] == "reject"]


async def test_undeclared_order_type_is_refused_before_send() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        with pytest.raises(UnsupportedFeature):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="stop", stop_price="90")
    assert broker.received == []


async def test_bad_input_is_refused_before_send() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        with pytest.raises(InvalidOrder, match="floats"):
            await engine.submit_order("BTCUSDT", "buy", 0.1)  # type: ignore[arg-type]
    assert broker.received == []


async def test_broker_refusal_marks_rejected_and_dead_letters() -> None:
    broker = FakeBroker()
    broker.fail_submit = [InsufficientFunds("no money", broker="fake", code="-2010")]
    engine, recorder = make_engine(broker)
    async with engine:
        with pytest.raises(InsufficientFunds):
            await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        [order] = engine.oms.completed_orders()
    assert order.status is OrderStatus.REJECTED
    assert "no money" in (order.reject_reason or "")
    assert len(engine.dead_letters) == 1
    assert [c for c in recorder.calls if c[0] == "reject"]


@pytest.mark.parametrize("error", [RequestTimeout("timed out"), BrokerUnavailable("502")])
async def test_lost_reply_is_looked_up_never_sent_twice(error: Exception) -> None:
    broker = FakeBroker()
    broker.fail_submit = [error]
    broker.lose_reply = True  # the order reached the book, the reply did not reach us
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.2"))
        await anyio.sleep(0.01)
    assert broker.received == [order.client_order_id]
    assert order.status is OrderStatus.FILLED  # settled from the query + fill catch-up
    assert engine.oms.position("BTCUSDT").quantity == D("0.2")


async def test_request_that_never_arrived_is_resent_with_the_same_client_id() -> None:
    broker = FakeBroker()
    # Issue 14: a re-send is safe only when the venue says so (here: an idempotency key).
    broker.resend_guarantee = ResendGuarantee.idempotency_key()
    broker.fail_submit = [BrokerUnavailable("connection reset")]
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.2"))
    assert broker.received == [order.client_order_id]
    assert order.status is OrderStatus.FILLED


async def test_unknown_outcome_keeps_the_order_in_flight_until_a_query_settles_it() -> None:
    broker = FakeBroker()
    broker.fail_submit = [RequestTimeout("t")] * 10
    broker.lose_reply = False
    engine, _ = make_engine(broker)
    async with engine:
        with pytest.raises(RequestTimeout):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        [order] = engine.oms.open_orders()
        assert order.status is OrderStatus.PENDING_SUBMIT  # a timeout is not a rejection
        assert len(engine.dead_letters) == 1
        assert engine.status().failure_rates == {"submit": 1.0}


async def test_stream_fills_are_applied_once_even_when_repeated() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("1"), order_type="limit", limit_price="99")
        fill = broker.make_fill(order, D("1"), D("99"))
        broker.push(OrderFilled(fill))
        broker.push(OrderFilled(fill))
        with anyio.fail_after(1):
            while order.status is not OrderStatus.FILLED:
                await anyio.sleep(0.001)
        await anyio.sleep(0.01)
    assert engine.oms.position("BTCUSDT").quantity == D("1")
    assert engine.oms.metrics.duplicate_fills == 1


async def test_cancel_of_an_order_gone_at_the_broker_asks_instead_of_guessing() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("1"), order_type="limit", limit_price="99")
        broker.book[order.client_order_id] = broker._report(order, OrderStatus.CANCELED, D(0))
        await engine.cancel_order(order)
    assert order.status is OrderStatus.CANCELED


async def test_modify_changes_terms() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("1"), order_type="limit", limit_price="99")
        await engine.modify_order(order, limit_price="98.5")
        with pytest.raises(InvalidOrder, match="needs a new"):
            await engine.modify_order(order)
    assert order.limit_price == D("98.5")
    assert order.status is OrderStatus.ACCEPTED


class BuyOnce(Strategy):
    name = "buy-once"

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.started = False
        self.stopped = False

    async def on_start(self, ctx: StrategyContext) -> None:
        self.started = True

    async def decide(self, ctx: StrategyContext) -> Sequence[ExecutionDecision]:
        if ctx.position("BTCUSDT").is_flat and not self.fills:
            return [ExecutionDecision(DecisionAction.BUY, "BTCUSDT", D("0.3"))]
        return []

    async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
        self.fills.append(fill)

    async def on_stop(self, ctx: StrategyContext) -> None:
        self.stopped = True


async def test_decision_cycle_drives_the_strategy() -> None:
    broker = FakeBroker()
    strategy = BuyOnce()
    engine, _ = make_engine(broker, strategy=strategy)
    async with engine:
        with anyio.fail_after(2):
            while not strategy.fills:
                await anyio.sleep(0.005)
        await anyio.sleep(0.05)
    assert strategy.started and strategy.stopped
    assert len(broker.received) == 1
    assert engine.oms.position("BTCUSDT").quantity == D("0.3")


class ReduceOnlyBroker(FakeBroker):
    capabilities = dataclasses.replace(FakeBroker.capabilities, reduce_only=True)


@pytest.mark.parametrize(("broker_cls", "reduce_only"), [(FakeBroker, False), (ReduceOnlyBroker, True)])
async def test_close_decision_flattens_reduce_only_where_the_broker_enforces_it(
    broker_cls: type[FakeBroker], reduce_only: bool
) -> None:
    broker = broker_cls()
    engine, _ = make_engine(broker)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.4"))
        closing = await engine.execute(ExecutionDecision(DecisionAction.CLOSE, "BTCUSDT"))
        assert await engine.execute(ExecutionDecision(DecisionAction.CLOSE, "BTCUSDT")) is None
    assert closing is not None
    assert closing.reduce_only is reduce_only  # brokers without it would refuse the order
    assert engine.oms.position("BTCUSDT").quantity == 0


async def test_flatten_is_exempt_from_risk_limits_so_an_emergency_close_goes_out() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.4"))
        engine.risk.limits = RiskLimits(max_order_notional=D("1"), max_orders_per_second=0.001)
        with pytest.raises(RiskRejected):
            await engine.execute(ExecutionDecision(DecisionAction.CLOSE, "BTCUSDT"))
        closing = await engine.flatten("BTCUSDT")
        assert await engine.flatten("BTCUSDT") is None
    assert closing is not None
    assert closing.status is OrderStatus.FILLED
    assert engine.oms.position("BTCUSDT").quantity == 0


async def test_status_reports_the_engine() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        await engine.submit_order("BTCUSDT", "buy", D("0.1"))
        status = engine.status()
    assert status.connected and status.running
    assert status.orders_total == 1 and status.fills_total == 1
    assert status.positions == {"BTCUSDT": D("0.1")}
    assert status.trading_state == TradingState.ACTIVE.value


async def test_an_order_that_never_arrived_is_settled_once_the_timeout_has_passed() -> None:
    broker = FakeBroker()
    # Issue 14: closed as never arrived only once the venue's clock proves its request expired.
    declare_expiry(broker, 5.0, ahead=10.0)
    broker.fail_submit = [RequestTimeout("t")] * 10  # never reaches the book
    engine, recorder = make_engine(broker)  # order_timeout=0.05 s
    async with engine:
        with pytest.raises(RequestTimeout):
            await engine.submit_order("BTCUSDT", "buy", D("0.2"), order_type="limit", limit_price="99")
        [order] = engine.oms.open_orders()
        with anyio.fail_after(2):
            while order.status is OrderStatus.PENDING_SUBMIT:
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
    assert order.status is OrderStatus.REJECTED
    assert "never arrived" in (order.reject_reason or "")
    assert broker.received == []  # settled by asking, never by re-sending
    assert engine.oms.open_order_count() == 0
    assert [c for c in recorder.calls if c == ("alert", "engine")] == [
        ("alert", "engine")
    ] * 2  # timeout + settle


async def test_a_cancel_the_broker_cannot_find_is_reported_once_not_every_tick() -> None:
    broker = FakeBroker()
    engine, recorder = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        del broker.book[order.client_order_id]  # the broker lost track of it
        broker.fail_cancel = [RequestTimeout("t")] * 10
        with pytest.raises(RequestTimeout):
            await engine.cancel_order(order)
        await anyio.sleep(0.3)  # many watcher ticks
    assert order.status is OrderStatus.PENDING_CANCEL  # not guessed
    alerts = [c for c in recorder.calls if c[0] == "alert"]
    assert len(alerts) == 1


async def test_an_order_whose_end_the_stream_missed_is_settled_by_reconciliation() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        order = await engine.submit_order("BTCUSDT", "buy", D("0.3"), order_type="limit", limit_price="99")
        # The broker filled it while our stream was down: no event ever reached us.
        fill = broker.make_fill(order, D("0.3"), D("99"))
        broker.book[order.client_order_id] = broker._report(order, OrderStatus.FILLED, D("0.3"))
        assert await engine.reconcile_open_orders() == 1
        assert await engine.reconcile_open_orders() == 0
    assert order.status is OrderStatus.FILLED
    assert engine.oms.fills_for(order.client_order_id) == [fill]
    assert engine.oms.position("BTCUSDT").quantity == D("0.3")


async def test_balances_can_be_refreshed_from_the_broker() -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    async with engine:
        assert engine.context.balances()[0].total == D("10000")
        broker.get_balances = _lower_balances  # type: ignore[method-assign]
        await engine.refresh_balances()
        assert engine.context.balances()[0].total == D("9000")


async def _lower_balances() -> list[Balance]:
    return [Balance("USDT", D("9000"), D("9000"))]
