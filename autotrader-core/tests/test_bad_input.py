"""Hostile input at every public entry point: a typed error, nothing sent, nothing journaled.

Each row calls one entry point (``submit_order``, ``execute``, ``cancel_order``,
``modify_order``, ``build_order``, ``EngineSettings``) with one hostile value (NaN,
negative, zero, huge, wrong precision, unknown symbol, wrong type, empty string,
unicode) and checks that

* it raises a typed error (an ``AutotraderError`` subclass; pydantic's
  ``ValidationError`` for settings),
* the broker saw nothing (no submit, cancel or modify reached it),
* the journal holds no intent, cancel or modify request for it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from autotrader_core.adapter import OrderChange
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import AssetClass, DecisionAction
from autotrader_core.errors import AutotraderError, IllegalTransition, InvalidOrder, RiskRejected
from autotrader_core.events import OrderEvent
from autotrader_core.journal import SqliteJournal
from autotrader_core.models import ExecutionDecision, Instrument, Order
from autotrader_core.orders import build_order
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.settings import EngineSettings
from pydantic import ValidationError

from .fakes import FakeBroker

pytestmark = pytest.mark.anyio

BTC = Instrument(
    "BTCUSDT",
    AssetClass.CRYPTO_SPOT,
    "BTC",
    "USDT",
    tick_size=D("0.01"),
    lot_size=D("0.001"),
    min_quantity=D("0.001"),
    min_notional=D("5"),
    max_quantity=D("1000"),
)

NAN, INF, NEG, HUGE = D("NaN"), D("Infinity"), D("-1"), D("1E+30")


class SpyBroker(FakeBroker):
    """Counts every order-changing request that reaches the broker."""

    def __init__(self) -> None:
        super().__init__()
        self.modify_calls = 0

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        self.modify_calls += 1
        return await super().modify_order(order, change)

    async def get_instruments(self) -> list[Instrument]:
        return [BTC]


@dataclass
class Session:
    engine: ExecutionEngine
    broker: SpyBroker
    path: Path
    resting: Order

    def requests(self) -> tuple[int, int, int]:
        return len(self.broker.received), self.broker.cancel_calls, self.broker.modify_calls

    def journaled(self) -> list[tuple[str, str]]:
        rows = sqlite3.connect(self.path).execute(
            "SELECT kind, client_order_id FROM journal WHERE kind IN ('intent','cancel_request','modify_request')"
        )
        return list(rows)


Call = Callable[[Session], Awaitable[Any]]


def submit(*args: Any, **kwargs: Any) -> Call:
    return lambda s: s.engine.submit_order(*args, **kwargs)


def decide(**fields: Any) -> Call:
    base: dict[str, Any] = {"action": DecisionAction.BUY, "symbol": "BTCUSDT", "size": D("0.1")}
    base.update(fields)
    return lambda s: s.engine.execute(ExecutionDecision(**base))


def modify(**kwargs: Any) -> Call:
    return lambda s: s.engine.modify_order(s.resting, **kwargs)


def cancel(target: Any) -> Call:
    return lambda s: s.engine.cancel_order(target)


ENGINE_CASES: list[tuple[str, Call, type[Exception]]] = [
    # submit_order: quantity
    ("qty NaN", submit("BTCUSDT", "buy", NAN), InvalidOrder),
    ("qty inf", submit("BTCUSDT", "buy", INF), InvalidOrder),
    ("qty negative", submit("BTCUSDT", "buy", NEG), InvalidOrder),
    ("qty zero", submit("BTCUSDT", "buy", 0), InvalidOrder),
    ("qty huge", submit("BTCUSDT", "buy", HUGE), InvalidOrder),
    ("qty above max", submit("BTCUSDT", "buy", D("5000")), RiskRejected),
    ("qty wrong precision", submit("BTCUSDT", "buy", D("0.1005")), RiskRejected),
    ("qty float", submit("BTCUSDT", "buy", 0.1), InvalidOrder),
    ("qty bool", submit("BTCUSDT", "buy", True), InvalidOrder),
    ("qty None", submit("BTCUSDT", "buy", None), InvalidOrder),
    ("qty list", submit("BTCUSDT", "buy", [1]), InvalidOrder),
    ("qty bytes", submit("BTCUSDT", "buy", b"1"), InvalidOrder),
    ("qty empty string", submit("BTCUSDT", "buy", ""), InvalidOrder),
    ("qty words", submit("BTCUSDT", "buy", "one"), InvalidOrder),
    ("qty snowman", submit("BTCUSDT", "buy", "☃"), InvalidOrder),
    # submit_order: prices
    ("limit NaN", submit("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price=NAN), InvalidOrder),
    (
        "limit negative",
        submit("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="-100"),
        InvalidOrder,
    ),
    ("limit zero", submit("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price=0), InvalidOrder),
    (
        "limit huge",
        submit("BTCUSDT", "sell", D("0.1"), order_type="limit", limit_price=D("1E-30")),
        RiskRejected,
    ),
    (
        "limit wrong tick",
        submit("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="100.001"),
        RiskRejected,
    ),
    ("limit float", submit("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price=100.5), InvalidOrder),
    ("stop inf", submit("BTCUSDT", "buy", D("0.1"), order_type="stop", stop_price=INF), InvalidOrder),
    ("missing limit", submit("BTCUSDT", "buy", D("0.1"), order_type="limit"), InvalidOrder),
    # submit_order: symbol, side, type, tif
    ("unknown symbol", submit("DOGEUSDT", "buy", D("0.1")), RiskRejected),
    ("empty symbol", submit("", "buy", D("0.1")), InvalidOrder),
    ("symbol None", submit(None, "buy", D("0.1")), InvalidOrder),
    ("symbol cyrillic", submit("ВТСUSDT", "buy", D("0.1")), InvalidOrder),
    ("symbol zero-width", submit("BTC\u200bUSDT", "buy", D("0.1")), InvalidOrder),
    ("symbol with space", submit("BTC USDT", "buy", D("0.1")), InvalidOrder),
    ("side empty", submit("BTCUSDT", "", D("0.1")), InvalidOrder),
    ("side nonsense", submit("BTCUSDT", "long", D("0.1")), InvalidOrder),
    ("side int", submit("BTCUSDT", 1, D("0.1")), InvalidOrder),
    ("type unknown", submit("BTCUSDT", "buy", D("0.1"), order_type="iceberg"), InvalidOrder),
    ("tif unknown", submit("BTCUSDT", "buy", D("0.1"), time_in_force="forever"), InvalidOrder),
    ("tif unsupported", submit("BTCUSDT", "buy", D("0.1"), time_in_force="fok"), InvalidOrder),
    ("post-only market", submit("BTCUSDT", "buy", D("0.1"), post_only=True), InvalidOrder),
    # execute: a decision is as hostile as its fields
    ("decision size NaN", decide(size=NAN), InvalidOrder),
    ("decision size zero", decide(size=D(0)), InvalidOrder),
    ("decision size negative", decide(size=NEG), InvalidOrder),
    ("decision unknown symbol", decide(symbol="XYZ"), RiskRejected),
    ("decision unicode symbol", decide(symbol="比特币"), InvalidOrder),
    ("decision bad action", decide(action="yolo"), InvalidOrder),
    ("decision limit float", decide(order_type="limit", limit_price=1.5), InvalidOrder),
    # cancel_order
    ("cancel unknown id", cancel("at-nope"), InvalidOrder),
    ("cancel empty id", cancel(""), InvalidOrder),
    ("cancel None", cancel(None), InvalidOrder),
    ("cancel int", cancel(42), InvalidOrder),
    ("cancel unicode id", cancel("ордер"), InvalidOrder),
    # modify_order
    ("modify nothing", modify(), InvalidOrder),
    ("modify qty NaN", modify(quantity=NAN), InvalidOrder),
    ("modify qty negative", modify(quantity=NEG), InvalidOrder),
    ("modify qty zero", modify(quantity=0), InvalidOrder),
    ("modify qty float", modify(quantity=0.2), InvalidOrder),
    ("modify qty huge", modify(quantity=HUGE), InvalidOrder),
    ("modify qty above max", modify(quantity=D("5000")), RiskRejected),
    ("modify qty wrong precision", modify(quantity=D("0.1234")), RiskRejected),
    ("modify price wrong tick", modify(limit_price=D("99.999")), RiskRejected),
    ("modify price inf", modify(limit_price=INF), InvalidOrder),
    ("modify price empty string", modify(limit_price=""), InvalidOrder),
    ("modify price unicode", modify(limit_price="99 ☃"), InvalidOrder),
    ("modify unknown order", lambda s: s.engine.modify_order("at-nope", quantity=D("1")), InvalidOrder),
]


@pytest.fixture
async def session(tmp_path: Path) -> Any:
    path = tmp_path / "journal.sqlite3"
    broker = SpyBroker()
    engine = ExecutionEngine(
        broker,
        journal=SqliteJournal(path, fsync=False),
        retry_policy=RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0),
    )
    async with engine:
        resting = await engine.submit_order("BTCUSDT", "buy", D("0.1"), order_type="limit", limit_price="99")
        yield Session(engine, broker, path, resting)


@pytest.mark.parametrize(("case", "call", "error"), ENGINE_CASES, ids=[c[0] for c in ENGINE_CASES])
async def test_hostile_input_is_refused_before_anything_is_sent(
    session: Session, case: str, call: Call, error: type[Exception]
) -> None:
    sent_before = session.requests()
    journaled_before = session.journaled()
    with pytest.raises(error) as caught:
        await call(session)
    assert isinstance(caught.value, AutotraderError)
    assert str(caught.value)  # a message that says what is wrong
    assert session.requests() == sent_before, "the broker saw a request"
    await session.engine.journal.flush()  # type: ignore[union-attr]
    assert session.journaled() == journaled_before, "a refused request was journaled"
    assert session.resting.quantity == D("0.1") and session.resting.limit_price == D("99")


async def test_cancel_of_a_finished_order_is_refused_and_not_journaled(session: Session) -> None:
    filled = await session.engine.submit_order("BTCUSDT", "buy", D("0.1"))
    journaled = session.journaled()
    with pytest.raises(IllegalTransition):
        await session.engine.cancel_order(filled)
    await session.engine.journal.flush()  # type: ignore[union-attr]
    assert session.journaled() == journaled and session.broker.cancel_calls == 0


BUILD_CASES: list[tuple[str, dict[str, Any]]] = [
    ("NaN", {"quantity": NAN}),
    ("negative", {"quantity": "-0.5"}),
    ("zero", {"quantity": "0"}),
    ("float", {"quantity": 0.5}),
    ("empty", {"quantity": ""}),
    ("unicode", {"quantity": "½"}),
    ("empty symbol", {"symbol": "  "}),
    ("emoji symbol", {"symbol": "🚀USDT"}),
    ("empty client id", {"client_order_id": ""}),
    ("bytes side", {"side": b"buy"}),
]


@pytest.mark.parametrize("overrides", [c[1] for c in BUILD_CASES], ids=[c[0] for c in BUILD_CASES])
def test_build_order_refuses_hostile_values(overrides: dict[str, Any]) -> None:
    params: dict[str, Any] = {"client_order_id": "c1", "symbol": "BTCUSDT", "side": "buy", "quantity": D("1")}
    params.update(overrides)
    with pytest.raises(InvalidOrder):
        build_order(**params)


SETTINGS_CASES: list[tuple[str, dict[str, Any]]] = [
    ("interval NaN", {"decision_interval": float("nan")}),
    ("interval negative", {"decision_interval": -1}),
    ("interval zero", {"decision_interval": 0}),
    ("interval words", {"decision_interval": "fast"}),
    ("interval empty", {"decision_interval": ""}),
    ("timeout NaN", {"order_timeout": "NaN"}),
    ("timeout negative", {"order_timeout": -30}),
    ("timeout list", {"order_timeout": [30]}),
    ("journal sync unknown", {"journal_sync": "sometimes"}),
    ("journal sync unicode", {"journal_sync": "ｉｎｔｅｎｔ"}),
    ("journal fsync words", {"journal_fsync": "perhaps"}),
    ("recover words", {"recover_on_start": "dunno"}),
]


@pytest.mark.parametrize("values", [c[1] for c in SETTINGS_CASES], ids=[c[0] for c in SETTINGS_CASES])
def test_engine_settings_refuse_hostile_values(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EngineSettings(**values)
