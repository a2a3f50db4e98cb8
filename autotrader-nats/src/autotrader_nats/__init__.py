"""autotrader-nats: an account gateway on NATS JetStream, and strategies that run anywhere.

* :class:`AccountGateway` — one engine per broker account (keys, journal, rate limits,
  reconciliation, kill switch) served over NATS; ``autotrader gateway --broker NAME``.
* :func:`connect_gateway` / :class:`RemoteEngine` — the same ``Strategy`` API through a
  gateway instead of an adapter.
* :class:`GatewaySettings` / :class:`StrategyBudget` — per-strategy risk budgets the
  gateway enforces (position, open notional, order rate), from ``AUTOTRADER_GATEWAY_*``.
* :class:`NatsSettings` — servers, credentials (nkeys, creds file, user/password, token as
  ``SecretStr``) and TLS, from ``AUTOTRADER_NATS_*``; :class:`NatsRefused` — a server
  refused them (a :class:`~autotrader_core.errors.ConfigurationError`, raised at once).
* :func:`strategy_permissions` — the NATS permissions that keep a strategy to its own subjects
  (``autotrader nats-permissions``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from autotrader_nats.budgets import GatewaySettings, StrategyBudget
from autotrader_nats.command_log import CommandLog
from autotrader_nats.connection import NatsRefused
from autotrader_nats.gateway import AccountGateway
from autotrader_nats.permissions import strategy_permissions
from autotrader_nats.remote import RemoteContext, RemoteEngine, connect_gateway
from autotrader_nats.settings import NatsSettings
from autotrader_nats.shutdown import RemoteShutdownReport
from autotrader_nats.wire import AccountNames

try:
    __version__ = version("autotrader-nats")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AccountGateway",
    "AccountNames",
    "CommandLog",
    "GatewaySettings",
    "NatsRefused",
    "NatsSettings",
    "RemoteContext",
    "RemoteEngine",
    "RemoteShutdownReport",
    "StrategyBudget",
    "__version__",
    "connect_gateway",
    "strategy_permissions",
]
