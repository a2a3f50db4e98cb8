"""Connection settings for TWS / IB Gateway (env prefix ``AUTOTRADER_IBKR_``).

There are no API keys: TWS and IB Gateway authenticate the user themselves and
accept API socket connections on a local port. Which port decides paper or live
money, so the port follows ``environment`` unless set explicitly, and the default
environment is ``paper``.
"""

from __future__ import annotations

from typing import Literal

from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = ["DEFAULT_PORTS", "IbkrSettings"]

DEFAULT_PORTS: dict[tuple[str, str], int] = {
    ("paper", "tws"): 7497,
    ("paper", "gateway"): 4002,
    ("live", "tws"): 7496,
    ("live", "gateway"): 4001,
}
"""IBKR's default API ports per (environment, application)."""


class IbkrSettings(BrokerSettings):
    """Settings of the IBKR adapter.

    ``environment`` is ``paper`` (default) or ``live``; ``live`` must be asked for
    explicitly, and a port that belongs to the other environment is refused.
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_IBKR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A malformed value from the environment must not be echoed in a ValidationError.
        hide_input_in_errors=True,
    )

    environment: Literal["paper", "live"] = "paper"
    host: str = "127.0.0.1"
    """Host running TWS or IB Gateway."""
    application: Literal["tws", "gateway"] = "gateway"
    """Which IBKR application listens: picks the default port."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """API port; ``None`` = the default for ``environment`` and ``application``."""
    client_id: int = Field(default=1, ge=0)
    """API client id; must be unique among the clients connected to one TWS.

    Orders are bound to the client id that placed them: reconnect with the same id to
    manage them again after a restart.
    """
    account: str = ""
    """Account code (``DU…`` for paper). Empty = the only account the login manages."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds for the handshake and the initial synchronisation."""
    order_ack_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for TWS to acknowledge a place, modify or cancel."""
    reconnect_delay: float = Field(default=1.0, gt=0)
    """First delay between reconnect attempts (doubles up to ``reconnect_max_delay``)."""
    reconnect_max_delay: float = Field(default=30.0, gt=0)
    client_id_retries: int = Field(default=3, ge=0)
    """At the first connect, how often error 326 (client id in use) is retried with the same id
    before it becomes a ConfigurationError. Reconnects retry it until ``disconnect``."""
    reject_window: float = Field(default=0.5, gt=0)
    """Seconds a new order answered only ``PreSubmitted`` is watched for a rejection before
    ``submit_order`` returns ``OrderAccepted``: TWS rejects for margin *after* PreSubmitted
    (PreSubmitted, error 201, Inactive; ib_insync #554 shows ~130 ms)."""

    symbols: list[str] = Field(default_factory=list)
    """Symbols to qualify at connect (``get_instruments`` lists what has been qualified)."""
    tws_timezone: str = "UTC"
    """Zone of execution time stamps that TWS sends without one (the TWS login's zone)."""
    commission_timeout: float = Field(default=10.0, gt=0)
    """Seconds to hold an execution for its commission report before releasing the fill
    without a fee (a fill is never held back for good)."""
    delayed_data: Literal["stale", "quotes", "off"] = "stale"
    """Market data without a live subscription. ``stale`` (default) and ``quotes`` ask TWS for
    live-or-delayed data (``reqMarketDataType(3)``: live where the account has the
    subscription, 15-20 minutes delayed where not); a delayed line then yields ``Stale``
    (``stale``: never a price risk checks trust) or its quotes (``quotes``: for watching a
    market; they are not live). ``off`` asks for live data only: without a subscription TWS
    refuses the request (354) and the symbol stays stale."""
    trades_source: Literal["last", "tick_by_tick"] = "last"
    """Where ``open_market_data(trades=True)`` takes trades from. ``last``: the market-data line's
    last price and size ticks (no extra line; TWS reports the last trade every 250 ms for stocks,
    so trades in between are not seen). ``tick_by_tick``: one ``AllLast`` message per trade with
    the exchange's time, on a tick-by-tick line per symbol (TWS allows those for at most 5 % of
    the account's market-data lines)."""
    market_data_silence: float = Field(default=30.0, gt=0)
    """Seconds without any market-data message after which the feed asks TWS for its clock
    (``reqCurrentTime``); no answer within ``request_timeout`` re-requests every line, with
    ``Stale`` first (TWS has no protocol heartbeat; a quiet symbol sends nothing)."""

    @model_validator(mode="after")
    def _check_port(self) -> IbkrSettings:
        if self.port is None:
            return self
        other = "live" if self.environment == "paper" else "paper"
        if self.port in (DEFAULT_PORTS[(other, "tws")], DEFAULT_PORTS[(other, "gateway")]):
            raise ConfigurationError(
                f"port {self.port} is IBKR's default {other} port but environment is "
                f"{self.environment!r}; set environment={other!r} explicitly or pick another port"
            )
        return self

    @property
    def resolved_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return DEFAULT_PORTS[(self.environment, self.application)]
