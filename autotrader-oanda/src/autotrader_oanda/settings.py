"""Settings of the OANDA adapter (env prefix ``AUTOTRADER_OANDA_``).

The practice environment (fxTrade Practice) is the default: trading real money
needs ``AUTOTRADER_OANDA_ENVIRONMENT=live``. Practice and live are separate
environments with separate accounts and tokens (protocols.md §4.1-4.2).
"""

from __future__ import annotations

import re
from typing import Literal

from autotrader_core.settings import BrokerSettings, refuse_live_hosts
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = ["HOSTS", "OandaSettings"]

HOSTS: dict[str, tuple[str, str]] = {
    "practice": ("https://api-fxpractice.oanda.com", "https://stream-fxpractice.oanda.com"),
    "live": ("https://api-fxtrade.oanda.com", "https://stream-fxtrade.oanda.com"),
}
"""``environment`` → (REST host, streaming host)."""


# {siteID}-{divisionID}-{userID}-{accountNumber}, e.g. 101-004-1435156-001.
_ACCOUNT_ID = re.compile(r"^\d{3}-\d{3}-\d+-\d{3}$")


class OandaSettings(BrokerSettings):
    """Credentials, account and environment of one OANDA v20 account.

    ``base_url`` overrides the REST host and ``ws_url`` the streaming host (both
    are plain ``https://`` origins; OANDA streams over chunked HTTP, not WebSocket).
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_OANDA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A refused token must not be echoed in the ValidationError (pydantic shows inputs by default).
        hide_input_in_errors=True,
    )

    environment: Literal["practice", "live"] = "practice"
    """``practice`` (default, fxTrade Practice) or ``live`` (fxTrade, real money)."""
    token: SecretStr
    """Personal access token from the account portal ("Manage API Access")."""
    account_id: str
    """v20 account id, ``{site}-{division}-{user}-{account}`` (e.g. ``101-004-1435156-001``)."""
    heartbeat_timeout: float = Field(default=15.0, gt=0)
    """Seconds without any line (OANDA sends a heartbeat every ~5 s) before the stream is declared dead."""
    reconnect_initial_delay: float = Field(default=0.5, gt=0)
    """Seconds before the first stream reconnect; doubles per failed attempt (with jitter)."""
    reconnect_max_delay: float = Field(default=30.0, gt=0)
    """Ceiling of the stream reconnect delay."""
    http_transport: Literal["auto", "httpx", "aiohttp", "lean"] = "auto"
    """REST transport. ``auto`` (default): ``lean`` unless the environment names a proxy for
    the REST URL, then ``httpx``. ``lean``: the core's standard-library HTTP/1.1 keep-alive
    client, the least CPU per order (no proxy support; asyncio only). ``httpx``: httpx's own
    transport (proxies, HTTP/2 if installed). ``aiohttp``: aiohttp
    (``pip install 'autotrader-oanda[aiohttp]'``; proxies, asyncio only). The transaction
    stream always runs on httpx. Every choice runs the conformance suite
    (benchmarks/oanda/README.md has the figures)."""
    max_requests_per_second: float = Field(default=100.0, gt=0, le=120)
    """REST budget: OANDA allows 120 requests/s per IP and advises at most 100/s per connection."""

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not raw or any(ch.isspace() for ch in raw):
            # Never echo the value: it is a credential.
            raise ValueError("the OANDA token must be a non-empty string without spaces or newlines")
        return value

    @field_validator("account_id")
    @classmethod
    def _check_account_id(cls, value: str) -> str:
        value = value.strip()
        if value.isdigit():
            raise ValueError(
                f"account id {value!r} is a legacy v1 account: the v20 API needs a v20 account "
                "(ids look like 101-004-1435156-001)"
            )
        if not _ACCOUNT_ID.match(value):
            raise ValueError(
                f"account id {value!r} is not a v20 account id (expected e.g. 101-004-1435156-001); "
                "list yours with GET /v3/accounts"
            )
        return value

    @model_validator(mode="after")
    def _no_live_host_outside_live(self) -> OandaSettings:
        # An override to a live host would trade real money while is_live says False.
        refuse_live_hosts(self, broker="OANDA", live_urls=HOSTS["live"])
        return self

    @property
    def is_live(self) -> bool:
        """True when this configuration trades real money."""
        return self.environment == "live"

    @property
    def rest_url(self) -> str:
        """REST origin: ``base_url`` when set, else the environment's host."""
        return (self.base_url or HOSTS[self.environment][0]).rstrip("/")

    @property
    def stream_url(self) -> str:
        """Streaming origin: ``ws_url`` when set, else the environment's stream host."""
        return (self.ws_url or HOSTS[self.environment][1]).rstrip("/")
