"""Settings of the paper broker, read from ``AUTOTRADER_PAPER_*`` variables and ``.env``.

Every money figure is a :class:`~decimal.Decimal`; floats are refused with a
message saying what to pass instead (``0.1`` as a float is not ``0.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from autotrader_core.enums import AssetClass
from autotrader_core.models import Instrument
from autotrader_core.settings import BrokerSettings
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

__all__ = ["PaperInstrument", "PaperSettings", "parse_decimal_map"]


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f"floats lose precision: pass Decimal({str(value)!r}) or the string {str(value)!r}")
    return value


Dec = Annotated[Decimal, BeforeValidator(_refuse_float)]
"""A Decimal field that refuses floats (strings, ints and Decimals are fine)."""


def parse_decimal_map(value: Any, *, what: str, allow_zero: bool = True) -> dict[str, Decimal]:
    """Parse ``"USDT=100000,BTC=0.5"`` (or a mapping) into ``{"USDT": Decimal("100000"), ...}``.

    Keys are upper-cased; values must be finite, non-negative decimals (positive
    when ``allow_zero`` is false).

    Raises:
        ValueError: naming the bad entry.
    """
    items: list[tuple[str, object]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        items = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, text = part.partition("=")
            if not sep:
                raise ValueError(f"{what}: expected KEY=AMOUNT, got {part!r}")
            items.append((key, text.strip()))
    else:
        raise ValueError(f"{what}: expected 'KEY=AMOUNT,...' or a mapping, got {type(value).__name__}")
    result: dict[str, Decimal] = {}
    for raw_key, raw_amount in items:
        key = raw_key.strip().upper()
        if not key or not key.isalnum() or not key.isascii():
            raise ValueError(f"{what}: {raw_key!r} is not an asset or symbol name (ASCII letters/digits)")
        _refuse_float(raw_amount)
        try:
            amount: Decimal = (
                raw_amount if isinstance(raw_amount, Decimal) else Decimal(str(raw_amount).strip())
            )
        except InvalidOperation:
            raise ValueError(f"{what}: {key} amount {raw_amount!r} is not a decimal number") from None
        if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
            bound = "zero or more" if allow_zero else "greater than zero"
            raise ValueError(f"{what}: {key} must be {bound}, got {raw_amount!r}")
        result[key] = amount
    return result


class PaperInstrument(BaseModel):
    """One simulated spot instrument: its trading rules and the price the market starts at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    base: str
    quote: str
    tick_size: Dec = Field(gt=0)
    lot_size: Dec = Field(gt=0)
    min_quantity: Dec = Field(default=Decimal(0), ge=0)
    min_notional: Dec = Field(default=Decimal(0), ge=0)
    start_price: Dec = Field(gt=0)
    """First simulated price (random walk and static sources; CSV fallback)."""

    @model_validator(mode="after")
    def _start_on_tick(self) -> PaperInstrument:
        if self.start_price % self.tick_size != 0:
            raise ValueError(
                f"{self.symbol}: start_price {self.start_price} is not a multiple "
                f"of tick_size {self.tick_size}"
            )
        return self

    def to_instrument(self) -> Instrument:
        """The core :class:`~autotrader_core.models.Instrument` the adapter publishes."""
        return Instrument(
            symbol=self.symbol,
            asset_class=AssetClass.CRYPTO_SPOT,
            base=self.base,
            quote=self.quote,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_quantity=self.min_quantity,
            min_notional=self.min_notional,
        )


def _default_instruments() -> list[PaperInstrument]:
    return [
        PaperInstrument(
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.00001"),
            min_quantity=Decimal("0.00001"),
            min_notional=Decimal("5"),
            start_price=Decimal("65000.00"),
        ),
        PaperInstrument(
            symbol="ETHUSDT",
            base="ETH",
            quote="USDT",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            min_quantity=Decimal("0.0001"),
            min_notional=Decimal("5"),
            start_price=Decimal("3500.00"),
        ),
        PaperInstrument(
            symbol="ETHBTC",
            base="ETH",
            quote="BTC",
            tick_size=Decimal("0.00001"),
            lot_size=Decimal("0.0001"),
            min_quantity=Decimal("0.0001"),
            min_notional=Decimal("0.0001"),
            start_price=Decimal("0.05385"),
        ),
    ]


