"""``autotrader quotes BROKER SYMBOL...``: live quotes from a venue's public stream in the terminal.

The first thing a new user can run against a real venue: public market data needs no
key on the crypto venues (Binance, OKX, Coinbase). It prints each symbol's REST snapshot,
then the stream — at most one line per symbol every ``--every`` seconds (a busy book
changes hundreds of times a second), trades with ``--trades``, and a ``stale`` line whenever
the connection is lost, so an old price is never shown as live. ``--json`` prints every
item as one JSON line instead (Decimals as strings). Ctrl-C ends it.

Registered through the core's own ``autotrader.commands`` entry point, like any plugin's command.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

import anyio

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import AutotraderError, ConfigurationError
from autotrader_core.market_data import MarketData, MarkPrice, Quote, Stale, Trade
from autotrader_core.plugins import PluginManager

__all__ = ["add_commands", "format_item", "stream_quotes"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``autotrader quotes`` (the ``autotrader.commands`` entry point)."""
    quotes = subparsers.add_parser(
        "quotes",
        help="stream live quotes of SYMBOLs from BROKER's public market data (no key on crypto venues)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    quotes.add_argument("broker", help="adapter name (see `autotrader plugins`)")
    quotes.add_argument("symbols", nargs="+", metavar="SYMBOL", help="venue symbols, e.g. BTCUSDT")
    quotes.add_argument("--trades", action="store_true", help="also show public trades")
    quotes.add_argument(
        "--seconds", type=_positive, default=math.inf, help="stop after this long (default: Ctrl-C)"
    )
    quotes.add_argument(
        "--every", type=_positive, default=0.5, help="at most one line per symbol this often (s)"
    )
    quotes.add_argument("--json", action="store_true", help="every item as a JSON line")
    quotes.set_defaults(func=_cmd_quotes)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: give a number of seconds above 0")
    return value


def _cmd_quotes(args: argparse.Namespace) -> int:
    manager = PluginManager().load_entry_points()
    adapter = manager.create_adapter(args.broker)
    try:
        return anyio.run(
            lambda: stream_quotes(
                adapter,
                args.symbols,
                out=sys.stdout,
                trades=args.trades,
                seconds=args.seconds,
                every=args.every,
                as_json=args.json,
            )
        )
    except KeyboardInterrupt:
        return 0


async def stream_quotes(
    adapter: BrokerAdapter,
    symbols: Sequence[str],
    *,
    out: TextIO,
    trades: bool = False,
    seconds: float = math.inf,
    every: float = 0.5,
    as_json: bool = False,
) -> int:
    """Print ``symbols``' snapshot, then their live quotes, until ``seconds`` pass; the exit code.

    Raises:
        ConfigurationError: the adapter offers no market data.
        InvalidOrder: a symbol the venue doesn't list.
    """
    caps = adapter.capabilities
    if not caps.quotes:
        raise ConfigurationError(
            f"{adapter.name} offers no market data (it declares no 'quotes' capability); "
            "`autotrader plugins` shows what each adapter offers"
        )
    feed = adapter.open_market_data(trades=trades and caps.trades)
    try:
        await feed.subscribe(symbols)
        for symbol in symbols:
            try:
                _print(out, await adapter.get_quote(symbol), as_json, snapshot=True)
            except AutotraderError as exc:
                print(f"{symbol}: no snapshot ({exc})", file=sys.stderr)
        last: dict[str, float] = {}
        with anyio.move_on_after(seconds):
            async for item in feed.items():
                if isinstance(item, Quote) and not as_json:
                    now = time.monotonic()
                    if now - last.get(item.symbol, -math.inf) < every:
                        continue
                    last[item.symbol] = now
                _print(out, item, as_json)
    finally:
        with anyio.CancelScope(shield=True):
            await feed.aclose()
            await adapter.disconnect()
    return 0


def _print(out: TextIO, item: MarketData, as_json: bool, *, snapshot: bool = False) -> None:
    text = json.dumps(_as_dict(item, snapshot)) if as_json else format_item(item, snapshot=snapshot)
    print(text, file=out, flush=True)


def format_item(item: MarketData, *, snapshot: bool = False) -> str:
    """One human line for ``item``."""
    if isinstance(item, Quote):
        label = "snapshot" if snapshot else "quote"
        return (
            f"{label:8} {item.symbol}  bid {item.bid} x {item.bid_size}  ask {item.ask} x {item.ask_size}"
            f"  spread {item.spread}" + ("  delayed" if item.delayed else "")
        )
    if isinstance(item, Trade):
        side = item.aggressor.value if item.aggressor is not None else "?"
        return f"trade    {item.symbol}  {side} {item.size} @ {item.price}  (id {item.trade_id})"
    if isinstance(item, MarkPrice):
        return f"mark     {item.symbol}  {item.price}"
    return f"stale    {item.symbol or 'all symbols'}: {item.reason}"


def _as_dict(item: MarketData, snapshot: bool) -> dict[str, Any]:
    kind = {Quote: "quote", Trade: "trade", MarkPrice: "mark", Stale: "stale"}[type(item)]
    body: dict[str, Any] = {"kind": "snapshot" if snapshot else kind}
    for name in item.__dataclass_fields__:
        if name == "received_at":
            continue
        value = getattr(item, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        body[name] = value
    return body
