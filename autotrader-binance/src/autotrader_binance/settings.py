"""Settings for the Binance Spot adapter (env prefix ``AUTOTRADER_BINANCE_``).

The spot testnet is the default: live trading needs ``environment="live"``
explicitly. Credentials are ``SecretStr`` so they never show in a repr or a log.
Two key types are supported:

* Ed25519 (what Binance recommends): ``api_key`` + ``private_key`` (PEM text)
  or ``private_key_file``; optional ``private_key_passphrase``.
* HMAC (deprecated by Binance, still accepted): ``api_key`` + ``api_secret``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings, refuse_live_hosts
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = ["ENVIRONMENTS", "LIVE_REST_ALTERNATES", "BinanceEnvironment", "BinanceSettings", "KeyType"]

BinanceEnvironment = Literal["live", "testnet", "demo"]
KeyType = Literal["hmac", "ed25519"]

ENVIRONMENTS: dict[str, tuple[str, str]] = {
    # environment: (REST base URL, WebSocket API URL) — protocols.md §1.1
    "live": ("https://api.binance.com", "wss://ws-api.binance.com:443/ws-api/v3"),
    "testnet": ("https://testnet.binance.vision", "wss://ws-api.testnet.binance.vision/ws-api/v3"),
    "demo": ("https://demo-api.binance.com", "wss://demo-ws-api.binance.com/ws-api/v3"),
}
"""Documented endpoints per environment: ``(REST base URL, WebSocket API URL)``."""

LIVE_REST_ALTERNATES: tuple[str, ...] = tuple(
    # protocols.md §1.1: documented alternates of the live REST host (same real-money accounts).
    f"https://{name}.binance.com"
    for name in ("api-gcp", "api1", "api2", "api3", "api4")
)
"""Other documented live REST hosts besides ``ENVIRONMENTS["live"][0]``."""


class BinanceSettings(BrokerSettings):
    """Configuration of one Binance Spot account."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_BINANCE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A malformed secret from the environment must not be echoed in a ValidationError.
        hide_input_in_errors=True,
    )

    environment: BinanceEnvironment = "testnet"
    """``testnet`` (default), ``demo`` or ``live`` (real money; must be asked for)."""
    api_key: SecretStr | None = None
    """The API key (sent as ``X-MBX-APIKEY``)."""
    api_secret: SecretStr | None = None
    """HMAC secret key (HMAC keys only)."""
    private_key: SecretStr | None = None
    """Ed25519 private key, PEM text (Ed25519 keys only)."""
    private_key_file: Path | None = None
    """Path to the Ed25519 private key PEM file (alternative to ``private_key``)."""
    private_key_passphrase: SecretStr | None = None
    """Passphrase of an encrypted Ed25519 PEM key."""
    http_transport: Literal["auto", "httpx", "aiohttp", "lean"] = "auto"
    """REST transport. ``auto`` (default): ``lean`` unless the environment names a proxy for
    the REST URL, then ``httpx``. ``lean``: the core's standard-library HTTP/1.1 keep-alive
    client, several times less CPU per order than httpx (no proxy support; asyncio only).
    ``httpx``: httpx's own transport (proxies, HTTP/2 if installed). ``aiohttp``: aiohttp
    (``pip install 'autotrader-binance[aiohttp]'``; proxies, asyncio only). Every choice runs
    the conformance suite (benchmarks/binance/README.md has the figures)."""
    recv_window_ms: int = Field(default=5000, gt=0, le=60000)
    """``recvWindow`` sent with signed requests (Binance maximum 60000 ms)."""
    clock_sync_interval: float = Field(default=600.0, gt=0)
    """Seconds between periodic resyncs of the server clock offset."""
    stream_max_age: float = Field(default=23.5 * 3600, gt=0)
    """Seconds after which the stream connection is renewed (Binance closes it at 24 h)."""
    market_data_url: str | None = None
    """Public market-data stream (raw ``/ws`` endpoint); default: the environment's documented host
    (``autotrader_binance.market_data.MARKET_DATA_HOSTS``). Public data: no key is needed."""
    market_data_silence: float = Field(default=60.0, gt=0)
    """Seconds without any market-data frame before the connection is taken for dead and
    replaced (prices are marked stale first). A subscribed book ticker is rarely quiet that long;
    raise it for symbols that trade seldom (an idle connection costs a reconnect, nothing else)."""
    fill_symbols: str = ""
    """Comma-separated symbols whose fills are always fetched when fills are listed without a
    symbol (recovery after a restart). Binance lists trades per symbol only; name every symbol
    you trade here to be sure no fill is missed (see ``BinanceAdapter.get_fills``)."""
    max_fill_symbols: int = Field(default=40, ge=1, le=1000)
    """Most symbols guessed from balances when fills are listed without a symbol (each query
    costs 20 request weight of 6000 a minute); the symbols named or known are always queried."""

    @model_validator(mode="after")
    def _one_key_type(self) -> BinanceSettings:
        if self.api_secret is not None and (self.private_key is not None or self.private_key_file):
            raise ValueError(
                "set either api_secret (HMAC key) or private_key/private_key_file (Ed25519), not both"
            )
        return self

    @model_validator(mode="after")
    def _no_live_host_outside_live(self) -> BinanceSettings:
        # An override to a live host would trade real money while is_live says False.
        refuse_live_hosts(self, broker="Binance", live_urls=(*ENVIRONMENTS["live"], *LIVE_REST_ALTERNATES))
        return self

    @property
    def is_live(self) -> bool:
        """True when this configuration trades real money."""
        return self.environment == "live"

    @property
    def key_type(self) -> KeyType | None:
        """``ed25519`` or ``hmac`` from the credentials given, ``None`` without credentials."""
        if self.private_key is not None or self.private_key_file is not None:
            return "ed25519"
        if self.api_secret is not None:
            return "hmac"
        return None

    @property
    def fill_symbol_list(self) -> list[str]:
        """``fill_symbols`` as a list, blanks dropped, in the order given."""
        return [name.strip() for name in self.fill_symbols.split(",") if name.strip()]

    @property
    def rest_url(self) -> str:
        """REST base URL: the override if set, else the environment's documented one."""
        return (self.base_url or ENVIRONMENTS[self.environment][0]).rstrip("/")

    @property
    def stream_url(self) -> str:
        """WebSocket API URL: the override if set, else the environment's documented one."""
        return self.ws_url or ENVIRONMENTS[self.environment][1]

    def require_credentials(self) -> None:
        """Raise :class:`ConfigurationError` unless an API key and one kind of secret are set."""
        if self.api_key is None or self.key_type is None:
            raise ConfigurationError(
                "Binance needs AUTOTRADER_BINANCE_API_KEY and either AUTOTRADER_BINANCE_PRIVATE_KEY "
                "(or _PRIVATE_KEY_FILE) for an Ed25519 key, or AUTOTRADER_BINANCE_API_SECRET for an HMAC key",
                broker="binance",
            )
