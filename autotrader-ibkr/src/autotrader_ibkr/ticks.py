"""TWS market-data messages (raw wire fields) -> a top of book per request, in ``Decimal``.

TWS sends top-of-book data for a ``reqMktData`` request as separate ticks
(protocols-market-data.md §5.3-5.6): ``tickPrice`` (message 1: the price of one side
*with* that side's size), ``tickSize`` (message 2: a size alone, often repeating the
size that came with the price), and for tick-by-tick requests message 99. The fields
are decimal text on the wire; ib_async parses them with ``float``. These parsers read
the untouched text the taps hand over (:mod:`autotrader_ibkr.taps`), so a price goes
from the wire's text to ``Decimal`` without passing through a float: this module is
the one place where tick text becomes money. The text is taken as it is, not rounded
to the contract's ``minTick``: it is the exchange's price, already on the tick grid
(TWS writes doubles in their shortest form, so there is no binary-float tail to cut).

"No value": TWS documents a price of ``-1`` (or ``0``) with a size of ``0`` as "no data
for this field currently available" (closed market, empty side), and ib_async does the
same for a size of ``0``. A :class:`Book` never turns that into a price: a side without
a value makes the book "no price" (the feed yields ``Stale`` for it), never a zero.

Tick types used by the book (Campus "Available Tick Types"): 1/66 bid, 2/67 ask, 0/69 bid
size, 3/70 ask size (the delayed ids 66-70 carry the same fields when the request is served
delayed). The last trade (4/68 price, 5/71 size) is read by the feed
(:mod:`autotrader_ibkr.market_data`); volume, high, low... are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from autotrader_core.errors import BrokerProtocolError
from autotrader_core.market_data import Quote, Stale, Trade

from autotrader_ibkr.parsing import BROKER, UNSET_DOUBLE_TEXT, _int
from autotrader_ibkr.parsing import _get as _field  # one field reader for every TWS message

__all__ = [
    "BID_SIDE",
    "DATA_TYPES",
    "Book",
    "LastTick",
    "PriceTick",
    "SizeTick",
    "parse_market_data_type",
    "parse_tick_by_tick_last",
    "parse_tick_price",
    "parse_tick_size",
    "tick_req_id",
    "trade_from",
]

BID_SIDE = frozenset({1, 66, 0, 69})
"""Tick types about the bid (price 1/66, size 0/69)."""
_PRICE_TYPES = frozenset({1, 2, 66, 67})
_SIZE_TYPES = frozenset({0, 3, 69, 70})

DATA_TYPES = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed frozen"}
"""``marketDataType`` values (message 58, ``reqMarketDataType``)."""

_ZERO = Decimal(0)


def _amount(fields: list[str], index: int, name: str) -> Decimal | None:
    """Wire text -> ``Decimal``; ``None`` for "no value" (empty, IBKR's unset double, not above zero)."""
    text = _field(fields, index)
    if not text or text == UNSET_DOUBLE_TEXT:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BrokerProtocolError(
            f"field {name!r} is not a number: {text!r}", payload=fields, broker=BROKER
        ) from None
    if not value.is_finite():
        raise BrokerProtocolError(f"field {name!r} is not finite: {text!r}", payload=fields, broker=BROKER)
    return value if value > _ZERO else None


def tick_req_id(fields: list[str]) -> int:
    """The request id of a tick message (1, 2, 57, 58: after the version field; 81, 99: first)."""
    return _int(fields, 1 if fields and fields[0] in ("81", "99") else 2, "reqId")


@dataclass(frozen=True, slots=True)
class PriceTick:
    """tickPrice (1): one side's price with its size; ``None`` = no value."""

    req_id: int
    tick_type: int
    price: Decimal | None
    size: Decimal | None


@dataclass(frozen=True, slots=True)
class SizeTick:
    """tickSize (2): one side's size alone; ``None`` = no value (size 0)."""

    req_id: int
    tick_type: int
    size: Decimal | None


@dataclass(frozen=True, slots=True)
class LastTick:
    """Tick-by-tick Last/AllLast (99, type 1/2): one trade, with the exchange's time (epoch seconds)."""

    req_id: int
    time: datetime
    price: Decimal | None
    size: Decimal | None
    exchange: str
    unreported: bool


def parse_tick_price(fields: list[str]) -> PriceTick:
    """``1 | version | reqId | tickType | price | size | attrMask``."""
    return PriceTick(
        _int(fields, 2, "reqId"),
        _int(fields, 3, "tickType"),
        _amount(fields, 4, "price"),
        _amount(fields, 5, "size"),
    )


def parse_tick_size(fields: list[str]) -> SizeTick:
    """``2 | version | reqId | tickType | size``."""
    return SizeTick(_int(fields, 2, "reqId"), _int(fields, 3, "tickType"), _amount(fields, 4, "size"))


def parse_market_data_type(fields: list[str]) -> tuple[int, int]:
    """``58 | version | reqId | marketDataType`` -> ``(reqId, type)``."""
    return _int(fields, 2, "reqId"), _int(fields, 3, "marketDataType")


def parse_tick_by_tick_last(fields: list[str]) -> LastTick | None:
    """``99 | reqId | tickType | time | price | size | mask | exchange | specialConditions``.

    Returns ``None`` for the other tick-by-tick kinds (BidAsk 3, MidPoint 4), which the
    adapter does not request.
    """
    kind = _int(fields, 2, "tickType")
    if kind not in (1, 2):
        return None
    mask = _int(fields, 6, "mask")
    return LastTick(
        _int(fields, 1, "reqId"),
        datetime.fromtimestamp(_int(fields, 3, "time"), UTC),
        _amount(fields, 4, "price"),
        _amount(fields, 5, "size"),
        _field(fields, 7),
        bool(mask & 2),
    )


class Book:
    """The top of book of one ``reqMktData`` request, built from its ticks.

    ``apply_*`` return whether the book changed; :meth:`state` says what it is now: a
    :class:`Quote` once both sides have a price and a size, a :class:`Stale` while a side
    has "no value", ``None`` before both sides were heard of.
    """

    __slots__ = ("ask", "ask_size", "bid", "bid_size", "heard")

    def __init__(self) -> None:
        self.bid: Decimal | None = None
        self.bid_size: Decimal | None = None
        self.ask: Decimal | None = None
        self.ask_size: Decimal | None = None
        self.heard = 0
        """Bit 1: the bid side was heard of; bit 2: the ask side."""

    def apply_price(self, tick: PriceTick) -> bool:
        """A tickPrice: bid/ask price and size; other tick types don't change the book."""
        if tick.tick_type not in _PRICE_TYPES:
            return False
        price, size = tick.price, tick.size
        if price is None or size is None:  # -1/0 or size 0: the side has no value
            price = size = None
        if tick.tick_type in BID_SIDE:
            newly, before = not self.heard & 1, (self.bid, self.bid_size)
            self.bid, self.bid_size, self.heard = price, size, self.heard | 1
        else:
            newly, before = not self.heard & 2, (self.ask, self.ask_size)
            self.ask, self.ask_size, self.heard = price, size, self.heard | 2
        return newly or before != (price, size)

    def apply_size(self, tick: SizeTick) -> bool:
        """A tickSize of the bid or ask; size 0 empties the side (no value), as ib_async does."""
        if tick.tick_type not in _SIZE_TYPES:
            return False
        if tick.tick_type in BID_SIDE:
            if tick.size == self.bid_size:
                return False
            self.bid_size = tick.size
            if tick.size is None:
                self.bid = None
            return True
        if tick.size == self.ask_size:
            return False
        self.ask_size = tick.size
        if tick.size is None:
            self.ask = None
        return True

    def state(self, symbol: str, received_at: float) -> Quote | Stale | None:
        """The book as a core item (see the class docstring)."""
        if self.heard != 3:
            return None
        bid, bid_size, ask, ask_size = self.bid, self.bid_size, self.ask, self.ask_size
        if bid is None or bid_size is None:
            return Stale(symbol, f"IBKR has no bid for {symbol} (no data: market closed or empty side)")
        if ask is None or ask_size is None:
            return Stale(symbol, f"IBKR has no ask for {symbol} (no data: market closed or empty side)")
        return Quote(symbol, bid, bid_size, ask, ask_size, None, received_at)


def trade_from(tick: LastTick, symbol: str, trade_id: str, received_at: float) -> Trade | None:
    """A tick-by-tick trade as a core :class:`Trade` (``None`` for a no-value tick).

    TWS sends no trade id and no aggressor side: ``trade_id`` is the adapter's own number.
    """
    if tick.price is None or tick.size is None:
        return None
    return Trade(symbol, tick.price, tick.size, None, trade_id, tick.time, received_at)
