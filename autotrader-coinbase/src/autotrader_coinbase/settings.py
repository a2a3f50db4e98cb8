"""Settings for the Coinbase Advanced Trade adapter (env prefix ``AUTOTRADER_COINBASE_``).

Two environments exist:

* ``sandbox`` (the default): Coinbase's *static mock* at ``api-sandbox.coinbase.com``.
  It answers Accounts and Orders endpoints with canned responses, needs no
  credentials, keeps no state and has no WebSocket. Good for smoke-testing the
  wiring, never for trading logic.
* ``live``: real money at ``api.coinbase.com``; must be asked for explicitly and
  needs a CDP API key (key name + EC private key PEM).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings, refuse_live_hosts
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = [
    "API_PREFIX",
    "LIVE_REST_URL",
    "SANDBOX_REST_URL",
    "USER_STREAM_URL",
    "CoinbaseSettings",
]

API_PREFIX = "/api/v3/brokerage"
"""Path prefix of every Advanced Trade REST endpoint."""
LIVE_REST_URL = "https://api.coinbase.com"
SANDBOX_REST_URL = "https://api-sandbox.coinbase.com"
USER_STREAM_URL = "wss://advanced-trade-ws-user.coinbase.com"
"""Dedicated host for the ``user`` channel (protocols.md §3.1)."""


class CoinbaseSettings(BrokerSettings):
    """Configuration of one Coinbase Advanced Trade connection.

    ``base_url`` (inherited) overrides the REST *origin* (``scheme://host[:port]``,
    without ``/api/v3/brokerage``); ``ws_url`` overrides the user-stream URL.
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_COINBASE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A malformed secret from the environment must not be echoed in a ValidationError.
        hide_input_in_errors=True,
    )

    environment: Literal["sandbox", "live"] = "sandbox"
    """``sandbox`` (static mock, default) or ``live`` (real money)."""
    api_key_name: str = ""
    """CDP key name, ``organizations/{org_id}/apiKeys/{key_id}`` (also the JWT ``kid``/``sub``)."""
    api_private_key: SecretStr | None = None
    """The key's private key: EC P-256 PEM (ES256). Literal ``\\n`` sequences are accepted."""
    product_ids: tuple[str, ...] = ()
    """Products the user stream subscribes to; empty means every product."""
    sandbox_scenario: str | None = None
    """Sandbox only: value of the ``X-Sandbox`` header that makes the mock return a canned error,
    e.g. ``PostOrder_insufficient_fund`` or ``CancelOrders_failure``."""
    rest_requests_per_second: float = Field(default=30.0, gt=0)
    """Private REST budget (Coinbase documents 30 req/s per key; lower it to stay clear)."""
    public_requests_per_second: float = Field(default=10.0, gt=0)
    """Public REST budget (10 req/s per IP)."""
    heartbeat_timeout: float = Field(default=10.0, gt=0)
    """Seconds without any stream message (heartbeats come every second) before reconnecting."""
    fill_retry_interval: float = Field(default=1.0, gt=0)
    """Seconds between re-reads of an order's fills while the REST list lags the stream."""
    reconnect_initial_delay: float = Field(default=0.5, gt=0)
    """First reconnect delay in seconds (doubles per failed attempt, with jitter)."""
    reconnect_max_delay: float = Field(default=30.0, gt=0)
    """Upper bound of the reconnect backoff, in seconds."""
    market_data_url: str | None = None
    """Public market-data WebSocket override; default ``wss://advanced-trade-ws.coinbase.com`` (all environments)."""
    http_transport: Literal["auto", "httpx", "aiohttp", "lean"] = "auto"
    """REST transport. ``auto`` (default): ``lean`` unless the environment names a proxy for
    the REST URL, then ``httpx``. ``lean``: the core's standard-library HTTP/1.1 keep-alive
    client, the least CPU per order (no proxy support; asyncio only). ``httpx``: httpx's own
    transport (proxies, HTTP/2 if installed). ``aiohttp``: aiohttp
    (``pip install 'autotrader-coinbase[aiohttp]'``; proxies, asyncio only). Every choice runs
    the conformance suite (benchmarks/coinbase/README.md has the figures)."""

    @field_validator("api_key_name")
    @classmethod
    def _strip_key_name(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _no_live_host_outside_live(self) -> CoinbaseSettings:
        # An override to a live host would trade real money while is_live says False.
        refuse_live_hosts(self, broker="Coinbase", live_urls=(LIVE_REST_URL, USER_STREAM_URL))
        return self

    @property
    def rest_url(self) -> str:
        """REST origin for the chosen environment (``base_url`` wins when set)."""
        if self.base_url:
            return self.base_url.rstrip("/").removesuffix(API_PREFIX)
        return LIVE_REST_URL if self.environment == "live" else SANDBOX_REST_URL

    @property
    def public_rest_url(self) -> str:
        """Origin for public market data and ``/time``.

        The sandbox mock serves no products or time, so public data comes from
        the live host there (read-only, unauthenticated, identical in both
        environments). ``base_url`` wins when set.
        """
        if self.base_url:
            return self.rest_url
        return LIVE_REST_URL

    @property
    def rest_host(self) -> str:
        """``host[:port]`` of :attr:`rest_url`, as it appears in the JWT ``uri`` claim."""
        return urlsplit(self.rest_url).netloc

    @property
    def stream_url(self) -> str | None:
        """User-stream URL, or ``None`` when the environment has no stream (the sandbox)."""
        if self.ws_url:
            return self.ws_url
        return USER_STREAM_URL if self.environment == "live" else None

    @property
    def has_credentials(self) -> bool:
        """True when both the key name and the private key are set."""
        return bool(self.api_key_name) and self.api_private_key is not None

    @property
    def needs_auth(self) -> bool:
        """The sandbox takes no authentication; live always does."""
        return self.environment == "live"

    @property
    def default_headers(self) -> dict[str, str]:
        """Headers sent with every REST request."""
        headers = {"Accept": "application/json", "Cache-Control": "no-cache"}  # /time etc. are cached 1 s
        if self.environment == "sandbox" and self.sandbox_scenario:
            headers["X-Sandbox"] = self.sandbox_scenario
        return headers

    def require_credentials(self) -> None:
        """Raise :class:`ConfigurationError` when live trading lacks a key (names the env vars)."""
        if self.needs_auth and not self.has_credentials:
            raise ConfigurationError(
                "Coinbase live trading needs a CDP API key: set AUTOTRADER_COINBASE_API_KEY_NAME "
                "and AUTOTRADER_COINBASE_API_PRIVATE_KEY (the EC private key PEM)",
                broker="coinbase",
            )
