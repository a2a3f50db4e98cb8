"""``PaperAdapter``: the full :class:`~autotrader_core.adapter.BrokerAdapter` contract over the simulator.

Replies carry what the simulator did at once (with no latency, a marketable
order comes back as ``[OrderAccepted, OrderFilled, ...]``). Everything that
happens later (resting orders filling on price ticks, stops triggering, orders
delayed by latency, DAY expiries) is delivered by :meth:`PaperAdapter.stream_events`
through an unbounded anyio memory stream: nothing is dropped, and events wait in
the buffer while nobody is reading.

The simulated clock runs while ``stream_events()`` is being iterated (one price
tick every ``tick_interval`` seconds); :meth:`PaperAdapter.advance` moves it by hand,
deterministically.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import anyio
import anyio.lowlevel
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderType, TimeInForce
from autotrader_core.errors import BrokerUnavailable, OrderNotFound
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.market_data import MarketDataFeed, Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position, utc_now
from autotrader_core.resend import ResendGuarantee

from autotrader_paper.faults import FaultInjector, InjectedFault
from autotrader_paper.market_data import PaperMarketData, paper_quote
from autotrader_paper.settings import PaperSettings
from autotrader_paper.simulator import BROKER_NAME, Simulator

__all__ = ["PAPER_CAPABILITIES", "PaperAdapter"]

logger = logging.getLogger(__name__)

PAPER_CAPABILITIES = Capabilities(
    order_types=frozenset(OrderType),
    time_in_force=frozenset(TimeInForce),
    asset_classes=frozenset({AssetClass.CRYPTO_SPOT}),
    post_only=True,
    native_modify=True,
    streaming_fills=True,
    broker_positions=True,
    fill_history=True,
    reduce_only=True,
    quotes=True,
    test_environments=("paper",),
    notes=(
        "simulated market: one price per symbol, no order book depth",
        "spot cash account: no shorting, no margin",
        "ticks advance while stream_events() runs, or with advance()",
    ),
)
"""What the paper broker supports (everything the core contract has, for spot)."""

_MAX_CATCH_UP_TICKS = 1000
"""Ticks taken at most in one go when the stream consumer fell behind the clock."""


def _session_id() -> str:
    """A new stem for ids on every run: base-36 milliseconds since the epoch plus a random salt."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    value = time.time_ns() // 1_000_000
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out + "".join(secrets.choice(digits) for _ in range(3))


