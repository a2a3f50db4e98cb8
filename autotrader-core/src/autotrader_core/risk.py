"""Pre-trade risk checks: refuse a bad order before anything is sent.

:meth:`RiskChecks.check` raises :class:`~autotrader_core.errors.RiskRejected`
(with a stable ``reason`` code, see the class constants) or
:class:`~autotrader_core.errors.UnsupportedFeature`, with a message that says
what to change — for tick and lot violations the nearest valid value.

It sits on the hot path of every order, so the common case (an order that
passes) allocates nothing: instrument rules are pre-digested once in
:meth:`RiskChecks.set_instruments` and every test is a comparison or a decimal
remainder.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from autotrader_core.adapter import OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.decimals import round_to_step
from autotrader_core.enums import OrderSide, OrderType, TradingState
from autotrader_core.errors import InvalidOrder, RiskRejected, UnsupportedFeature
from autotrader_core.models import Instrument, Order
from autotrader_core.trading_gate import TradingGate

__all__ = ["RiskChecks", "RiskLimits"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Account-level limits; ``None`` switches a limit off."""

    max_order_notional: Decimal | None = None
    """Largest price × quantity (× multiplier) of one order, in the quote currency."""
    max_position: Decimal | None = None
    """Largest ``|net quantity|`` per symbol once the order has fully filled."""
    max_position_by_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    """Per-symbol overrides of ``max_position``."""
    max_open_orders: int | None = None
    """Most working orders at once (across symbols)."""
    max_orders_per_second: float | None = None
    """Most orders let through per second (sliding window; only passed orders count)."""
    price_band: Decimal | None = None
    """Largest distance of a limit/stop price from the reference price, as a fraction
    (``Decimal("0.05")`` = ±5 %)."""
    reducing_without_price: bool = True
    """Let an order that only reduces a position (reduce-only, or opposite to the position and
    no larger) through the price band and notional limit when no fresh price is known:
    getting out must stay possible. ``False`` refuses it like an opening order."""


