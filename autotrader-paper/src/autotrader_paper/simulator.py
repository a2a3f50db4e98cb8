"""The paper broker's matching engine: pure, synchronous, deterministic.

No I/O, no clock reads except the injected ``clock`` (for timestamps), no
randomness except the price source's seeded one. The adapter wraps it in the
async :class:`~autotrader_core.adapter.BrokerAdapter` contract.

The market model is deliberately simple and documented in the README:

* one price per symbol (no spread, no book); market and taker fills pay
  ``slippage_bps`` worse than it, rounded to the tick against the trader;
* a limit order that crosses on arrival takes (taker) at the better of its
  limit and the slipped quote; one that rests fills later at its own limit as
  maker when the quote touches or crosses it;
* stops trigger when the quote reaches the stop (buy: at or above, sell: at or
  below) and then work as a market (stop) or limit (stop-limit) order;
* ``partial_fill_threshold`` is the liquidity one order finds per tick: a
  larger order fills in chunks of that size, one chunk per tick;
* a spot cash account: buys lock quote currency (price × quantity plus the
  larger fee rate), sells lock the base quantity; fees are charged in the
  quote currency, exactly ``notional × rate``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from autotrader_core.adapter import OrderChange
from autotrader_core.enums import Liquidity, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    ConfigurationError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position, utc_now

from autotrader_paper.positions import PositionBook
from autotrader_paper.quotes import (
    CsvReplaySource,
    PriceSource,
    RandomWalkSource,
    StaticSource,
    load_price_csv,
)
from autotrader_paper.rules import (
    BROKER_NAME,
    LIMIT_TYPES,
    STOP_TYPES,
    check_price,
    check_quantity,
    validate_new_order,
)

if TYPE_CHECKING:
    from autotrader_paper.settings import PaperSettings

__all__ = ["BROKER_NAME", "SimOrder", "Simulator"]

RETIRED_IDS_FACTOR = 1
"""Forgotten orders' client order ids stay taken for this many × ``history_limit`` more orders."""

ZERO = Decimal(0)
ONE = Decimal(1)
_BPS = Decimal(10000)
_BUY = OrderSide.BUY
_MARKET_LIKE = frozenset({OrderType.MARKET, OrderType.STOP})


@dataclass(slots=True)
class SimOrder:
    """The simulator's own record of one order (the OMS's :class:`Order` is never mutated)."""

    client_order_id: str
    broker_order_id: str
    instrument: Instrument
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    post_only: bool
    lock_asset: str
    """Asset this order holds: the quote currency for a buy, the base for a sell."""
    status: OrderStatus
    updated_at: datetime
    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO
    fees: Decimal = ZERO
    locked: Decimal = ZERO
    """Amount of ``lock_asset`` still held for this order."""
    triggered: bool = True
    """False only for a stop or stop-limit order waiting for its stop price."""
    resting: bool = False
    """True once the order has posted on the book: its later fills are maker fills."""
    arrives_at: float | None = None
    """Monotonic time it reaches the matching engine (latency > 0), else ``None``."""
    expires_on: date | None = None
    """UTC day after which a DAY order expires."""
    close_reason: str | None = None
    """Why the order was canceled or rejected."""

    @property
    def symbol(self) -> str:
        """Symbol of the instrument traded."""
        return self.instrument.symbol

    @property
    def remaining(self) -> Decimal:
        """Quantity not filled yet."""
        return self.quantity - self.filled_quantity

    def report(self) -> OrderReport:
        """This order as the broker would describe it to a query."""
        average = self.filled_notional / self.filled_quantity if self.filled_quantity else None
        return OrderReport(
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            symbol=self.instrument.symbol,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            status=self.status,
            filled_quantity=self.filled_quantity,
            average_fill_price=average,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            updated_at=self.updated_at,
            broker=BROKER_NAME,
        )


@dataclass(slots=True)
class _Holding:
    total: Decimal
    locked: Decimal = ZERO


