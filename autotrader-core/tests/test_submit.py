"""submit_with_lookup: an unknown outcome is settled by asking the broker, never by a second order."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
    TransientError,
)
from autotrader_core.events import OrderAccepted, OrderEvent
from autotrader_core.models import Balance, Instrument, Order, OrderReport, Position
from autotrader_core.resiliency import RetryPolicy, SubmitOutcome, attempts_of, submit_with_lookup

Outcome = list[OrderEvent] | Exception
Lookup = OrderReport | Exception


class ScriptedAdapter(BrokerAdapter):
    """Replies to submit_order and get_order from scripts; records every call."""

    name = "scripted"
    capabilities = Capabilities(
        order_types=frozenset({OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC}),
        asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    )

    def __init__(self, submits: list[Outcome], lookups: list[Lookup] | None = None) -> None:
        self.submits: deque[Outcome] = deque(submits)
        self.lookups: deque[Lookup] = deque(lookups or [])
        self.sent: list[Order] = []
        self.queried: list[dict[str, str | None]] = []
        self.calls: list[str] = []

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        self.sent.append(order)
        self.calls.append("submit")
        outcome = self.submits.popleft()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        self.queried.append({"symbol": symbol, "client_order_id": client_order_id})
        self.calls.append("lookup")
        outcome = self.lookups.popleft()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def connect(self) -> None:
        raise NotImplementedError

    async def disconnect(self) -> None:
        raise NotImplementedError

    @property
    def is_connected(self) -> bool:
        return True

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        raise NotImplementedError

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        raise NotImplementedError

    async def get_positions(self) -> list[Position]:
        raise NotImplementedError

    async def get_balances(self) -> list[Balance]:
        raise NotImplementedError

    async def get_instruments(self) -> list[Instrument]:
        raise NotImplementedError


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_order() -> Order:
    return Order(
        client_order_id="at1abc",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        limit_price=Decimal("50000"),
    )


def report(status: OrderStatus = OrderStatus.ACCEPTED, filled: str = "0") -> OrderReport:
    return OrderReport(
        client_order_id="at1abc",
        broker_order_id="B-1",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        status=status,
        filled_quantity=Decimal(filled),
        limit_price=Decimal("50000"),
    )


POLICY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=5.0, jitter=0.0)
pytestmark = pytest.mark.filterwarnings("ignore:submit_with_lookup is deprecated:DeprecationWarning")


@pytest.mark.anyio
async def test_submit_with_lookup_is_deprecated_naming_its_replacement() -> None:
    adapter = ScriptedAdapter([ACCEPTED])
    with pytest.warns(DeprecationWarning, match="OutcomeResolver"):
        outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert outcome.events == ACCEPTED


ACCEPTED: list[OrderEvent] = [OrderAccepted("at1abc", "B-1")]


@pytest.mark.anyio
async def test_plain_success_returns_the_reply_events() -> None:
    adapter = ScriptedAdapter([ACCEPTED])
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert outcome == SubmitOutcome(events=ACCEPTED, report=None, attempts=1)
    assert adapter.calls == ["submit"]


@pytest.mark.anyio
@pytest.mark.parametrize("error", [RequestTimeout("read timeout"), BrokerUnavailable("502")])
async def test_unknown_outcome_found_at_the_broker_is_not_resent(error: AutotraderError) -> None:
    found = report(OrderStatus.PARTIALLY_FILLED, filled="0.004")
    adapter = ScriptedAdapter([error], [found])
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert outcome.report is found
    assert outcome.events == []
    assert outcome.attempts == 1
    assert adapter.calls == ["submit", "lookup"]
    assert adapter.queried == [{"symbol": "BTCUSDT", "client_order_id": "at1abc"}]


@pytest.mark.anyio
async def test_lookup_waits_a_moment_so_an_inflight_send_can_land() -> None:
    adapter = ScriptedAdapter([RequestTimeout("t")], [report()])
    sleeps = Sleeps()
    await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps)
    assert sleeps.waits == pytest.approx([0.2])


@pytest.mark.anyio
async def test_settle_delay_can_match_the_brokers_receive_window() -> None:
    adapter = ScriptedAdapter([RequestTimeout("t")], [report()])
    sleeps = Sleeps()
    await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps, settle_delay=5.0)
    assert sleeps.waits == [5.0]


@pytest.mark.anyio
async def test_duplicate_id_means_already_there_and_is_settled_by_lookup() -> None:
    adapter = ScriptedAdapter([DuplicateClientOrderId("dup")], [report()])
    sleeps = Sleeps()
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps)
    assert outcome.report is not None
    assert outcome.report.status is OrderStatus.ACCEPTED
    assert adapter.calls == ["submit", "lookup"]
    assert sleeps.waits == []  # nothing in flight: ask at once


@pytest.mark.anyio
async def test_not_found_after_timeout_resends_the_same_order_with_the_same_id() -> None:
    order = make_order()
    adapter = ScriptedAdapter([RequestTimeout("t"), ACCEPTED], [OrderNotFound("unknown order")])
    sleeps = Sleeps()
    outcome = await submit_with_lookup(adapter, order, POLICY, sleep=sleeps)
    assert outcome == SubmitOutcome(events=ACCEPTED, report=None, attempts=2)
    assert adapter.calls == ["submit", "lookup", "submit"]
    assert adapter.sent[0] is order
    assert adapter.sent[1] is order
    assert {o.client_order_id for o in adapter.sent} == {"at1abc"}
    assert sleeps.waits == pytest.approx([0.2, 0.2])  # settle before lookup, backoff before re-send


@pytest.mark.anyio
async def test_lookup_failing_transiently_is_retried_never_a_blind_resend() -> None:
    adapter = ScriptedAdapter(
        [RequestTimeout("t")],
        [BrokerUnavailable("503"), RequestTimeout("lookup timeout"), report(OrderStatus.FILLED, "0.01")],
    )
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert outcome.report is not None
    assert outcome.report.status is OrderStatus.FILLED
    assert adapter.calls == ["submit", "lookup", "lookup", "lookup"]


@pytest.mark.anyio
async def test_lookup_that_never_answers_leaves_the_outcome_unknown() -> None:
    original = RequestTimeout("submit timed out")
    adapter = ScriptedAdapter([original], [BrokerUnavailable("503")] * 3)
    with pytest.raises(RequestTimeout) as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert caught.value is original  # transient: the engine keeps the order in flight
    assert isinstance(caught.value.__cause__, BrokerUnavailable)
    assert any("looking the order up failed" in note for note in caught.value.__notes__)
    assert adapter.calls == ["submit", "lookup", "lookup", "lookup"]


@pytest.mark.anyio
async def test_lookup_refused_for_good_is_still_an_unknown_outcome_not_a_rejection() -> None:
    adapter = ScriptedAdapter([BrokerUnavailable("502")], [AuthenticationError("key lacks read permission")])
    with pytest.raises(TransientError) as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert adapter.calls == ["submit", "lookup"]


@pytest.mark.anyio
async def test_duplicate_but_not_found_raises_unknown_outcome_without_resending() -> None:
    adapter = ScriptedAdapter([DuplicateClientOrderId("dup", code=-2010)], [OrderNotFound("?")])
    with pytest.raises(TransientError, match="duplicate id but cannot find") as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert not isinstance(caught.value, DuplicateClientOrderId)  # a BrokerError would read as a rejection
    assert caught.value.code == "-2010"
    assert adapter.calls == ["submit", "lookup"]


@pytest.mark.anyio
async def test_attempts_exhausted_reraises_the_last_transient_error() -> None:
    errors = [RequestTimeout(f"t{i}") for i in range(3)]
    adapter = ScriptedAdapter(list(errors), [OrderNotFound("no")] * 3)
    with pytest.raises(RequestTimeout) as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert caught.value is errors[2]
    assert attempts_of(caught.value) == 3
    assert adapter.calls == ["submit", "lookup"] * 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [InvalidOrder("bad tick"), InsufficientFunds("no funds"), AuthenticationError("bad key")],
)
async def test_broker_refusals_propagate_immediately(error: AutotraderError) -> None:
    adapter = ScriptedAdapter([error, ACCEPTED])
    sleeps = Sleeps()
    with pytest.raises(type(error)) as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps)
    assert caught.value is error
    assert adapter.calls == ["submit"]
    assert sleeps.waits == []


@pytest.mark.anyio
async def test_rate_limited_waits_retry_after_and_resends_without_lookup() -> None:
    adapter = ScriptedAdapter([RateLimited("429", retry_after=2.0), ACCEPTED])
    sleeps = Sleeps()
    retries: list[tuple[int, str, float]] = []
    outcome = await submit_with_lookup(
        adapter,
        make_order(),
        POLICY,
        sleep=sleeps,
        on_retry=lambda n, e, d: retries.append((n, type(e).__name__, d)),
    )
    assert outcome.attempts == 2
    assert adapter.calls == ["submit", "submit"]
    assert sleeps.waits == [2.0]
    assert retries == [(1, "RateLimited", 2.0)]


@pytest.mark.anyio
async def test_rate_limited_beyond_the_policy_wait_is_raised() -> None:
    ban = RateLimited("418", retry_after=600, banned=True)
    adapter = ScriptedAdapter([ban])
    with pytest.raises(RateLimited) as caught:
        await submit_with_lookup(adapter, make_order(), RetryPolicy(max_retry_after=60), sleep=Sleeps())
    assert caught.value is ban
    assert adapter.calls == ["submit"]


@pytest.mark.anyio
async def test_lookup_rate_limited_waits_and_asks_again() -> None:
    adapter = ScriptedAdapter([RequestTimeout("t")], [RateLimited("slow", retry_after=1.0), report()])
    sleeps = Sleeps()
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps)
    assert outcome.report is not None
    assert sleeps.waits == pytest.approx([0.2, 1.0])
    assert adapter.calls == ["submit", "lookup", "lookup"]


@pytest.mark.anyio
async def test_garbled_reply_is_looked_up_because_the_order_may_be_there() -> None:
    adapter = ScriptedAdapter([BrokerProtocolError("missing field 'orderId'")], [report()])
    sleeps = Sleeps()
    outcome = await submit_with_lookup(adapter, make_order(), POLICY, sleep=sleeps)
    assert outcome.report is not None
    assert adapter.calls == ["submit", "lookup"]
    assert sleeps.waits == []


@pytest.mark.anyio
async def test_garbled_reply_for_an_order_the_broker_lacks_is_raised_without_resend() -> None:
    garbled = BrokerProtocolError("unreadable")
    adapter = ScriptedAdapter([garbled, ACCEPTED], [OrderNotFound("no")])
    with pytest.raises(BrokerProtocolError) as caught:
        await submit_with_lookup(adapter, make_order(), POLICY, sleep=Sleeps())
    assert caught.value is garbled
    assert adapter.calls == ["submit", "lookup"]