class _Rules:
    """One instrument's rules, pre-digested for the hot path."""

    __slots__ = (
        "instrument",
        "lot",
        "market_lot",
        "max_quantity",
        "min_notional",
        "min_quantity",
        "multiplier",
        "symbol",
        "tick",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.tick = instrument.tick_size if instrument.tick_size > 0 else None
        self.lot = instrument.lot_size if instrument.lot_size > 0 else None
        market_lot = instrument.market_lot_size
        self.market_lot = market_lot if market_lot is not None and market_lot > 0 else self.lot
        self.min_quantity = instrument.min_quantity if instrument.min_quantity > 0 else None
        self.max_quantity = instrument.max_quantity
        self.min_notional = instrument.min_notional if instrument.min_notional > 0 else None
        self.multiplier = instrument.multiplier if instrument.multiplier != _ONE else None


class RiskChecks:
    """Pre-trade checks run on every order before it is recorded and sent.

    Args:
        limits: Account-level limits (none by default: instrument rules and the
            trading state still apply).
        clock: Monotonic clock in seconds for the order-rate window (injectable).
        gate: The trading gate to read (a new ``ACTIVE`` one by default); the engine,
            the kill switch, recovery and the control seam change it through its methods.
    """

    TRADING_HALTED = "TRADING_HALTED"
    """Trading is halted (kill switch): nothing is sent."""
    TRADING_REDUCING = "TRADING_REDUCING"
    """Trading is reducing-only and the order would grow or flip the position."""
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    """The symbol is not among the instruments the broker listed."""
    PRICE_TICK = "PRICE_TICK"
    """A limit or stop price is not a multiple of the tick size."""
    QUANTITY_STEP = "QUANTITY_STEP"
    """The quantity is not a multiple of the lot size (market lot size for market orders)."""
    MIN_QUANTITY = "MIN_QUANTITY"
    """The quantity is below the instrument's minimum."""
    MAX_QUANTITY = "MAX_QUANTITY"
    """The quantity is above the instrument's maximum."""
    MIN_NOTIONAL = "MIN_NOTIONAL"
    """Price × quantity is below the instrument's minimum notional."""
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    """Price × quantity is above ``RiskLimits.max_order_notional`` (or cannot be priced)."""
    MAX_POSITION = "MAX_POSITION"
    """The position after a full fill would exceed the position limit."""
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    """Too many working orders already."""
    MAX_ORDER_RATE = "MAX_ORDER_RATE"
    """Too many orders in the sliding rate window."""
    PRICE_BAND = "PRICE_BAND"
    """A limit or stop price is too far from the reference price."""
    NO_PRICE = "NO_PRICE"
    """A price-dependent check (price band, notional limit of a market order) has no fresh
    price to check against: the order is refused, never let through unchecked."""

    def __init__(
        self,
        limits: RiskLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        gate: TradingGate | None = None,
    ) -> None:
        self._clock = clock
        self.gate = gate if gate is not None else TradingGate()
        """The trading gate these checks read (owner of the trading state)."""
        self._rules: dict[str, _Rules] = {}
        self._instruments_set = False
        self._limits = RiskLimits()
        self._recent: deque[float] = deque()
        self._rate_count = 0
        self._rate_window = 1.0
        self.limits = limits if limits is not None else RiskLimits()

    # -- configuration --------------------------------------------------------------
    @property
    def limits(self) -> RiskLimits:
        """The account-level limits in force (assign to change them at run time)."""
        return self._limits

    @limits.setter
    def limits(self, limits: RiskLimits) -> None:
        rate = limits.max_orders_per_second
        if rate is not None:
            if not rate > 0 or not math.isfinite(rate):
                raise ValueError(f"max_orders_per_second must be a positive number, got {rate}")
            # Fractional rates widen the window: 0.5/s = 1 order per 2 s.
            self._rate_window = max(1.0, 1.0 / rate)
            self._rate_count = max(1, math.floor(rate * self._rate_window + 1e-9))
            self._recent = deque(self._recent, maxlen=self._rate_count)
        if limits.price_band is not None and limits.price_band < 0:
            raise ValueError(f"price_band is a non-negative fraction, got {limits.price_band}")
        self._limits = limits
        self._max_position = limits.max_position
        self._position_overrides = dict(limits.max_position_by_symbol)
        self._max_notional = limits.max_order_notional
        self._max_open = limits.max_open_orders
        self._band = limits.price_band
        self._rate_on = rate is not None

    @property
    def trading_state(self) -> TradingState:
        """``ACTIVE``, ``REDUCING`` (only position-shrinking orders) or ``HALTED`` (nothing).

        Read from :attr:`gate`; assigning is kept for existing code and goes through
        :meth:`TradingGate.set` (prefer ``gate.halt()`` / ``gate.reduce()`` / ``gate.resume()``).
        """
        return self.gate.state

    @trading_state.setter
    def trading_state(self, state: TradingState | str) -> None:
        self.gate.set(state)

    def set_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Load the trading rules; from now on an order for an unknown symbol is refused."""
        self._rules = {inst.symbol: _Rules(inst) for inst in instruments}
        self._instruments_set = True

    def instrument(self, symbol: str) -> Instrument | None:
        """The rules of ``symbol``, if loaded."""
        rules = self._rules.get(symbol)
        return rules.instrument if rules is not None else None

    # -- the check ------------------------------------------------------------------
    def check(
        self,
        order: Order,
        *,
        position: Decimal,
        open_orders: int,
        capabilities: Capabilities | None = None,
        reference_price: Decimal | None = None,
        price_missing: str | None = None,
    ) -> None:
        """Refuse ``order`` if it breaks a rule; return ``None`` if it may be sent.

        Args:
            position: Current signed net quantity in ``order.symbol``.
            open_orders: Working orders right now (not counting this one).
            capabilities: The adapter's declaration; order type, time in force and
                post-only are checked against it when given.
            reference_price: What the order would trade at now (the ask for a buy, the bid
                for a sell): prices market orders for the notional checks and anchors the
                price band. Without it, the band and ``max_order_notional`` refuse the
                order (``NO_PRICE``) unless it only reduces a position
                (``RiskLimits.reducing_without_price``); the instrument's minimum notional
                is left to the broker.
            price_missing: Why there is no reference price (said in the refusal).

        Raises:
            RiskRejected: with ``reason`` one of the class constants.
            UnsupportedFeature: the adapter does not declare what the order needs.
        """
        state = self.gate.state
        if state is not TradingState.ACTIVE:
            self._check_state(state, order, position)
        if capabilities is not None:
            _check_capabilities(order, capabilities)

        symbol = order.symbol
        quantity = order.quantity
        order_type = order.order_type
        rules = self._rules.get(symbol)
        if rules is None and self._instruments_set:
            raise RiskRejected(
                f"unknown instrument {symbol!r}: it is not among the instruments the broker listed; "
                "check the symbol's spelling for this broker",
                reason=self.UNKNOWN_INSTRUMENT,
            )

        limit_price = order.limit_price
        stop_price = order.stop_price
        if rules is not None:
            tick = rules.tick
            if tick is not None:
                if limit_price is not None and limit_price % tick:
                    raise self._off_tick("price", limit_price, tick, symbol)
                if stop_price is not None and stop_price % tick:
                    raise self._off_tick("stop price", stop_price, tick, symbol)
            step = rules.market_lot if order_type is OrderType.MARKET else rules.lot
            if step is not None and quantity % step:
                nearest = round_to_step(quantity, step)
                if nearest == 0:
                    nearest = step
                what = "market lot size" if step is not rules.lot else "lot size"
                raise RiskRejected(
                    f"quantity {quantity} is not a multiple of {what} {step} for {symbol}; "
                    f"nearest valid quantity: {nearest}",
                    reason=self.QUANTITY_STEP,
                )
            if rules.min_quantity is not None and quantity < rules.min_quantity:
                raise RiskRejected(
                    f"quantity {quantity} is below the minimum {rules.min_quantity} for {symbol}",
                    reason=self.MIN_QUANTITY,
                )
            if rules.max_quantity is not None and quantity > rules.max_quantity:
                raise RiskRejected(
                    f"quantity {quantity} is above the maximum {rules.max_quantity} for {symbol}; "
                    "split the order",
                    reason=self.MAX_QUANTITY,
                )

        # Notional: a limit price if there is one, else the stop price, else the market.
        price = limit_price if limit_price is not None else stop_price
        if price is None:
            price = reference_price
        if price is not None:
            notional = price * quantity
            if rules is not None:
                if rules.multiplier is not None:
                    notional *= rules.multiplier
                if rules.min_notional is not None and notional < rules.min_notional:
                    raise self._below_min_notional(rules, price, quantity, notional)
            if self._max_notional is not None and notional > self._max_notional:
                raise self._above_max_notional(rules, symbol, price, quantity, notional)
        elif self._max_notional is not None and not self._may_pass_unpriced(order, position):
            raise RiskRejected(
                f"cannot check the {self._max_notional} order notional limit for a {order_type.value} "
                f"order on {symbol}: {price_missing or 'no reference price is known'}; "
                "use a limit order or wait for a fresh quote",
                reason=self.NO_PRICE,
            )

        max_position = self._position_overrides.get(symbol, self._max_position)
        if max_position is not None:
            projected = position + quantity if order.side is OrderSide.BUY else position - quantity
            # An order that brings an over-limit position closer to flat is always allowed.
            if abs(projected) > max_position and abs(projected) >= abs(position):
                raise self._above_max_position(order, position, projected, max_position)

        if self._max_open is not None and open_orders >= self._max_open:
            raise RiskRejected(
                f"{open_orders} orders are already open, the limit is {self._max_open}; "
                "cancel some or wait for fills",
                reason=self.MAX_OPEN_ORDERS,
            )

        band = self._band
        if (
            band is not None
            and reference_price is None
            and (limit_price is not None or stop_price is not None)
            and not self._may_pass_unpriced(order, position)
        ):
            raise RiskRejected(
                f"cannot check the ±{_plain(band * _HUNDRED)}% price band for {symbol}: "
                f"{price_missing or 'no reference price is known'}; wait for a fresh quote",
                reason=self.NO_PRICE,
            )
        if band is not None and reference_price is not None and reference_price > 0:
            reach = reference_price * band
            if limit_price is not None and abs(limit_price - reference_price) > reach:
                raise self._outside_band("limit price", limit_price, reference_price, band, symbol)
            if stop_price is not None and abs(stop_price - reference_price) > reach:
                raise self._outside_band("stop price", stop_price, reference_price, band, symbol)

        if self._rate_on:  # last: only orders that passed every other check count
            now = self._clock()
            recent = self._recent
            if len(recent) == self._rate_count and now - recent[0] < self._rate_window:
                raise RiskRejected(
                    f"order rate limit reached: {self._rate_count} orders in {self._rate_window:g}s "
                    f"(max_orders_per_second={self._limits.max_orders_per_second}); slow down",
                    reason=self.MAX_ORDER_RATE,
                )
            recent.append(now)

    def needs_price(self, order: Order) -> bool:
        """Whether a check in force needs a reference price for ``order`` (band, or a market order's notional)."""
        if self._band is not None and (order.limit_price is not None or order.stop_price is not None):
            return True
        return self._max_notional is not None and order.limit_price is None and order.stop_price is None

    def _may_pass_unpriced(self, order: Order, position: Decimal) -> bool:
        """An order that only reduces the position passes unpriced checks when the limits allow it."""
        if not self._limits.reducing_without_price:
            return False
        if order.reduce_only:
            return True
        if order.side is OrderSide.BUY:
            return position < 0 and order.quantity <= -position
        return position > 0 and order.quantity <= position

    def check_change(self, order: Order, change: OrderChange) -> None:
        """The instrument's tick, lot and size rules for a modify's new terms (before anything is sent).

        Raises:
            RiskRejected: a new price is off the tick, or the new quantity breaks the lot
                size or the instrument's minimum/maximum (``reason`` as for :meth:`check`).
            InvalidOrder: the new terms are out of the decimal range.
        """
        instrument = self.instrument(order.symbol)
        if instrument is None:
            return
        tick, lot = instrument.tick_size, instrument.lot_size
        try:
            for name, price in (("limit price", change.limit_price), ("stop price", change.stop_price)):
                if price is not None and tick > 0 and price % tick:
                    raise RiskRejected(
                        f"new {name} {price} is not a multiple of tick size {tick} for {order.symbol}",
                        reason=self.PRICE_TICK,
                    )
            quantity = change.quantity
            if quantity is not None:
                if lot > 0 and quantity % lot:
                    raise RiskRejected(
                        f"new quantity {quantity} is not a multiple of lot size {lot} for {order.symbol}",
                        reason=self.QUANTITY_STEP,
                    )
                if quantity < instrument.min_quantity:
                    raise RiskRejected(
                        f"new quantity {quantity} is below the minimum {instrument.min_quantity}",
                        reason=self.MIN_QUANTITY,
                    )
                if instrument.max_quantity is not None and quantity > instrument.max_quantity:
                    raise RiskRejected(
                        f"new quantity {quantity} is above the maximum {instrument.max_quantity}",
                        reason=self.MAX_QUANTITY,
                    )
        except ArithmeticError:
            raise InvalidOrder(f"the new terms of {order.client_order_id} are out of range") from None

    # -- slow paths: messages ----------------------------------------------------------
    def _check_state(self, state: TradingState, order: Order, position: Decimal) -> None:
        if state is TradingState.HALTED:
            raise RiskRejected(
                f"trading is halted (trading state HALTED, e.g. by the kill switch): {order.side.value} "
                f"{order.quantity} {order.symbol} refused; set the trading state back to ACTIVE first",
                reason=self.TRADING_HALTED,
            )
        shrinks = (position > 0 and order.side is OrderSide.SELL) or (
            position < 0 and order.side is OrderSide.BUY
        )
        if not shrinks or order.quantity > abs(position):
            if position == 0:
                allowed = "the position is flat, so nothing can be sent"
            else:
                closing = "sell" if position > 0 else "buy"
                allowed = f"the position is {position}, so only a {closing} of at most {abs(position)}"
            raise RiskRejected(
                f"trading is reducing-only (trading state REDUCING): only orders that shrink the position "
                f"are accepted; {allowed} "
                f"({order.side.value} {order.quantity} {order.symbol} refused)",
                reason=self.TRADING_REDUCING,
            )

    def _off_tick(self, what: str, value: Decimal, tick: Decimal, symbol: str) -> RiskRejected:
        return RiskRejected(
            f"{what} {value} is not a multiple of tick size {tick} for {symbol}; "
            f"nearest valid {what}: {round_to_step(value, tick)}",
            reason=self.PRICE_TICK,
        )

    def _below_min_notional(
        self, rules: _Rules, price: Decimal, quantity: Decimal, notional: Decimal
    ) -> RiskRejected:
        assert rules.min_notional is not None
        hint = ""
        per_unit = price * (rules.multiplier or _ONE)
        if per_unit > 0:
            needed = rules.min_notional / per_unit
            step = rules.lot
            needed = (
                round_to_step(needed, step, mode="up") if step else needed.to_integral_value(ROUND_CEILING)
            )
            hint = f"; use a quantity of at least {needed}"
        return RiskRejected(
            f"order notional {_plain(notional)} (price {price} × quantity {quantity}) is below the minimum "
            f"{rules.min_notional} for {rules.symbol}{hint}",
            reason=self.MIN_NOTIONAL,
        )

    def _above_max_notional(
        self, rules: _Rules | None, symbol: str, price: Decimal, quantity: Decimal, notional: Decimal
    ) -> RiskRejected:
        assert self._max_notional is not None
        hint = ""
        multiplier = rules.multiplier if rules is not None and rules.multiplier is not None else _ONE
        per_unit = price * multiplier
        if per_unit > 0:
            most = self._max_notional / per_unit
            step = rules.lot if rules is not None else None
            most = round_to_step(most, step, mode="down") if step else most.to_integral_value(ROUND_FLOOR)
            hint = f"; reduce the quantity to at most {most}"
        return RiskRejected(
            f"order notional {_plain(notional)} (price {price} × quantity {quantity}) on {symbol} "
            f"exceeds the limit {self._max_notional}{hint}",
            reason=self.MAX_ORDER_NOTIONAL,
        )

    def _above_max_position(
        self, order: Order, position: Decimal, projected: Decimal, limit: Decimal
    ) -> RiskRejected:
        room = max(_ZERO, limit - position) if order.side is OrderSide.BUY else max(_ZERO, limit + position)
        return RiskRejected(
            f"position in {order.symbol} would be {projected} after this {order.side.value} of "
            f"{order.quantity}, beyond the limit ±{limit}; at most {room} can be "
            f"{'bought' if order.side is OrderSide.BUY else 'sold'} now",
            reason=self.MAX_POSITION,
        )

    def _outside_band(
        self, label: str, value: Decimal, reference: Decimal, band: Decimal, symbol: str
    ) -> RiskRejected:
        low, high = reference - reference * band, reference + reference * band
        return RiskRejected(
            f"{label} {value} is more than {band * _HUNDRED:f}% away from the reference price {reference} "
            f"for {symbol}; allowed range {low}..{high}",
            reason=self.PRICE_BAND,
        )

    def __repr__(self) -> str:
        return (
            f"<RiskChecks state={self.gate.state.value} instruments={len(self._rules)} limits={self._limits}>"
        )


def _plain(value: Decimal) -> str:
    """``4.000000`` → ``4``, ``15000.00`` → ``15000`` (for messages only)."""
    return format(value.normalize(), "f")


def _check_capabilities(order: Order, capabilities: Capabilities) -> None:
    where = f"the {order.broker} adapter" if order.broker else "this adapter"
    if order.order_type not in capabilities.order_types:
        supported = ", ".join(sorted(t.value for t in capabilities.order_types))
        raise UnsupportedFeature(
            f"{where} does not support {order.order_type.value} orders (supported: {supported})"
        )
    if order.time_in_force not in capabilities.time_in_force:
        supported = ", ".join(sorted(t.value for t in capabilities.time_in_force))
        raise UnsupportedFeature(
            f"{where} does not support time in force {order.time_in_force.value} (supported: {supported})"
        )
    if order.post_only and not capabilities.post_only:
        raise UnsupportedFeature(f"{where} does not support post-only orders")