class Simulator:
    """Deterministic paper exchange: order book per symbol, cash account, fills, positions.

    Args:
        instruments: What can be traded.
        prices: The price source (moved by :meth:`advance`).
        balances: Starting holdings per asset.
        taker_fee_rate: Fee rate of fills that take liquidity.
        maker_fee_rate: Fee rate of fills of resting orders.
        slippage_bps: How much worse than the quote a market/taker fill is, in basis points.
        latency: Seconds before a submitted order reaches the matching engine (0 = at once).
        partial_fill_threshold: Largest quantity one order fills per tick (``None`` = no limit).
        clock: Source of event and fill timestamps (inject a fixed one for exact comparisons).
        session_id: Stem of broker order ids and trade ids; a new one per run keeps trade ids
            unique across restarts (the OMS de-duplicates fills on them).
        history_limit: Closed orders and fills kept for queries (``None`` = all). Older ones are
            forgotten, so a long run has bounded memory; their client order ids stay taken for
            another ``RETIRED_IDS_FACTOR × history_limit`` orders (far beyond any retry window:
            real brokers enforce uniqueness only among open or recent orders).
    """

    def __init__(
        self,
        *,
        instruments: Sequence[Instrument],
        prices: PriceSource,
        balances: Mapping[str, Decimal],
        taker_fee_rate: Decimal = Decimal("0.001"),
        maker_fee_rate: Decimal = Decimal("0.0005"),
        slippage_bps: Decimal = ZERO,
        latency: float = 0.0,
        partial_fill_threshold: Decimal | None = None,
        clock: Callable[[], datetime] = utc_now,
        session_id: str = "",
        history_limit: int | None = None,
    ) -> None:
        if history_limit is not None and history_limit < 1:
            raise ConfigurationError(f"history_limit must be at least 1, got {history_limit}")
        for name, rate in (("taker_fee_rate", taker_fee_rate), ("maker_fee_rate", maker_fee_rate)):
            if not rate.is_finite() or rate < 0 or rate >= 1:
                raise ConfigurationError(f"{name} must be in [0, 1), got {rate}")
        if not slippage_bps.is_finite() or slippage_bps < 0:
            raise ConfigurationError(f"slippage_bps must be zero or more, got {slippage_bps}")
        if latency < 0:
            raise ConfigurationError(f"latency must be zero or more, got {latency}")
        if partial_fill_threshold is not None and partial_fill_threshold <= 0:
            raise ConfigurationError(f"partial_fill_threshold must be positive, got {partial_fill_threshold}")
        for asset, amount in balances.items():
            if not amount.is_finite() or amount < 0:
                raise ConfigurationError(f"balance of {asset} must be zero or more, got {amount}")
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        missing = [s for s in self.instruments if prices.price(s) is None]
        if missing:
            raise ConfigurationError(f"the price source has no price for {missing}")
        self.prices = prices
        self.taker_fee_rate = taker_fee_rate
        self.maker_fee_rate = maker_fee_rate
        self._lock_fee_factor = ONE + max(taker_fee_rate, maker_fee_rate)
        self._up = ONE + slippage_bps / _BPS
        self._down = ONE - slippage_bps / _BPS
        self.latency = latency
        self.partial_fill_threshold = partial_fill_threshold
        self.clock = clock
        self._prefix = f"{session_id}-" if session_id else ""
        self._holdings: dict[str, _Holding] = {a: _Holding(amount) for a, amount in balances.items()}
        for inst in instruments:
            self._holdings.setdefault(inst.base, _Holding(ZERO))
            self._holdings.setdefault(inst.quote, _Holding(ZERO))
        self._orders: dict[str, SimOrder] = {}
        self._by_broker_id: dict[str, SimOrder] = {}
        self._books: dict[str, dict[str, SimOrder]] = {s: {} for s in self.instruments}
        """Open orders per symbol, by client order id, in arrival order."""
        self._arrivals: deque[SimOrder] = deque()
        self._fills: list[Fill] = []
        self._positions = PositionBook(BROKER_NAME)
        self._order_seq = 0
        self._trade_seq = 0
        self._now = clock()
        """Time of the operation in progress: one clock read per operation, shared by its events."""
        self._positions_folded = 0
        """How many of ``_fills`` the position book has seen (it is brought up to date lazily)."""
        self.history_limit = history_limit
        self._closed: deque[str] = deque()
        """Client order ids of closed orders, oldest first (for forgetting beyond the limit)."""
        self._retired: set[str] = set()
        self._retired_order: deque[str] = deque()
        """Client order ids of forgotten orders: still taken."""

    @classmethod
    def from_settings(
        cls,
        settings: PaperSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        session_id: str = "",
    ) -> Simulator:
        """Build a simulator (and its price source) from :class:`PaperSettings`."""
        instruments = [spec.to_instrument() for spec in settings.instruments]
        ticks = {i.symbol: i.tick_size for i in instruments}
        starts = {spec.symbol: settings.instrument_start_price(spec) for spec in settings.instruments}
        source: PriceSource
        if settings.quote_source == "static":
            source = StaticSource(starts, ticks)
        elif settings.quote_source == "csv":
            source = CsvReplaySource(load_price_csv(settings.csv_path), starts, ticks)
        else:
            source = RandomWalkSource(starts, ticks, seed=settings.seed, volatility=settings.volatility)
        return cls(
            instruments=instruments,
            prices=source,
            balances=settings.initial_balances,
            taker_fee_rate=settings.taker_fee_rate,
            maker_fee_rate=settings.maker_fee_rate,
            slippage_bps=settings.slippage_bps,
            latency=float(settings.latency_ms) / 1000,
            partial_fill_threshold=settings.partial_fill_threshold,
            clock=clock,
            session_id=session_id,
            history_limit=settings.history_limit,
        )

    # -- queries -----------------------------------------------------------------
    def price(self, symbol: str) -> Decimal | None:
        """Current simulated quote of ``symbol`` (``None`` for an unknown symbol)."""
        return self.prices.price(symbol)

    def touch_prices(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """``(bid, ask)`` of ``symbol``: what a market sell and a market buy would fill at now.

        With no slippage both are the simulated price; the ask is then one tick above it,
        so the quote is never a locked (no-price) book. ``None`` for an unknown symbol.
        """
        quote = self.prices.price(symbol)
        if quote is None:
            return None
        tick = self.instruments[symbol].tick_size
        bid, ask = self._slipped(OrderSide.SELL, quote, tick), self._slipped(_BUY, quote, tick)
        return (bid, ask) if bid < ask else (bid, bid + tick)

    def find(self, *, client_order_id: str | None = None, broker_order_id: str | None = None) -> SimOrder:
        """The order with this client id (checked first) or broker id.

        Raises:
            InvalidOrder: neither id given.
            OrderNotFound: no such order.
        """
        if client_order_id is None and broker_order_id is None:
            raise InvalidOrder("give client_order_id or broker_order_id", broker=BROKER_NAME)
        order = None
        if client_order_id is not None:
            order = self._orders.get(client_order_id)
        if order is None and broker_order_id is not None:
            order = self._by_broker_id.get(broker_order_id)
        if order is None:
            shown = client_order_id if client_order_id is not None else broker_order_id
            raise OrderNotFound(
                f"paper broker has no order {shown!r}", broker=BROKER_NAME, code="UNKNOWN_ORDER"
            )
        return order

    def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Reports of every open order (arrival order), optionally for one symbol."""
        books: Iterable[dict[str, SimOrder]]
        books = self._books.values() if symbol is None else [self._books.get(symbol, {})]
        return [o.report() for book in books for o in book.values()]

    @property
    def open_order_count(self) -> int:
        """Number of open orders over all symbols."""
        return sum(len(book) for book in self._books.values())

    def fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Every fill so far, oldest first, optionally filtered by symbol and time (inclusive)."""
        return [
            f
            for f in self._fills
            if (symbol is None or f.symbol == symbol) and (since is None or f.timestamp >= since)
        ]

    def balances(self) -> list[Balance]:
        """Holdings per asset: ``total`` and what open orders do not hold (``available``)."""
        return [
            Balance(asset=a, total=h.total, available=h.total - h.locked) for a, h in self._holdings.items()
        ]

    def balance(self, asset: str) -> Balance:
        """Holding of one asset (zero when never held)."""
        h = self._holdings.get(asset, _Holding(ZERO))
        return Balance(asset=asset, total=h.total, available=h.total - h.locked)

    def positions(self) -> list[Position]:
        """Non-flat net positions built from this simulator's own fills (average-cost method)."""
        self._fold_positions()
        return self._positions.positions(self.prices.price)

    def closing_events(self, *, since: datetime | None = None) -> list[OrderEvent]:
        """Cancel / expiry / reject events of orders that closed at or after ``since``.

        Rebuilt from the order records, for a stream's catch-up after a reconnect.
        """
        events: list[OrderEvent] = []
        for sim in self._orders.values():
            if since is not None and sim.updated_at < since:
                continue
            if sim.status is OrderStatus.CANCELED:
                events.append(OrderCanceled(sim.client_order_id, sim.close_reason, sim.updated_at))
            elif sim.status is OrderStatus.EXPIRED:
                events.append(OrderExpired(sim.client_order_id, sim.updated_at))
            elif sim.status is OrderStatus.REJECTED:
                reason = sim.close_reason or "rejected"
                events.append(
                    OrderRejected(sim.client_order_id, reason, "POST_ONLY_WOULD_CROSS", sim.updated_at)
                )
        return events

    # -- orders --------------------------------------------------------------------
    def submit(self, order: Order, now: float = 0.0) -> list[OrderEvent]:
        """Take a new order; return the events of the broker's reply.

        With no latency the order is matched at once and the reply carries
        ``OrderAccepted`` and any fills (and the cancel of an IOC/FOK remainder).
        With latency the reply is empty: the order reaches the engine at
        ``now + latency`` (see :meth:`process_arrivals`).

        Raises:
            DuplicateClientOrderId: the client order id is already known (nothing is created).
            InvalidOrder: unknown symbol or bad parameters; a post-only order that would cross.
            InsufficientFunds: the cash account cannot cover the order.
        """
        cid = order.client_order_id
        now_dt = self._now = self.clock()
        if cid in self._orders or cid in self._retired:
            raise DuplicateClientOrderId(
                f"client order id {cid!r} is already used by an earlier order",
                broker=BROKER_NAME,
                code="DUPLICATE_CLIENT_ORDER_ID",
            )
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise InvalidOrder(
                f"unknown symbol {order.symbol!r}; paper instruments are {sorted(self.instruments)}",
                broker=BROKER_NAME,
                code="UNKNOWN_SYMBOL",
            )
        quote = self.prices.quote(inst.symbol)
        validate_new_order(order, inst, quote)
        if order.reduce_only:
            self._check_reduces(order)
        is_buy = order.side is _BUY
        sim = SimOrder(
            client_order_id=cid,
            broker_order_id="",
            instrument=inst,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            time_in_force=order.time_in_force,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            post_only=order.post_only,
            lock_asset=inst.quote if is_buy else inst.base,
            status=OrderStatus.PENDING_SUBMIT,
            updated_at=now_dt,
            triggered=order.order_type not in STOP_TYPES,
        )
        if self.latency == 0 and sim.post_only and self._crosses(sim, quote):
            raise self._post_only_error(sim, quote)
        lock = self._lock_needed(sim, order.quantity, quote)
        holding = self._holding(sim.lock_asset)
        if lock > holding.total - holding.locked:
            raise InsufficientFunds(
                f"insufficient {sim.lock_asset} for {order.side} {order.quantity} {inst.symbol}: "
                f"need {lock}, available {holding.total - holding.locked}",
                broker=BROKER_NAME,
                code="INSUFFICIENT_BALANCE",
            )
        # Accepted by the broker from here on: register, hold the funds.
        self._order_seq += 1
        sim.broker_order_id = f"{self._prefix}p{self._order_seq}"
        holding.locked += lock
        sim.locked = lock
        self._orders[cid] = sim
        self._by_broker_id[sim.broker_order_id] = sim
        self._books[inst.symbol][cid] = sim
        if self.latency > 0:
            sim.arrives_at = now + self.latency
            self._arrivals.append(sim)
            return []
        events: list[OrderEvent] = []
        self._arrive(sim, quote, events)
        return events

    def cancel(
        self,
        *,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
        reason: str = "canceled on request",
    ) -> list[OrderEvent]:
        """Cancel an open order and release what it holds.

        Raises:
            OrderNotFound: unknown order, or one that is no longer open (filled, canceled...).
        """
        sim = self.find(client_order_id=client_order_id, broker_order_id=broker_order_id)
        if sim.status.is_terminal:
            raise OrderNotFound(
                f"order {sim.client_order_id!r} is {sim.status}, not open",
                broker=BROKER_NAME,
                code="ORDER_NOT_OPEN",
            )
        events: list[OrderEvent] = []
        self._now = self.clock()
        self._close(sim, OrderStatus.CANCELED, events, reason)
        return events

    def modify(
        self,
        change: OrderChange,
        *,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> list[OrderEvent]:
        """Change the quantity (total, including what filled) and/or prices of an open order in place.

        The broker order id is kept (native modify). An order that now crosses
        trades at once, as taker. On any error the order keeps its old terms.

        Raises:
            OrderNotFound: unknown or no longer open.
            InvalidOrder: a change the order type does not have, a bad quantity or price,
                or a post-only order that would cross.
            InsufficientFunds: the new terms need more than is available.
        """
        sim = self.find(client_order_id=client_order_id, broker_order_id=broker_order_id)
        if sim.status.is_terminal:
            raise OrderNotFound(
                f"order {sim.client_order_id!r} is {sim.status}, not open",
                broker=BROKER_NAME,
                code="ORDER_NOT_OPEN",
            )
        inst = sim.instrument
        if sim.order_type is OrderType.MARKET:
            raise InvalidOrder("a market order cannot be modified", broker=BROKER_NAME)
        if change.quantity is None and change.limit_price is None and change.stop_price is None:
            raise InvalidOrder(
                "the change is empty: give a quantity, limit_price or stop_price", broker=BROKER_NAME
            )
        quantity = sim.quantity if change.quantity is None else change.quantity
        limit_price = sim.limit_price
        stop_price = sim.stop_price
        if change.quantity is not None:
            check_quantity(quantity, inst)
            if quantity <= sim.filled_quantity:
                raise InvalidOrder(
                    f"new quantity {quantity} must exceed the filled quantity {sim.filled_quantity}",
                    broker=BROKER_NAME,
                )
        if change.limit_price is not None:
            if sim.order_type not in LIMIT_TYPES:
                raise InvalidOrder(f"a {sim.order_type} order has no limit price", broker=BROKER_NAME)
            check_price(change.limit_price, inst, "limit_price")
            limit_price = change.limit_price
        if change.stop_price is not None:
            if sim.order_type not in STOP_TYPES:
                raise InvalidOrder(f"a {sim.order_type} order has no stop price", broker=BROKER_NAME)
            if sim.triggered:
                raise InvalidOrder(
                    "the stop already triggered: its stop price cannot change", broker=BROKER_NAME
                )
            check_price(change.stop_price, inst, "stop_price")
            stop_price = change.stop_price
        quote = self.prices.quote(inst.symbol)
        reference = limit_price if limit_price is not None else stop_price
        if reference is not None and quantity * reference < inst.min_notional:
            raise InvalidOrder(
                f"notional {quantity * reference} is below the minimum {inst.min_notional}",
                broker=BROKER_NAME,
                code="MIN_NOTIONAL",
            )
        old = (sim.quantity, sim.limit_price, sim.stop_price)
        sim.quantity, sim.limit_price, sim.stop_price = quantity, limit_price, stop_price
        if sim.post_only and sim.arrives_at is None and self._crosses(sim, quote):
            error = self._post_only_error(sim, quote)
            sim.quantity, sim.limit_price, sim.stop_price = old
            raise error
        new_lock = self._lock_needed(sim, sim.remaining, quote)
        holding = self._holding(sim.lock_asset)
        extra = new_lock - sim.locked
        if extra > holding.total - holding.locked:
            sim.quantity, sim.limit_price, sim.stop_price = old
            raise InsufficientFunds(
                f"insufficient {sim.lock_asset} for the new terms: need {extra} more, "
                f"available {holding.total - holding.locked}",
                broker=BROKER_NAME,
                code="INSUFFICIENT_BALANCE",
            )
        holding.locked += extra
        sim.locked = new_lock
        now_dt = self._now = self.clock()
        sim.updated_at = now_dt
        events: list[OrderEvent] = [
            OrderModified(
                client_order_id=sim.client_order_id,
                quantity=sim.quantity,
                limit_price=sim.limit_price,
                stop_price=sim.stop_price,
                broker_order_id=sim.broker_order_id,
                timestamp=now_dt,
            )
        ]
        if sim.arrives_at is None:  # already working: new terms may trade at once, as taker
            if not sim.triggered:
                if self._stop_reached(sim, quote):
                    sim.triggered = True
                    self._activate(sim, quote, events)
            elif change.limit_price is not None:  # a new price is a new decision: it may take
                sim.resting = False
                self._work(sim, quote, events)
        return events

    # -- time --------------------------------------------------------------------------
    def advance(self, steps: int = 1) -> list[OrderEvent]:
        """Move the market ``steps`` ticks; after each, match every working order.

        Returns:
            The events of the fills, triggers and expiries that happened.
        """
        if steps < 0:
            raise ValueError("steps must be zero or more")
        events: list[OrderEvent] = []
        for _ in range(steps):
            self._now = self.clock()
            self.prices.step()
            self._match_all(events)
        return events

    def set_price(self, symbol: str, price: Decimal) -> list[OrderEvent]:
        """Force the quote of ``symbol`` (rounded to its tick) and match its working orders."""
        if symbol not in self.instruments:
            raise InvalidOrder(f"unknown symbol {symbol!r}", broker=BROKER_NAME, code="UNKNOWN_SYMBOL")
        if not price.is_finite() or price <= 0:
            raise InvalidOrder(f"price must be positive, got {price}", broker=BROKER_NAME)
        self.prices.set_price(symbol, price)
        self._now = self.clock()
        events: list[OrderEvent] = []
        self._match_all(events, only=symbol)
        return events

    @property
    def next_arrival(self) -> float | None:
        """Monotonic time the next delayed order reaches the engine, if any."""
        while self._arrivals and self._arrivals[0].status is not OrderStatus.PENDING_SUBMIT:
            self._arrivals.popleft()  # canceled while in flight
        return self._arrivals[0].arrives_at if self._arrivals else None

    def process_arrivals(self, now: float) -> list[OrderEvent]:
        """Accept and match every delayed order due by ``now`` (monotonic seconds)."""
        events: list[OrderEvent] = []
        self._now = self.clock()
        while self._arrivals:
            sim = self._arrivals[0]
            if sim.status is OrderStatus.PENDING_SUBMIT:
                if sim.arrives_at is not None and sim.arrives_at > now:
                    break
                quote = self.prices.quote(sim.instrument.symbol)
                if sim.post_only and self._crosses(sim, quote):
                    self._close(sim, OrderStatus.REJECTED, events, self._post_only_error(sim, quote).message)
                else:
                    self._arrive(sim, quote, events)
            self._arrivals.popleft()
        return events

    # -- internals -----------------------------------------------------------------------
    def _arrive(self, sim: SimOrder, quote: Decimal, events: list[OrderEvent]) -> None:
        """The order reaches the engine: acknowledge it and start working it."""
        now_dt = self._now
        sim.arrives_at = None
        sim.status = OrderStatus.ACCEPTED
        sim.updated_at = now_dt
        if sim.time_in_force is TimeInForce.DAY:
            sim.expires_on = now_dt.date()
        events.append(OrderAccepted(sim.client_order_id, sim.broker_order_id, now_dt))
        if sim.triggered:
            self._activate(sim, quote, events)
        elif self._stop_reached(sim, quote):
            sim.triggered = True
            self._activate(sim, quote, events)

    def _activate(self, sim: SimOrder, quote: Decimal, events: list[OrderEvent]) -> None:
        """The order starts trading (on arrival, or when its stop triggers): apply IOC/FOK."""
        tif = sim.time_in_force
        if tif is TimeInForce.FOK and not self._fills_whole_now(sim, quote):
            self._close(sim, OrderStatus.CANCELED, events, "FOK: the whole quantity cannot fill now")
            return
        self._work(sim, quote, events)
        if sim.status.is_open and tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._close(sim, OrderStatus.CANCELED, events, f"{tif.name}: unfilled remainder canceled")

    def _work(self, sim: SimOrder, quote: Decimal, events: list[OrderEvent]) -> None:
        """Trade one chunk of a working order at ``quote`` if its terms allow."""
        if sim.order_type in _MARKET_LIKE:
            self._fill(sim, self._slipped(sim.side, quote, sim.instrument.tick_size), Liquidity.TAKER, events)
            return
        limit = sim.limit_price
        assert limit is not None
        if not (quote <= limit if sim.side is _BUY else quote >= limit):
            sim.resting = True
            return
        if sim.resting:
            self._fill(sim, limit, Liquidity.MAKER, events)
            return
        slipped = self._slipped(sim.side, quote, sim.instrument.tick_size)
        price = min(limit, slipped) if sim.side is _BUY else max(limit, slipped)
        self._fill(sim, price, Liquidity.TAKER, events)

    def _match_all(self, events: list[OrderEvent], only: str | None = None) -> None:
        today: date | None = None
        for symbol, book in self._books.items():
            if not book or (only is not None and symbol != only):
                continue
            quote = self.prices.quote(symbol)
            for sim in list(book.values()):
                if sim.status is OrderStatus.PENDING_SUBMIT:
                    continue  # still in flight (latency)
                if sim.expires_on is not None:
                    if today is None:
                        today = self._now.date()
                    if today > sim.expires_on:
                        self._close(sim, OrderStatus.EXPIRED, events, None)
                        continue
                if sim.triggered:
                    self._work(sim, quote, events)
                elif self._stop_reached(sim, quote):
                    sim.triggered = True
                    self._activate(sim, quote, events)

    def _fill(self, sim: SimOrder, price: Decimal, liquidity: Liquidity, events: list[OrderEvent]) -> None:
        """Execute one chunk at ``price``: move cash, record the fill (positions fold it in later)."""
        inst = sim.instrument
        remaining = sim.quantity - sim.filled_quantity
        threshold = self.partial_fill_threshold
        quantity = remaining if threshold is None or remaining <= threshold else threshold
        notional = quantity * price
        fee = notional * (self.taker_fee_rate if liquidity is Liquidity.TAKER else self.maker_fee_rate)
        quote_holding = self._holdings[inst.quote]
        base_holding = self._holdings[inst.base]
        if sim.side is _BUY:
            cost = notional + fee
            from_lock = sim.locked if cost > sim.locked else cost
            extra = cost - from_lock
            if extra and extra > quote_holding.total - quote_holding.locked:
                self._close(
                    sim, OrderStatus.CANCELED, events, f"insufficient {inst.quote} to fill at {price}"
                )
                return
            quote_holding.total -= cost
            quote_holding.locked -= from_lock
            sim.locked -= from_lock
            base_holding.total += quantity
        else:
            base_holding.total -= quantity
            base_holding.locked -= quantity
            sim.locked -= quantity
            quote_holding.total += notional - fee
        now_dt = self._now
        self._trade_seq += 1
        fill = Fill(
            trade_id=f"{self._prefix}t{self._trade_seq}",
            client_order_id=sim.client_order_id,
            symbol=inst.symbol,
            side=sim.side,
            quantity=quantity,
            price=price,
            fee=fee,
            fee_currency=inst.quote,
            liquidity=liquidity,
            timestamp=now_dt,
            broker_order_id=sim.broker_order_id,
            broker=BROKER_NAME,
        )
        self._fills.append(fill)
        if self.history_limit is not None and len(self._fills) > self.history_limit * 11 // 10:
            self._forget_old_fills()
        events.append(OrderFilled(fill))
        sim.filled_quantity += quantity
        sim.filled_notional += notional
        sim.fees += fee
        sim.updated_at = now_dt
        if sim.filled_quantity == sim.quantity:
            self._close(sim, OrderStatus.FILLED, events, None)
        else:
            sim.status = OrderStatus.PARTIALLY_FILLED
            if sim.side is _BUY:  # hold no more than the remainder needs (a maker fee is lower)
                needed = self._lock_needed(
                    sim, sim.quantity - sim.filled_quantity, self.prices.quote(inst.symbol)
                )
                if sim.locked > needed:
                    quote_holding.locked -= sim.locked - needed
                    sim.locked = needed

    def _close(
        self, sim: SimOrder, status: OrderStatus, events: list[OrderEvent], reason: str | None
    ) -> None:
        """End the order: off the book, release what it still holds, report why."""
        self._books[sim.instrument.symbol].pop(sim.client_order_id, None)
        if sim.locked:
            self._holdings[sim.lock_asset].locked -= sim.locked
            sim.locked = ZERO
        sim.status = status
        sim.close_reason = reason
        sim.arrives_at = None
        now_dt = self._now
        sim.updated_at = now_dt
        if status is OrderStatus.CANCELED:
            events.append(OrderCanceled(sim.client_order_id, reason, now_dt))
        elif status is OrderStatus.EXPIRED:
            events.append(OrderExpired(sim.client_order_id, now_dt))
        elif status is OrderStatus.REJECTED:
            events.append(
                OrderRejected(sim.client_order_id, reason or "rejected", "POST_ONLY_WOULD_CROSS", now_dt)
            )
        if self.history_limit is not None:
            self._closed.append(sim.client_order_id)
            if len(self._closed) > self.history_limit:
                self._forget_oldest_order()

    def _forget_oldest_order(self) -> None:
        cid = self._closed.popleft()
        forgotten = self._orders.pop(cid, None)
        if forgotten is not None:
            self._by_broker_id.pop(forgotten.broker_order_id, None)
        self._retired.add(cid)
        self._retired_order.append(cid)
        assert self.history_limit is not None
        if len(self._retired_order) > self.history_limit * RETIRED_IDS_FACTOR:
            self._retired.discard(self._retired_order.popleft())

    def _forget_old_fills(self) -> None:
        assert self.history_limit is not None
        self._fold_positions()  # positions must have seen a fill before it is forgotten
        drop = len(self._fills) - self.history_limit
        del self._fills[:drop]
        self._positions_folded -= drop

    def _fold_positions(self) -> None:
        """Apply the fills not yet in the positions (kept off the submit hot path)."""
        fills = self._fills
        for fill in fills[self._positions_folded :]:
            self._positions.apply(fill)
        self._positions_folded = len(fills)

    def _holding(self, asset: str) -> _Holding:
        holding = self._holdings.get(asset)
        if holding is None:
            holding = self._holdings[asset] = _Holding(ZERO)
        return holding

    def _slipped(self, side: OrderSide, quote: Decimal, tick: Decimal) -> Decimal:
        """Quote moved against the trader by the slippage, rounded to the tick against the trader."""
        if side is _BUY:
            return (quote * self._up / tick).to_integral_value(ROUND_CEILING) * tick
        return max((quote * self._down / tick).to_integral_value(ROUND_FLOOR) * tick, tick)

    def _lock_needed(self, sim: SimOrder, quantity: Decimal, quote: Decimal) -> Decimal:
        """What a new or modified order must hold: base quantity (sell) or cost plus fee (buy)."""
        if sim.side is not _BUY:
            return quantity
        tick = sim.instrument.tick_size
        if sim.order_type is OrderType.MARKET:
            price = self._slipped(_BUY, quote, tick)
        elif sim.order_type is OrderType.STOP:
            assert sim.stop_price is not None
            price = self._slipped(_BUY, max(sim.stop_price, quote) if sim.triggered else sim.stop_price, tick)
        else:
            assert sim.limit_price is not None
            price = sim.limit_price
        return quantity * price * self._lock_fee_factor

    def _crosses(self, sim: SimOrder, quote: Decimal) -> bool:
        limit = sim.limit_price
        assert limit is not None
        return quote <= limit if sim.side is _BUY else quote >= limit

    @staticmethod
    def _stop_reached(sim: SimOrder, quote: Decimal) -> bool:
        stop = sim.stop_price
        assert stop is not None
        return quote >= stop if sim.side is _BUY else quote <= stop

    def _fills_whole_now(self, sim: SimOrder, quote: Decimal) -> bool:
        threshold = self.partial_fill_threshold
        if threshold is not None and sim.quantity - sim.filled_quantity > threshold:
            return False
        return sim.order_type in _MARKET_LIKE or self._crosses(sim, quote)

    @staticmethod
    def _post_only_error(sim: SimOrder, quote: Decimal) -> InvalidOrder:
        return InvalidOrder(
            f"post-only {sim.side} at {sim.limit_price} would cross the market at {quote}",
            broker=BROKER_NAME,
            code="POST_ONLY_WOULD_CROSS",
        )

    def _check_reduces(self, order: Order) -> None:
        self._fold_positions()
        held = self._positions.quantity(order.symbol)
        reduces = (held > 0 and order.side is OrderSide.SELL) or (held < 0 and order.side is _BUY)
        if not reduces or order.quantity > abs(held):
            raise InvalidOrder(
                f"reduce-only {order.side} {order.quantity} would not reduce "
                f"the position of {held} {order.symbol}",
                broker=BROKER_NAME,
                code="REDUCE_ONLY",
            )
