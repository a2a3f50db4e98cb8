"""Exporter settings, read from the environment (prefix ``AUTOTRADER_PROMETHEUS_``) and ``.env``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_PORT", "PrometheusSettings"]

DEFAULT_PORT = 9464
"""The port scraped by default (``AUTOTRADER_PROMETHEUS_PORT`` changes it)."""


class PrometheusSettings(BaseSettings):
    """Where the ``/metrics`` endpoint listens and how many label values each metric may grow.

    The endpoint binds to loopback by default: the metrics reveal positions and PnL,
    so exposing them on a network interface must be asked for explicitly.
    """

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_PROMETHEUS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    enabled: bool = True
    """``False`` keeps the entry-point plugin silent: no metrics recorded, no endpoint."""
    autostart: bool = True
    """Start the HTTP endpoint (in a background thread) when the first hook fires."""
    host: str = "127.0.0.1"
    """Interface to bind; ``0.0.0.0`` exposes positions and PnL to the network."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """TCP port; ``0`` picks a free one (see ``MetricsServer.port``)."""
    max_symbols: int = Field(default=500, ge=1)
    """Distinct ``symbol`` label values kept; further symbols are counted as ``other``."""
    max_reasons: int = Field(default=50, ge=1)
    """Distinct reject / reconnect reason codes kept; further ones are counted as ``other``."""
    max_names: int = Field(default=100, ge=1)
    """Distinct breaker, limiter, broker and alert-source names kept per label."""
