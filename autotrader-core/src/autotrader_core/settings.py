"""Settings: pydantic-settings classes read from the environment and ``.env``.

Each adapter subclasses :class:`BrokerSettings` with its own env prefix
(``AUTOTRADER_<BROKER>_``) and keeps credentials as ``SecretStr``, so a key never
shows in a repr, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autotrader_core.transports import redact_url

__all__ = [
    "BrokerSettings",
    "EngineSettings",
    "host_of",
    "redact_url",
    "refuse_live_hosts",
    "refuse_unsafe_credential",
    "refuse_url_credentials",
    "validation_summary",
]


def validation_summary(exc: ValidationError) -> str:
    """``field: message`` per error of settings that failed validation, without the input (it may be a secret)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors()
    )


def refuse_url_credentials(url: str | None, *, field: str) -> None:
    """Refuse a URL that carries ``user:password@``: it would show in every repr, log and error.

    Raises:
        ValueError: naming the field, never echoing the URL (inside a validator: a ``ValidationError``).
    """
    if url and redact_url(url) != url:
        raise ValueError(
            f"{field} holds credentials (user:password@host): a URL is shown in logs and errors; "
            "remove them (API credentials have their own settings)"
        )


def refuse_unsafe_credential(value: SecretStr | str | None, *, field: str) -> None:
    """Refuse a key or secret holding whitespace or a control character; the value is never shown.

    A trailing newline (a key pasted from a file) would otherwise travel into an HTTP
    header, where clients refuse it with a message that may quote the header.

    Raises:
        ValueError: naming the field only (inside a validator: a ``ValidationError``).
    """
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if text and any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(
            f"{field} holds whitespace or a control character (a trailing newline from a file or a "
            "paste?); the value is not shown: fix it where it is set"
        )


def host_of(url: str) -> str:
    """Lower-case host name of ``url`` (scheme optional), without port or trailing dot."""
    return (urlsplit(url if "//" in url else f"//{url}").hostname or "").rstrip(".")


def refuse_live_hosts(
    settings: BrokerSettings,
    *,
    broker: str,
    live_urls: Iterable[str],
    fields: Iterable[str] = ("base_url", "ws_url"),
) -> None:
    """Refuse a non-live configuration whose URL overrides point at the broker's live hosts.

    Without it, ``environment="testnet"`` with ``base_url`` set to the live host would trade
    real money while ``is_live`` says False. Only the host is shown in the message (a URL
    may carry credentials). Loopback, proxy and test hosts stay allowed.

    Raises:
        ValueError: inside a pydantic validator this becomes a ``ValidationError``.
    """
    if settings.environment == "live":
        return
    live_hosts = {host_of(url) for url in live_urls}
    for field in fields:
        url = getattr(settings, field)
        host = host_of(url) if url else ""
        if host in live_hosts:
            raise ValueError(
                f"{field} points at {broker}'s live host {host} but environment is "
                f"{settings.environment!r}: set environment='live' explicitly to trade real money"
            )


