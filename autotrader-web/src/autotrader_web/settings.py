"""Settings of the control plane, from ``AUTOTRADER_WEB_*`` variables and ``.env``.

Tokens are named, so the audit log says *who* acted (``web:<name>``), and come in two
kinds: read tokens see everything, control tokens may also act. Give each operator or
device its own token so one can be revoked without the others::

    AUTOTRADER_WEB_CONTROL_TOKENS='{"alice-laptop": "…32+ random characters…"}'
    AUTOTRADER_WEB_READ_TOKENS='{"wallboard": "…"}'
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_PORT", "MIN_TOKEN_LENGTH", "WebSettings"]

DEFAULT_PORT = 8765
"""The port the page and API listen on by default."""

MIN_TOKEN_LENGTH = 16
"""Shortest token accepted: a short token can be guessed over the network."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class WebSettings(BaseSettings):
    """Where the control plane listens, who may use it, and where alerts go.

    It binds to loopback by default: the page shows positions and PnL and can halt or
    flatten the account, so reaching it from a network must be asked for (and put behind
    TLS, see the operations guide).
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_WEB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # a refused token must not be echoed in the error
    )

    host: str = "127.0.0.1"
    """Interface to bind; anything but loopback exposes the account to that network."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """TCP port; ``0`` picks a free one."""
    read_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    """Named bearer tokens that may read every endpoint but act on none."""
    control_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    """Named bearer tokens that may also act (halt, cancel, flatten, kill, ...)."""
    max_body_bytes: int = Field(default=8 * 1024, ge=64, le=1024 * 1024)
    """Largest request body accepted (actions carry a reason or a symbol, nothing more)."""
    heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    """Idle live-update streams send a comment this often (proxies drop silent streams)."""

    webhook_url: SecretStr | None = None
    """Slack-compatible incoming webhook for alerts (the URL is the secret; never logged)."""
    webhook_min_level: Literal["info", "warning", "critical"] = "warning"
    """Engine alerts below this level are not posted (control actions always are)."""
    webhook_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per alert before it is given up (and logged) ."""
    webhook_backoff: float = Field(default=0.5, ge=0, le=60)
    """First retry delay in seconds; doubled per attempt up to ``webhook_max_backoff``."""
    webhook_max_backoff: float = Field(default=30.0, ge=0, le=600)
    """Longest delay between two attempts (also the cap on a ``Retry-After``)."""
    webhook_timeout: float = Field(default=5.0, gt=0, le=120)
    """Seconds per webhook request."""
    webhook_queue: int = Field(default=500, ge=1, le=100_000)
    """Alerts waiting for delivery at most; further ones are dropped and counted."""

    @field_validator("read_tokens", "control_tokens")
    @classmethod
    def _check_tokens(cls, tokens: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in tokens.items():
            if not _NAME.match(name):
                raise ValueError(f"token name {name!r}: use letters, digits and _ . @ - (at most 64)")
            if len(secret.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise ValueError(f"token {name!r} is shorter than {MIN_TOKEN_LENGTH} characters")
        return tokens

    @model_validator(mode="after")
    def _names_unique(self) -> Self:
        both = set(self.read_tokens) & set(self.control_tokens)
        if both:
            raise ValueError(f"token names used for both read and control: {sorted(both)}")
        return self
