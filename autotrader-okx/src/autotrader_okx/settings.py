"""Settings for the OKX adapter (env prefix ``AUTOTRADER_OKX_``).

OKX runs demo trading on the *same* REST host as live (a request header selects
it) but on separate WebSocket hosts, and it splits accounts by region: keys
registered on app.okx.com (US/AU) or my.okx.com (EEA) only work on their own
hosts. ``environment`` x ``region`` picks both URLs; ``base_url``/``ws_url``
override them (a proxy, or a loopback replay server in tests).
"""

from __future__ import annotations

from typing import Literal

from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings, refuse_live_hosts
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = ["REST_HOSTS", "WS_PRIVATE_HOSTS", "OkxSettings"]

Region = Literal["global", "us", "eea"]

REST_HOSTS: dict[str, str] = {
    # protocols.md §2.1: the 2026 docs list openapi.okx.com (www.okx.com still answers).
    "global": "https://openapi.okx.com",
    "us": "https://us.okx.com",
    "eea": "https://eea.okx.com",
}
"""REST base URL per region; the same host serves live and demo (header ``x-simulated-trading``)."""

WS_PRIVATE_HOSTS: dict[tuple[str, str], str] = {
    ("global", "live"): "wss://ws.okx.com:8443/ws/v5/private",
    ("global", "demo"): "wss://wspap.okx.com:8443/ws/v5/private",
    ("us", "live"): "wss://wsus.okx.com:8443/ws/v5/private",
    ("us", "demo"): "wss://wsuspap.okx.com:8443/ws/v5/private",
    ("eea", "live"): "wss://wseea.okx.com:8443/ws/v5/private",
    ("eea", "demo"): "wss://wseeapap.okx.com:8443/ws/v5/private",
}
"""Private WebSocket URL per (region, environment), from OKX's regional docs pages."""


# Only the WebSocket hosts are live-only: REST hosts serve live and demo alike (demo
# requests carry ``x-simulated-trading: 1``, which follows ``environment``, not the URL).


class OkxSettings(BrokerSettings):
    """Configuration of :class:`~autotrader_okx.OkxAdapter`.

    Every field can come from the environment, e.g. ``AUTOTRADER_OKX_API_KEY``.
    ``environment`` defaults to ``"demo"``: live trading must be asked for with
    ``AUTOTRADER_OKX_ENVIRONMENT=live`` (and a live key: OKX refuses a demo key on
    live and vice versa with code 50101).
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_OKX_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A malformed secret from the environment must not be echoed in a ValidationError.
        hide_input_in_errors=True,
    )

    environment: Literal["demo", "live"] = "demo"
    region: Region = "global"
    """``global`` (okx.com), ``us`` (app.okx.com accounts) or ``eea`` (my.okx.com accounts)."""
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    passphrase: SecretStr = SecretStr("")
    """The passphrase chosen when the API key was created."""
    inst_type: Literal["SPOT"] = "SPOT"
    """Instrument type traded; this adapter version trades spot only."""
    td_mode: Literal["cash", "cross", "isolated"] = "cash"
    """Trade mode sent with every order: ``cash`` for Spot/Futures account modes,
    ``cross`` for Multi-currency and Portfolio margin accounts (OKX rejects the wrong one)."""
    ping_interval: float = Field(default=20.0, gt=0, lt=30)
    """Seconds of silence on the private stream before we send ``ping`` (OKX closes at 30 s)."""
    pong_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for ``pong`` before the connection is treated as dead and reopened."""
    reconnect_initial_delay: float = Field(default=0.5, gt=0)
    """First reconnect delay in seconds; it doubles (with jitter) up to ``reconnect_max_delay``."""
    reconnect_max_delay: float = Field(default=30.0, gt=0)
    """Upper bound of the exponential reconnect backoff, in seconds."""
    catch_up_overlap: float = Field(default=5.0, ge=0)
    """Seconds before the last event seen that the post-reconnect fills query starts from."""
    request_expiry_ms: int = Field(default=5000, ge=100, le=60_000)
    """Milliseconds a place or amend request stays valid: sent as OKX's ``expTime`` header
    (the signed timestamp plus this), after which OKX refuses the request (50036/50037) instead
    of executing it late. It is the window of the declared re-send guarantee: a request whose
    outcome is unknown is provably dead once OKX's clock has passed it. Too short a window
    refuses orders that were merely slow; 100 ms to 60 s."""
    public_ws_url: str | None = None
    """Public (market-data) WebSocket URL override; default: the region/environment's ``/ws/v5/public``."""
    http_transport: Literal["auto", "httpx", "aiohttp", "lean"] = "auto"
    """REST transport. ``auto`` (default): ``lean`` unless the environment names a proxy for
    the REST URL, then ``httpx``. ``lean``: the core's standard-library HTTP/1.1 keep-alive
    client, several times less CPU per order than httpx (no proxy support; asyncio only).
    ``httpx``: httpx's own transport (proxies, HTTP/2 if installed). ``aiohttp``: aiohttp
    (``pip install 'autotrader-okx[aiohttp]'``; proxies, asyncio only). Every choice runs
    the conformance suite (benchmarks/okx/README.md has the figures)."""

    @field_validator("environment", mode="before")
    @classmethod
    def _normalise_environment(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("region", mode="before")
    @classmethod
    def _normalise_region(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_live_stream_outside_live(self) -> OkxSettings:
        # An override to a live host would trade real money while is_live says False.
        refuse_live_hosts(
            self,
            broker="OKX",
            live_urls=(url for (_, env), url in WS_PRIVATE_HOSTS.items() if env == "live"),
            fields=("ws_url",),
        )
        return self

    @property
    def is_demo(self) -> bool:
        """True when requests carry ``x-simulated-trading: 1`` (OKX demo trading)."""
        return self.environment == "demo"

    @property
    def rest_url(self) -> str:
        """REST base URL: the override if set, else the region's host."""
        return (self.base_url or REST_HOSTS[self.region]).rstrip("/")

    @property
    def private_ws_url(self) -> str:
        """Private WebSocket URL: the override if set, else the region/environment host."""
        return self.ws_url or WS_PRIVATE_HOSTS[(self.region, self.environment)]

    def require_credentials(self) -> None:
        """Raise :class:`ConfigurationError` naming every missing credential (values never shown)."""
        missing = [
            f"AUTOTRADER_OKX_{name.upper()}"
            for name, secret in (
                ("api_key", self.api_key),
                ("api_secret", self.api_secret),
                ("passphrase", self.passphrase),
            )
            if not secret.get_secret_value()
        ]
        if missing:
            raise ConfigurationError(f"OKX credentials missing: set {', '.join(missing)}")