class BrokerSettings(BaseSettings):
    """Base of every adapter's settings.

    ``environment`` defaults to the broker's test environment in each subclass:
    live trading must be asked for explicitly.
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # A malformed secret from the environment must not be echoed in a ValidationError.
        hide_input_in_errors=True,
    )

    environment: str = "test"
    base_url: str | None = None
    """Override the REST base URL (a loopback replay server in tests, a proxy in production)."""
    ws_url: str | None = None
    """Override the private stream URL."""
    request_timeout: float = Field(default=10.0, gt=0)
    """Seconds a request may take, from connecting to the reply's last byte, before it is abandoned
    as :class:`~autotrader_core.errors.RequestTimeout` (a reply that trickles in counts too)."""
    max_reply_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """Largest reply body read (bytes, after decompression); a bigger reply is refused as
    :class:`~autotrader_core.errors.BrokerProtocolError` without reading the rest."""

    credential_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")
    """Fields (where a subclass has them) holding a key or secret that is sent in a header or
    used to sign: refused when they hold whitespace or a control character."""

    @model_validator(mode="after")
    def _safe_credentials_and_urls(self) -> BrokerSettings:
        for name in self.credential_fields:
            value = getattr(self, name, None)
            if isinstance(value, (SecretStr, str)):
                refuse_unsafe_credential(value, field=name)
        refuse_url_credentials(self.base_url, field="base_url")
        refuse_url_credentials(self.ws_url, field="ws_url")
        return self

    @property
    def is_live(self) -> bool:
        """True when this configuration trades real money."""
        return self.environment == "live"


class EngineSettings(BaseSettings):
    """Engine-wide settings (env prefix ``AUTOTRADER_``)."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    decision_interval: float = Field(default=0.1, gt=0)
    """Seconds between strategy decision cycles (0.1 = 100 ms)."""
    reconcile_interval: float = Field(default=30.0, ge=0)
    """Seconds between checks of our open orders against the broker's list (0: off).

    A safety net for events a stream gap lost (e.g. a cancel): an order we think open
    that the broker no longer lists is looked up and settled from the broker's answer.
    """
    status_interval: float = Field(default=1.0, gt=0)
    """Seconds between status snapshots sent to the ``autotrader_on_status`` hook."""
    max_quote_age: float = Field(default=5.0, gt=0)
    """Seconds after which a quote is stale: no longer a price for strategies or risk checks."""
    accept_delayed_quotes: bool = False
    """Let a delayed quote (``Quote.delayed``: e.g. IBKR without a live subscription) price
    opening orders. Off: strategies still see it, flagged, but risk checks that need a price
    refuse an opening order with ``NO_PRICE`` (saying it is delayed); reducing orders pass as
    for a stale price."""
    order_timeout: float = Field(default=30.0, gt=0)
    """Seconds an order may stay unconfirmed before the engine queries the broker about it."""
    data_dir: Path = Path.home() / ".autotrader"
    """Where the journal (``journal.sqlite3``) and other local state live."""
    journal_sync: Literal["intent", "every", "off"] = "intent"
    """When a journal write must be durable: ``intent`` (before every request leaves),
    ``every`` (every record) or ``off`` (background only)."""
    journal_fsync: bool = True
    """fsync journal commits (power-loss safe); ``False`` only survives the process dying."""
    recover_on_start: bool = True
    """With a journal: replay it and reconcile with the broker when the engine starts."""
    disabled_plugins: str = ""
    """Comma-separated plugin names not to load (also ``AUTOTRADER_DISABLED_PLUGINS``)."""
    account: str = Field(default="default", min_length=1)
    """Your label for the account this engine trades (``AUTOTRADER_ACCOUNT``): with the broker
    and environment it tells engines apart in hooks, order-event records and metrics."""
    handle_signals: bool = True
    """``engine.run()`` handles Ctrl-C / ``SIGTERM`` and registers the session for
    ``autotrader sessions`` / ``kill`` while it waits (``False``: your code handles signals)."""
    on_signal: Literal["cancel", "kill"] = "cancel"
    """What a signal during ``engine.run()`` does: ``cancel`` stops the strategy, cancels this
    engine's open orders and leaves positions as they are (and says so); ``kill`` is the full
    kill switch, which also flattens every position."""
    kill_switch_timeout: float = Field(default=30.0, gt=0)
    """Seconds the kill switch's cancels and flattens may take in all: a request that hangs is
    abandoned then, and trading is halted and the engine stopped regardless."""
    resend_after_restart_max_age: float = Field(default=60.0, ge=0)
    """Seconds: after a restart, a submit or modify left in doubt that the broker does not know
    is re-sent (on a venue whose idempotency key or same-id semantics make that safe) only if
    it was journaled less than this long ago; an older one stays unknown (alerted) for
    reconciliation or an operator, so a long outage never places yesterday's order today."""
    max_decide_failures: int = Field(default=10, ge=1)
    """``decide()`` failures in a row after which trading halts and the decision loop stops
    (each retry waits twice as long as the last, up to 30 s; the first failure alerts)."""