class PaperAdapter(BrokerAdapter):
    """Paper-trading broker: a deterministic simulated exchange behind the adapter contract.

    Args:
        settings: Simulator settings; default ``PaperSettings()`` (env ``AUTOTRADER_PAPER_*``).
        clock: Timestamp source for events and fills (default: current UTC time).
        session_id: Stem of broker order ids and trade ids. Default: a new one per adapter,
            so trade ids never repeat across runs (the OMS de-duplicates fills on them);
            pass a fixed one to compare two runs exactly.

    Attributes:
        simulator: The matching engine (synchronous, inspectable).
        faults: Fault injection (see :class:`~autotrader_paper.faults.FaultInjector`).
    """

    name: ClassVar[str] = BROKER_NAME
    capabilities: ClassVar[Capabilities] = PAPER_CAPABILITIES
    resend_guarantee = ResendGuarantee.idempotency_key(
        "paper simulator: a client order id it has seen (working, in flight under latency, or "
        "finished, within its id history) is refused with DuplicateClientOrderId and nothing is created, so a re-send after "
        "a lost reply (fault plan after_apply) never makes a second order; the refusal means the "
        "order is already there: look it up. A modify sets absolute terms: sent twice, same order"
    )

    def __init__(
        self,
        settings: PaperSettings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        session_id: str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else PaperSettings()
        self.simulator = Simulator.from_settings(
            self.settings, clock=clock, session_id=_session_id() if session_id is None else session_id
        )
        self.faults = FaultInjector()
        self.faults.on_drop = self._wake
        self._connected = False
        self._watermark: datetime | None = None
        """Timestamp of the last event the stream delivered (catch-up starts there)."""
        self._send, self._receive = anyio.create_memory_object_stream[OrderEvent](math.inf)
        self._wakeup: anyio.Event | None = None
        self._consumer: object | None = None
        """Token of the ``stream_events()`` generator currently reading (the newest one)."""

    # -- connection -------------------------------------------------------------------
    async def connect(self) -> None:
        """Mark the adapter connected (no I/O: the exchange is in process)."""
        fault = self._before("connect", need_connection=False)
        self._connected = True
        self._raise_after(fault)

    async def disconnect(self) -> None:
        """Mark the adapter disconnected; a running ``stream_events()`` ends after draining."""
        self._connected = False
        self._wake()

    @property
    def is_connected(self) -> bool:
        """Whether ``connect`` was called and ``disconnect`` was not."""
        return self._connected

    # -- orders -----------------------------------------------------------------------
    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place ``order``; with no latency the reply carries its acknowledgement and fills.

        Raises:
            DuplicateClientOrderId: the client order id was used before (nothing is created).
            InvalidOrder: unknown symbol, bad parameters, or a post-only order that would cross.
            InsufficientFunds: the cash account cannot cover it.
            BrokerUnavailable: not connected (or an injected fault).
        """
        if not self._connected or self.faults or self.simulator.latency:
            return self._slow_submit(order)
        return self.simulator.submit(order)

    def _slow_submit(self, order: Order) -> list[OrderEvent]:
        fault = self._before("submit")
        events = self.simulator.submit(order, time.monotonic())
        return self._reply(fault, events)

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel ``order`` (found by client order id, else broker order id).

        Raises:
            OrderNotFound: unknown, or no longer open (it may have filled: query it).
        """
        fault = self._before("cancel")
        events = self.simulator.cancel(
            client_order_id=order.client_order_id, broker_order_id=order.broker_order_id
        )
        return self._reply(fault, events)

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Change quantity and/or prices of a working order in place (native modify).

        Returns ``[OrderModified, ...fills if the new terms cross]``.

        Raises:
            OrderNotFound, InvalidOrder, InsufficientFunds: the broker refused; old terms stay.
        """
        fault = self._before("modify")
        events = self.simulator.modify(
            change, client_order_id=order.client_order_id, broker_order_id=order.broker_order_id
        )
        return self._reply(fault, events)

    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """The broker's view of one order, by client order id or broker order id.

        Raises:
            OrderNotFound: no such order in ``symbol``.
        """
        fault = self._before("get_order")
        sim = self.simulator.find(client_order_id=client_order_id, broker_order_id=broker_order_id)
        if sim.symbol != symbol:
            raise OrderNotFound(
                f"paper broker has no order {client_order_id or broker_order_id!r} in {symbol}",
                broker=BROKER_NAME,
                code="UNKNOWN_ORDER",
            )
        self._raise_after(fault)
        return sim.report()

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every open order, oldest first, optionally for one symbol."""
        self._raise_after(self._before("get_open_orders"))
        return self.simulator.open_orders(symbol)

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Every fill so far (oldest first), optionally from ``since`` on (inclusive)."""
        self._raise_after(self._before("get_fills"))
        return self.simulator.fills(symbol=symbol, since=since)

    # -- account ----------------------------------------------------------------------
    async def get_positions(self) -> list[Position]:
        """Net positions from the paper fills (average-cost, fees in the quote currency)."""
        self._raise_after(self._before("get_positions"))
        return self.simulator.positions()

    async def get_balances(self) -> list[Balance]:
        """Cash account: total and available (total minus what open orders hold) per asset."""
        self._raise_after(self._before("get_balances"))
        return self.simulator.balances()

    async def get_instruments(self) -> list[Instrument]:
        """The configured instruments."""
        self._raise_after(self._before("get_instruments"))
        return list(self.simulator.instruments.values())

    def last_price(self, symbol: str) -> Decimal | None:
        """Current simulated quote of ``symbol`` (``None`` for an unknown symbol)."""
        return self.simulator.prices.price(symbol)

    # -- market data ----------------------------------------------------------------------
    async def get_quote(self, symbol: str) -> Quote:
        """The simulated quote: the bid/ask a market sell/buy would fill at now (sizes nominal)."""
        return paper_quote(self.simulator, symbol)

    def open_market_data(self, *, trades: bool = False) -> MarketDataFeed:
        """Simulated quotes through the same contract as a live venue (no public trades)."""
        return PaperMarketData(self.simulator, interval=self.settings.tick_interval)

    # -- simulated market -----------------------------------------------------------------
    def advance(self, steps: int = 1) -> list[OrderEvent]:
        """Move the market ``steps`` ticks now and match working orders (no wall clock needed).

        Also processes latency-delayed orders that are due. The events are
        published on ``stream_events()`` and returned for inspection.
        """
        events = self.simulator.advance(steps)
        events.extend(self._due_arrivals())
        self._publish(events)
        return events

    def set_price(self, symbol: str, price: Decimal) -> list[OrderEvent]:
        """Force the quote of ``symbol`` (rounded to its tick) and match its working orders.

        The events are published on ``stream_events()`` and returned for inspection.
        """
        events = self.simulator.set_price(symbol, price)
        self._publish(events)
        return events

    # -- stream -----------------------------------------------------------------------
    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Events not carried by a reply, in order, until ``disconnect``; runs the price clock.

        One consumer at a time: a new call takes the stream over and the previous
        generator ends (so a consumer abandoned without ``aclose()`` never blocks the next
        one). Events produced while nobody reads wait in the buffer.
        """
        token = object()
        self._consumer = token
        self._wake()  # a previous consumer wakes up, sees it was replaced, and ends
        try:
            interval = self.settings.tick_interval
            next_tick = time.monotonic() + interval if interval > 0 else math.inf
            while self._consumer is token:
                if self.faults.stream_drops:
                    self.faults.stream_drops = 0
                    lost = self._discard_in_flight()
                    await anyio.lowlevel.checkpoint()  # the "reconnect"
                    caught_up = self._catch_up()
                    logger.info(
                        "paper stream dropped (injected): %d in-flight events lost, %d caught up",
                        lost,
                        len(caught_up),
                    )
                    for event in caught_up:
                        self._watermark = event.timestamp
                        yield event
                    continue
                try:
                    event = self._receive.receive_nowait()
                except anyio.WouldBlock:
                    if not self._connected:
                        return
                    now = time.monotonic()
                    if now >= next_tick:
                        behind = int((now - next_tick) // interval) + 1
                        next_tick += behind * interval
                        self._publish(self.simulator.advance(min(behind, _MAX_CATCH_UP_TICKS)))
                        continue
                    due = self.simulator.next_arrival
                    if due is not None and due <= now:
                        self._publish(self.simulator.process_arrivals(now))
                        continue
                    deadline = next_tick if due is None else min(due, next_tick)
                    # Waiting on an Event (never on receive()) so a timeout can't lose an item.
                    wakeup = self._wakeup = anyio.Event()
                    with anyio.move_on_after(deadline - now):
                        await wakeup.wait()
                    continue
                self._watermark = event.timestamp
                yield event
        finally:
            if self._consumer is token:
                self._consumer = None

    # -- internals -----------------------------------------------------------------------
    def _before(self, operation: str, *, need_connection: bool = True) -> InjectedFault | None:
        """Common preamble: connection check, due latency arrivals, planned faults.

        Returns the planned after-apply fault (or ``None``); raises a before-apply one.
        """
        if need_connection and not self._connected:
            raise BrokerUnavailable(
                "paper adapter is not connected: call connect() first", broker=BROKER_NAME
            )
        if self.simulator.latency:
            self._publish(self._due_arrivals())
        if not self.faults:
            return None
        fault = self.faults.take(operation)
        if fault is None:
            return None
        if not fault.after_apply:
            raise fault.error
        return fault

    def _reply(self, fault: InjectedFault | None, events: list[OrderEvent]) -> list[OrderEvent]:
        """Return the reply's events, or lose the reply to an after-apply fault.

        A lost reply's events still reach ``stream_events()``, as a real broker's
        private stream would report them.
        """
        if fault is None:
            return events
        self._publish(events)
        raise fault.error

    @staticmethod
    def _raise_after(fault: InjectedFault | None) -> None:
        """A query's reply lost after the broker answered: nothing changed, so just raise."""
        if fault is not None:
            raise fault.error

    def _discard_in_flight(self) -> int:
        """Lose what the dropped connection had not delivered yet (fault injection only)."""
        lost = 0
        while True:
            try:
                self._receive.receive_nowait()
            except anyio.WouldBlock:
                return lost
            lost += 1

    def _catch_up(self) -> list[OrderEvent]:
        """What a reconnecting adapter re-reads: fills since the last delivered event, then closures."""
        since = self._watermark
        events: list[OrderEvent] = [OrderFilled(f) for f in self.simulator.fills(since=since)]
        events.extend(self.simulator.closing_events(since=since))
        return events

    def _due_arrivals(self) -> list[OrderEvent]:
        due = self.simulator.next_arrival
        if due is None or due > time.monotonic():
            return []
        return self.simulator.process_arrivals(time.monotonic())

    def _publish(self, events: list[OrderEvent]) -> None:
        if not events:
            return
        for event in events:
            self._send.send_nowait(event)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