class PaperSettings(BrokerSettings):
    """Paper broker settings (env prefix ``AUTOTRADER_PAPER_``).

    Example: ``AUTOTRADER_PAPER_SEED=42 AUTOTRADER_PAPER_INITIAL_BALANCES="USDT=5000,BTC=0"``.
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_PAPER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    environment: str = "paper"
    """Always ``"paper"``: the simulator never trades real money."""
    seed: int = 7
    """Seed of the random walk: the same seed gives the same price path."""
    quote_source: Literal["random_walk", "static", "csv"] = "random_walk"
    static_price: Dec | None = Field(default=None, gt=0)
    """``static`` source: one price for every symbol (else each instrument's start price)."""
    start_prices: Annotated[dict[str, Dec], NoDecode] = Field(default_factory=dict)
    """Per-symbol start prices overriding the instruments' own, e.g. ``"BTCUSDT=64000"``."""
    csv_path: Path | None = None
    """``csv`` source: a ``timestamp,symbol,price`` file; ``None`` replays the shipped sample."""
    volatility: Dec = Field(default=Decimal("0.0005"), ge=0, lt=1)
    """Largest relative move of one random-walk tick (0.0005 = 5 bps)."""
    initial_balances: Annotated[dict[str, Dec], NoDecode] = Field(
        default_factory=lambda: {"USDT": Decimal(100000), "BTC": Decimal(1), "ETH": Decimal(10)}
    )
    """Starting holdings, e.g. ``"USDT=100000,BTC=0"``."""
    taker_fee_rate: Dec = Field(default=Decimal("0.001"), ge=0, lt=1)
    maker_fee_rate: Dec = Field(default=Decimal("0.0005"), ge=0, lt=1)
    slippage_bps: Dec = Field(default=Decimal(1), ge=0, lt=10000)
    """Market and taker fills pay this much worse than the quote (1 bps = 0.01 %)."""
    latency_ms: Dec = Field(default=Decimal(0), ge=0)
    """Delay before an order reaches the simulated matching engine (0 = in the reply)."""
    partial_fill_threshold: Dec | None = Field(default=None, gt=0)
    """Liquidity per order per tick: larger orders fill in chunks of this size (``None`` = never)."""
    tick_interval: float = Field(default=0.05, ge=0)
    """Seconds between price ticks while ``stream_events()`` runs (0 = only ``advance()`` moves prices)."""
    history_limit: int | None = Field(default=100_000, ge=1)
    """Closed orders and fills kept for queries (``None`` = all); bounds memory on long runs."""
    instruments: list[PaperInstrument] = Field(default_factory=_default_instruments)
    """Tradable instruments (JSON list in the environment)."""

    @field_validator("environment")
    @classmethod
    def _paper_only(cls, value: str) -> str:
        if value != "paper":
            raise ValueError(f"the paper broker only runs the 'paper' environment, got {value!r}")
        return value

    @field_validator("initial_balances", mode="before")
    @classmethod
    def _parse_balances(cls, value: Any) -> dict[str, Decimal]:
        return parse_decimal_map(value, what="initial_balances")

    @field_validator("start_prices", mode="before")
    @classmethod
    def _parse_start_prices(cls, value: Any) -> dict[str, Decimal]:
        return parse_decimal_map(value, what="start_prices", allow_zero=False)

    @model_validator(mode="after")
    def _consistent(self) -> PaperSettings:
        if not self.instruments:
            raise ValueError("instruments: at least one instrument is needed")
        symbols = [i.symbol for i in self.instruments]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"instruments: duplicate symbols {duplicates}")
        unknown = sorted(set(self.start_prices) - set(symbols))
        if unknown:
            raise ValueError(f"start_prices: unknown symbols {unknown} (instruments are {symbols})")
        if self.quote_source == "csv" and self.csv_path is not None and not self.csv_path.is_file():
            raise ValueError(f"csv_path: {self.csv_path} is not a file")
        return self

    def instrument_start_price(self, instrument: PaperInstrument) -> Decimal:
        """Start price of ``instrument`` after ``start_prices`` and ``static_price`` overrides."""
        if self.quote_source == "static" and self.static_price is not None:
            return self.static_price
        return self.start_prices.get(instrument.symbol, instrument.start_price)
