"""Simulated price sources: seeded random walk, static price, CSV replay.

A source holds one current price per symbol, always a positive multiple of the
symbol's tick, and moves every symbol one step on :meth:`PriceSource.step`.
Everything is Decimal: the random walk draws *integers* from
``random.Random`` and scales them, so no float ever touches a price.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from autotrader_core.decimals import round_to_step
from autotrader_core.errors import ConfigurationError

__all__ = [
    "CsvReplaySource",
    "PriceSource",
    "RandomWalkSource",
    "StaticSource",
    "load_price_csv",
    "sample_csv_text",
]

_RESOLUTION = 10_000
"""Granularity of one random-walk draw: steps are multiples of volatility / 10 000."""


class PriceSource:
    """Base of every source: current prices per symbol, moved one tick at a time.

    Args:
        start_prices: First price of each symbol.
        tick_sizes: Tick of each symbol; every price is kept on it.
    """

    def __init__(self, start_prices: Mapping[str, Decimal], tick_sizes: Mapping[str, Decimal]) -> None:
        self._ticks = dict(tick_sizes)
        self._prices = {symbol: self._on_tick(symbol, price) for symbol, price in start_prices.items()}
        self.steps = 0
        """Number of ticks taken so far."""

    def _on_tick(self, symbol: str, price: Decimal) -> Decimal:
        tick = self._ticks[symbol]
        return max(round_to_step(price, tick), tick)

    @property
    def symbols(self) -> Iterable[str]:
        """Symbols this source prices."""
        return self._prices.keys()

    def price(self, symbol: str) -> Decimal | None:
        """Current price of ``symbol`` (``None`` when unknown)."""
        return self._prices.get(symbol)

    def quote(self, symbol: str) -> Decimal:
        """Current price of a symbol this source prices (``KeyError`` otherwise)."""
        return self._prices[symbol]

    def set_price(self, symbol: str, price: Decimal) -> Decimal:
        """Force the current price (rounded to the tick); the next step moves on from it."""
        if symbol not in self._prices:
            raise KeyError(symbol)
        result = self._prices[symbol] = self._on_tick(symbol, price)
        return result

    def step(self) -> None:
        """Move every symbol one tick."""
        self.steps += 1
        for symbol in self._prices:
            self._prices[symbol] = self._next(symbol, self._prices[symbol])

    def _next(self, symbol: str, current: Decimal) -> Decimal:
        return current


class StaticSource(PriceSource):
    """Prices that never move by themselves (tests, fee arithmetic by hand)."""


class RandomWalkSource(PriceSource):
    """Seeded random walk: each tick multiplies the price by ``1 + volatility × u``.

    ``u`` is uniform on ``[-1, 1]`` in steps of 1/10 000, drawn from one
    ``random.Random`` per symbol seeded with ``"<seed>:<symbol>"``; so a symbol's
    path depends only on the seed and the number of ticks (not on the other
    symbols, nor on ``PYTHONHASHSEED``).
    """

    def __init__(
        self,
        start_prices: Mapping[str, Decimal],
        tick_sizes: Mapping[str, Decimal],
        *,
        seed: int,
        volatility: Decimal,
    ) -> None:
        super().__init__(start_prices, tick_sizes)
        self._scale = volatility / _RESOLUTION
        self._rngs = {symbol: random.Random(f"{seed}:{symbol}") for symbol in self._prices}

    def _next(self, symbol: str, current: Decimal) -> Decimal:
        draw = self._rngs[symbol].randint(-_RESOLUTION, _RESOLUTION)
        return self._on_tick(symbol, current + current * self._scale * draw)


class CsvReplaySource(PriceSource):
    """Replays recorded prices, one row per symbol per tick, looping at the end.

    Symbols absent from the file keep their start price.
    """

    def __init__(
        self,
        series: Mapping[str, list[Decimal]],
        start_prices: Mapping[str, Decimal],
        tick_sizes: Mapping[str, Decimal],
    ) -> None:
        known = {s: p for s, p in series.items() if s in tick_sizes and p}
        first = {s: (known[s][0] if s in known else price) for s, price in start_prices.items()}
        super().__init__(first, tick_sizes)
        self._series = {s: [self._on_tick(s, p) for p in prices] for s, prices in known.items()}

    def _next(self, symbol: str, current: Decimal) -> Decimal:
        prices = self._series.get(symbol)
        if not prices:
            return current
        return prices[self.steps % len(prices)]


def sample_csv_text() -> str:
    """Text of the sample series shipped with the package (BTCUSDT and ETHUSDT)."""
    return resources.files("autotrader_paper").joinpath("data/sample_prices.csv").read_text("utf-8")


def load_price_csv(path: Path | None = None) -> dict[str, list[Decimal]]:
    """Read a ``timestamp,symbol,price`` CSV (header required) into price lists per symbol.

    ``path=None`` reads the shipped sample. Rows keep their file order; the
    timestamp column is informational.

    Raises:
        ConfigurationError: naming the file and line of a missing column or a bad price.
    """
    name = "sample_prices.csv" if path is None else str(path)
    try:
        text = sample_csv_text() if path is None else path.read_text("utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read price file {name}: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"symbol", "price"} <= set(reader.fieldnames):
        raise ConfigurationError(f"{name}: header must include 'symbol' and 'price' columns")
    series: dict[str, list[Decimal]] = {}
    for line, row in enumerate(reader, start=2):
        symbol = (row.get("symbol") or "").strip()
        raw = (row.get("price") or "").strip()
        try:
            price = Decimal(raw)
        except InvalidOperation:
            raise ConfigurationError(f"{name}:{line}: price {raw!r} is not a decimal number") from None
        if not symbol or not price.is_finite() or price <= 0:
            raise ConfigurationError(f"{name}:{line}: need a symbol and a positive price, got {row!r}")
        series.setdefault(symbol, []).append(price)
    if not series:
        raise ConfigurationError(f"{name}: no price rows")
    return series
