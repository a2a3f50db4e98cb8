"""OANDA pricing: the HTTP pricing stream and REST pricing, and their parsers (protocols-market-data.md §4).

* ``GET {stream host}/v3/accounts/{id}/pricing/stream?instruments=A,B`` never ends; each
  line is a price or a ``HEARTBEAT`` (every 5 s). The subscription *is* the request, so
  a change of the symbol set reopens the stream (the default ``snapshot=true`` resends
  every current price at once). A silence of ``heartbeat_timeout`` seconds reconnects;
* a price line → :class:`Quote` from the first (best) bucket of ``bids`` / ``asks``,
  ``liquidity`` as the size. OANDA is a dealer: there are no public trades, no mark price;
* a price that is not tradeable (``tradeable: false``, or the deprecated ``status`` other
  than ``tradeable``: market closed, halted) or has an empty side (no liquidity for the
  account) is **no price**: it yields ``Stale(instrument, reason)``, never a quote. The
  documented examples carry neither ``type`` nor ``tradeable`` (§4.2 ⚠), so neither is
  required: a line without ``type`` is a price, as in OANDA's own ``v20`` SDK;
* the token goes in the ``Authorization`` header of the stream request (OANDA prices
  are account-scoped); the carrier never logs headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import BrokerError, BrokerProtocolError
from autotrader_core.market_data import MarketData, Quote, Stale
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming.carrier import Carrier
from autotrader_core.streaming.feed import Instruments, SymbolFeed
from autotrader_core.streaming.lines import LineStreamCarrier
from autotrader_core.streaming.stream import Heartbeat
from autotrader_core.wire import WireReader

from autotrader_oanda.auth import auth_headers
from autotrader_oanda.errors import BROKER
from autotrader_oanda.settings import OandaSettings

__all__ = ["OandaMarketData", "parse_price", "parse_price_line", "quote_from_pricing"]

_PRICE = WireReader(BROKER, "price")
_BUCKET = WireReader(BROKER, "price bucket")

BadItem = Callable[[BrokerProtocolError, str | None], list[MarketData]]
"""Reports an unreadable item (with its symbol when known) and returns what to yield instead."""


def _best(item: Any, side: str) -> tuple[Decimal, Decimal] | None:
    buckets = _PRICE.array(item, side)
    if not buckets:
        return None
    best = buckets[0]
    if type(best) is not dict:
        _BUCKET.mapping(best)
    # liquidity is a JSON integer: exact as it is.
    return _BUCKET.decimal(best, "price"), _BUCKET.decimal(best, "liquidity")


def parse_price(item: Any, received_at: float | None = None) -> Quote | Stale:
    """One ClientPrice → :class:`Quote`, or :class:`Stale` when it is no price (not tradeable, empty side)."""
    if type(item) is not dict:
        _PRICE.mapping(item)
    instrument = _PRICE.text(item, "instrument", non_empty=True)
    tradeable = item.get("tradeable")
    status = item.get("status")
    if tradeable is False or (tradeable is None and status is not None and status != "tradeable"):
        return Stale(instrument, f"{instrument} is not tradeable (status {status or 'not tradeable'})")
    bid, ask = _best(item, "bids"), _best(item, "asks")
    if bid is None or ask is None:
        side = "bid" if bid is None else "ask"
        return Stale(instrument, f"{instrument} has no {side} liquidity for this account")
    return Quote(
        instrument,
        bid[0],
        bid[1],
        ask[0],
        ask[1],
        _PRICE.rfc3339(item, "time"),
        time.monotonic() if received_at is None else received_at,
    )


def _raise(error: BrokerProtocolError, symbol: str | None) -> list[MarketData]:
    raise error


def parse_price_line(
    line: str, *, received_at: float | None = None, bad_item: BadItem = _raise
) -> list[MarketData]:
    """One pricing-stream line → a quote or stale marker (``HEARTBEAT`` and blank lines: nothing)."""
    if not line or line.isspace():
        return []
    try:
        item = json.loads(line)
    except ValueError:
        return bad_item(BrokerProtocolError("pricing line is not JSON", payload=line, broker=BROKER), None)
    if type(item) is not dict:
        return bad_item(
            BrokerProtocolError("pricing line is not a JSON object", payload=item, broker=BROKER), None
        )
    kind = item.get("type")
    if kind == "HEARTBEAT":
        return []
    try:
        return [parse_price(item, received_at)]
    except BrokerProtocolError as exc:
        symbol = item.get("instrument")
        return bad_item(exc, symbol if isinstance(symbol, str) and symbol else None)


def quote_from_pricing(body: Any, symbol: str) -> Quote:
    """``GET /v3/accounts/{id}/pricing`` → the :class:`Quote` of ``symbol``.

    Raises:
        BrokerError: the price is not tradeable now (market closed, halted) or one side is empty.
        BrokerProtocolError: no price for ``symbol`` in the reply.
    """
    prices = _PRICE.array(_PRICE.mapping(body), "prices")
    for item in prices:
        if isinstance(item, dict) and item.get("instrument") == symbol:
            parsed = parse_price(item)
            if isinstance(parsed, Stale):
                raise BrokerError(f"OANDA has no price for {parsed.reason}", broker=BROKER)
            return parsed
    raise BrokerProtocolError(f"pricing reply has no price for {symbol}", payload=body, broker=BROKER)


class OandaMarketData(SymbolFeed[str]):
    """OANDA pricing-stream feed (``OandaAdapter.open_market_data``).

    Args:
        settings: Stream host (``ws_url`` overrides it), account, token, ``heartbeat_timeout``
            and ``reconnect_*``.
        instruments: The account's instruments (checked before subscribing).
        telemetry: The adapter's telemetry, looked up on every report.
    """

    reopen_on_change = True

    def __init__(
        self,
        settings: OandaSettings,
        *,
        instruments: Instruments,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
    ) -> None:
        super().__init__(
            name="oanda-pricing",
            broker=BROKER,
            instruments=instruments,
            heartbeat=Heartbeat(silence=settings.heartbeat_timeout),
            policy=RetryPolicy(
                max_attempts=1,
                base_delay=settings.reconnect_initial_delay,
                max_delay=settings.reconnect_max_delay,
                jitter=0.5,
            ),
            telemetry=telemetry,
        )
        self._settings = settings
        self.url = f"{settings.stream_url}/v3/accounts/{settings.account_id}/pricing/stream"

    def make_carrier(self, symbols: frozenset[str]) -> Carrier[str]:
        """The pricing-stream request for ``symbols`` (a snapshot of each comes first)."""
        return LineStreamCarrier(
            self.url,
            headers=auth_headers(self._settings.token),
            params={"instruments": ",".join(sorted(symbols))},
            broker=BROKER,
        )

    def subscribe_frames(self, symbols: Collection[str]) -> list[str]:
        """None: the subscription is the stream request itself."""
        return []

    def unsubscribe_frames(self, symbols: Collection[str]) -> list[str]:
        """None: the stream is reopened without them."""
        return []

    def decode(self, frame: str) -> list[MarketData]:
        """One line → a quote or a stale marker (bad lines reported and skipped)."""
        return parse_price_line(frame, bad_item=self.bad_item)
