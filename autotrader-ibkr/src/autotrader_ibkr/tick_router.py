"""The market-data side of the TWS session: raw ticks in, items out to the connection that asked.

:class:`MarketDataRouter` (one per adapter) taps the raw tick messages on the ib_async client
(:mod:`.taps`), keeps a :class:`~autotrader_ibkr.ticks.Book` per request (a TWS reqId) and
hands each request's items to its owner, a connection of a feed
(:class:`~autotrader_ibkr.market_data.MarketDataCarrier`). Quotes are emitted once per TCP
read (ib_async's ``updateEvent``), after all the ticks in it were applied: TWS sends bid and
ask as separate messages, and a quote built between them could be crossed. Trades come from
the same line's last price/size ticks (``trades_source="last"``: the first one is the trade
before the subscription, not news) or from tick-by-tick ``AllLast``; a trade flushes the
quotes received before it, so items keep the wire's order. Errors and notices about a request
(or about every request: 1100, 1101, 2103) are turned into ``Stale`` items, alerts, or a lost
connection; a snapshot (``get_quote``) waits for its first full book.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

import anyio
import ib_async
from autotrader_core.errors import AutotraderError, BrokerError, RequestTimeout
from autotrader_core.market_data import MarketData, Quote, Stale, Trade

from autotrader_ibkr.errors import MARKET_DATA_NOTICES, NoMarketDataPermission, market_data_error
from autotrader_ibkr.parsing import BROKER
from autotrader_ibkr.session import TwsSession
from autotrader_ibkr.taps import install_taps
from autotrader_ibkr.ticks import (
    DATA_TYPES,
    Book,
    parse_market_data_type,
    parse_tick_by_tick_last,
    parse_tick_price,
    parse_tick_size,
    tick_req_id,
    trade_from,
)

__all__ = ["DELAYED_OR_LIVE", "PONG", "Kind", "LineOwner", "MarketDataRouter", "Pong"]

_log = logging.getLogger(__name__)

Kind = Literal["quotes", "trades", "snapshot"]
"""What a line serves: a streaming ``reqMktData``, a tick-by-tick ``AllLast``, or a snapshot."""

DELAYED_OR_LIVE = 3
"""``reqMarketDataType(3)``: live where the account is subscribed, delayed where not (TWS ignores
a delayed request when live data is available)."""

_CONNECTIVITY_LOST = 1100
_REQUESTS_LOST = 1101
_FARM_BROKEN = frozenset({2103})
"""Market data farm connection is broken: prices stop until it is OK again (2104)."""
_LAST_PRICE = frozenset({4, 68})
_LAST_SIZE = frozenset({5, 71})
_NOT_FOR_API = 10089
"""The subscription does not extend to the API. Delayed data may still follow (rust-ibapi treats it as
an advisory, wboayue/rust-ibapi#768), so it makes the symbol stale without ending the request."""
_CANCEL_UNKNOWN = 300  # "Can't find EId with ticker Id": a cancel that crossed the request's end


class Pong:
    """TWS answered ``reqCurrentTime``: the socket is alive."""


PONG = Pong()
"""The one :class:`Pong` frame."""


class LineOwner(Protocol):
    """A connection that owns market-data lines (:class:`~autotrader_ibkr.market_data.MarketDataCarrier`)."""

    def add(self, item: MarketData | Pong) -> None:
        """Queue one item for the next batch (a pong goes at once)."""

    def send_batch(self) -> None:
        """Hand the items collected in this read over."""

    def lose(self, reason: str) -> None:
        """The connection ended (socket closed, 1101)."""


@dataclass(slots=True, eq=False)
class _Line:
    """One market-data request TWS serves (a reqId)."""

    symbol: str
    kind: Kind
    owner: LineOwner | None
    book: Book = field(default_factory=Book)
    data_type: int = 1
    last: tuple[object, ...] | None = None
    """What was last emitted (quote values or stale reason), to emit only changes."""
    item: Quote | Stale | None = None
    error: AutotraderError | None = None
    done: anyio.Event | None = None
    """Set when a snapshot has its answer."""
    wants_trades: bool = False
    """Emit trades from this line's last price/size ticks (``trades_source="last"``)."""
    last_trade: tuple[Decimal, Decimal | None] | None = None
    """The last price and size TWS reported; the first report is the baseline, not a new trade."""


class MarketDataRouter:
    """Taps market-data messages and routes them to the connection that asked for them.

    Args:
        session: The adapter's TWS session (for ``delayed_data`` and the socket's generation).
        alert: The adapter's alert (ERROR log + telemetry).
        clock: Monotonic seconds stamped on items (``received_at``).
    """

    def __init__(
        self,
        session: TwsSession,
        *,
        alert: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._alert = alert
        self._clock = clock
        self.lines: dict[int, _Line] = {}
        self.carriers: set[LineOwner] = set()
        self._dirty: dict[int, None] = {}
        self._type_generation = -1
        self._trade_numbers = itertools.count(1)
        """TWS sends no trade id: trades are numbered here, unique for the adapter's life (reqIds
        are not: ib_async restarts them from TWS's next order id after a reconnect)."""

    # -- wiring --------------------------------------------------------------------------
    def attach(self, ib: ib_async.IB) -> None:
        """Install the taps and event handlers on a new ib_async client (once per client)."""
        install_taps(
            ib,
            {
                1: self._on_price,
                2: self._on_size,
                49: self._on_current_time,
                57: self._on_snapshot_end,
                58: self._on_data_type,
                99: self._on_tick_by_tick,
            },
            on_bad_message=self._on_bad_message,
        )
        ib.errorEvent += self._on_error
        ib.updateEvent += self.flush
        ib.disconnectedEvent += self._on_disconnected

    def ensure_data_type(self, ib: ib_async.IB) -> None:
        """Send ``reqMarketDataType`` once per socket (TWS forgets it on reconnect)."""
        generation = self._session.generation
        if self._session.settings.delayed_data == "off" or self._type_generation == generation:
            return
        ib.reqMarketDataType(DELAYED_OR_LIVE)
        self._type_generation = generation

    # -- requests ------------------------------------------------------------------------
    def request(
        self,
        ib: ib_async.IB,
        contract: ib_async.Contract,
        symbol: str,
        kind: Kind,
        owner: LineOwner | None,
        *,
        last_trades: bool = False,
    ) -> _Line:
        """Send one request for ``symbol`` and register its line (ib_async's ``reqMktData`` steps,
        with the reqId kept: the ticks are matched to it)."""
        self.ensure_data_type(ib)
        req_id: int = ib.client.getReqId()
        line = _Line(symbol, kind, owner, wants_trades=last_trades)
        self.lines[req_id] = line
        if kind == "trades":
            ib.wrapper.startTicker(req_id, contract, "AllLast")
            ib.client.reqTickByTickData(req_id, contract, "AllLast", 0, False)  # type: ignore[no-untyped-call]
        else:
            ib.wrapper.startTicker(req_id, contract, "mktData")
            ib.client.reqMktData(req_id, contract, "", kind == "snapshot", False, [])  # type: ignore[no-untyped-call]
        return line

    def cancel(self, ib: ib_async.IB | None, owner: LineOwner, symbols: Collection[str] | None) -> None:
        """Forget ``owner``'s lines of ``symbols`` (all when ``None``); cancel them at TWS when ``ib`` is given."""
        for req_id, line in list(self.lines.items()):
            if line.owner is not owner or (symbols is not None and line.symbol not in symbols):
                continue
            del self.lines[req_id]
            self._dirty.pop(req_id, None)
            if ib is not None and line.error is None:
                if line.kind == "trades":
                    ib.client.cancelTickByTickData(req_id)  # type: ignore[no-untyped-call]
                else:
                    ib.client.cancelMktData(req_id)  # type: ignore[no-untyped-call]

    async def snapshot(
        self, ib: ib_async.IB, contract: ib_async.Contract, symbol: str, seconds: float
    ) -> Quote:
        """One snapshot ``reqMktData`` of ``symbol``: its first full top of book.

        Raises:
            NoMarketDataPermission, InvalidOrder, BrokerError: what TWS answered instead.
            RequestTimeout: no answer within ``seconds``.
        """
        line = self.request(ib, contract, symbol, "snapshot", None)
        line.done = anyio.Event()
        try:
            with anyio.fail_after(seconds):
                await line.done.wait()
        except TimeoutError:
            if line.error is not None:
                raise line.error from None
            raise RequestTimeout(f"TWS sent no quote for {symbol} in {seconds}s", broker=BROKER) from None
        finally:
            for req_id, known in list(self.lines.items()):
                if known is line:
                    del self.lines[req_id]
        if isinstance(line.item, Quote):
            return line.item
        if line.error is not None:
            raise line.error
        reason = line.item.reason if line.item is not None else "the snapshot ended without bid and ask"
        if line.data_type != 1:
            raise NoMarketDataPermission(reason, broker=BROKER)
        raise BrokerError(f"TWS has no price for {symbol}: {reason}", broker=BROKER)

    # -- taps (raw fields, inside ib_async's read) ----------------------------------------
    def _on_price(self, fields: list[str]) -> None:
        line = self.lines.get(tick_req_id(fields))
        if line is not None:
            tick = parse_tick_price(fields)
            if tick.tick_type in _LAST_PRICE:
                if tick.price is not None:
                    self._last(line, tick.price, tick.size)
            elif line.book.apply_price(tick):
                self._dirty[tick.req_id] = None

    def _on_size(self, fields: list[str]) -> None:
        line = self.lines.get(tick_req_id(fields))
        if line is not None:
            tick = parse_tick_size(fields)
            if tick.tick_type in _LAST_SIZE:
                # A new size at the same last price is a new trade; the repeat after a tickPrice is not.
                if line.last_trade is not None and tick.size is not None and tick.size != line.last_trade[1]:
                    self._last(line, line.last_trade[0], tick.size)
            elif line.book.apply_size(tick):
                self._dirty[tick.req_id] = None

    def _last(self, line: _Line, price: Decimal, size: Decimal | None) -> None:
        """A last-trade report of a ``reqMktData`` line: a trade, unless it is the line's first."""
        first = line.last_trade is None
        line.last_trade = (price, size)
        if first or size is None or not line.wants_trades or line.owner is None:
            return  # the first report is the last trade before we subscribed: maybe old, not news
        if line.data_type != 1 and self._session.settings.delayed_data != "quotes":
            return  # a delayed trade is no live price (its quotes are Stale already)
        self._emit_dirty()  # quotes read before this trade go first
        number = str(next(self._trade_numbers))
        line.owner.add(Trade(line.symbol, price, size, None, number, None, self._clock()))

    def _on_data_type(self, fields: list[str]) -> None:
        req_id, data_type = parse_market_data_type(fields)
        line = self.lines.get(req_id)
        if line is not None and line.data_type != data_type:
            line.data_type = data_type
            if data_type != 1:
                _log.warning(
                    "TWS serves %s %s data (no live subscription)",
                    line.symbol,
                    DATA_TYPES.get(data_type, data_type),
                )
            self._dirty[req_id] = None

    def _on_tick_by_tick(self, fields: list[str]) -> None:
        line = self.lines.get(tick_req_id(fields))
        if line is None or line.owner is None:
            return
        tick = parse_tick_by_tick_last(fields)
        if tick is None or tick.unreported:
            return  # unreported trades (e.g. odd lots) are not prices of the market
        self._emit_dirty()  # quotes read before this trade go first
        trade = trade_from(tick, line.symbol, str(next(self._trade_numbers)), self._clock())
        if trade is not None:
            line.owner.add(trade)

    def _on_snapshot_end(self, fields: list[str]) -> None:
        line = self.lines.get(tick_req_id(fields))
        if line is not None and line.done is not None:
            self._emit_dirty()
            line.done.set()

    def _on_current_time(self, fields: list[str]) -> None:
        for carrier in self.carriers:
            carrier.add(PONG)

    def _on_bad_message(self, msg_id: int, fields: list[str], error: Exception) -> None:
        try:
            line = self.lines.get(tick_req_id(fields))
        except AutotraderError:
            line = None
        self._alert(
            f"TWS sent market-data message {msg_id} the adapter cannot read: {error}; raw fields {fields!r}"
        )
        if line is not None and line.owner is not None:
            line.last = None
            line.owner.add(Stale(line.symbol, f"unreadable update ({error})"))

    # -- ib_async events -----------------------------------------------------------------
    def flush(self) -> None:
        """End of one TCP read: emit each changed book once, then hand every batch over."""
        self._emit_dirty()
        for carrier in self.carriers:
            carrier.send_batch()

    def _emit_dirty(self) -> None:
        if not self._dirty:
            return
        now = self._clock()
        for req_id in self._dirty:
            line = self.lines.get(req_id)
            if line is not None:
                self._emit(line, now)
        self._dirty.clear()

    def _emit(self, line: _Line, now: float) -> None:
        item = line.book.state(line.symbol, now)
        if item is None:
            return
        if (
            isinstance(item, Quote)
            and line.data_type != 1
            and self._session.settings.delayed_data != "quotes"
        ):
            item = Stale(
                line.symbol,
                f"IBKR serves {line.symbol} {DATA_TYPES.get(line.data_type, 'non-live')} data only "
                "(no live market-data subscription): not a live price",
            )
        key = (
            (item.bid, item.bid_size, item.ask, item.ask_size) if isinstance(item, Quote) else (item.reason,)
        )
        if key == line.last:
            return
        line.last, line.item = key, item
        if line.owner is not None:
            line.owner.add(item)
        elif line.done is not None:
            line.done.set()

    def _on_error(self, req_id: int, code: int, text: str, _contract: Any) -> None:
        if req_id == -1:
            self._on_notice(code, text)
            return
        line = self.lines.get(req_id)
        if line is None or code == _CANCEL_UNKNOWN:
            return
        if code in MARKET_DATA_NOTICES:
            _log.warning("TWS warning %s for market data of %s: %s", code, line.symbol, text)
            return
        if 2100 <= code < 2200:
            return
        line.error = market_data_error(code, text, line.symbol)
        if code == _NOT_FOR_API and (line.done is None or self._session.settings.delayed_data == "quotes"):
            line.last = None  # whatever follows (delayed data) is reported afresh
            if line.owner is not None:
                _log.warning("TWS warning %s for market data of %s: %s", code, line.symbol, text)
                line.owner.add(Stale(line.symbol, f"TWS error {code}: {text}"))
                line.owner.send_batch()
            return
        del self.lines[req_id]
        if line.done is not None:
            line.done.set()
            return
        if line.kind == "trades":  # the symbol's quotes go on: only its tick-by-tick trades stopped
            self._alert(f"tick-by-tick trades of {line.symbol} refused: TWS error {code}: {text}")
            return
        self._alert(f"market data of {line.symbol} refused: TWS error {code}: {text}")
        if line.owner is not None:
            line.owner.add(Stale(line.symbol, f"TWS error {code}: {text}"))
            line.owner.send_batch()

    def _on_notice(self, code: int, text: str) -> None:
        if code == _CONNECTIVITY_LOST or code in _FARM_BROKEN:
            for carrier in self.carriers:
                carrier.add(Stale(None, f"TWS error {code}: {text}"))
                carrier.send_batch()
        elif code == _REQUESTS_LOST:
            for carrier in list(self.carriers):
                carrier.lose(f"TWS connectivity restored, market-data requests lost ({code})")

    def _on_disconnected(self) -> None:
        for carrier in list(self.carriers):
            carrier.lose("TWS socket closed")
