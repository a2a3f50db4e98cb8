"""Connecting to NATS: settings a server refuses are a typed error at once, not a retry loop.

The gateway and remote strategies reconnect for ever once connected (a server restart or a
failover must not end them), and nats-py applies that to the first connection too: a wrong
password, an unknown nkey or an untrusted certificate was retried every 0.25 s without end,
each attempt logged with a traceback. A refusal cannot heal by retrying, so the first
connection stops at it with :class:`NatsRefused`, naming the server and what was offered —
never a secret. A server that is not up yet is still waited for (a gateway may start first).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from autotrader_core.errors import ConfigurationError
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import (
    InvalidUserCredentialsError,
    SecureConnFailedError,
    SecureConnRequiredError,
    SecureConnWantedError,
)

from autotrader_nats.settings import NatsSettings

__all__ = ["NatsRefused", "connect_nats"]

logger = logging.getLogger(__name__)

_LOG_SAME_ERROR_EVERY = 30.0
"""Seconds before the same connection error is logged again (nats-py retries every 0.25 s)."""

_CLOSE_AT_MOST = 2.0
"""Seconds a refused connection's clean-up may take."""

_TLS_ERRORS = (ssl.SSLError, SecureConnFailedError, SecureConnRequiredError, SecureConnWantedError)


class NatsRefused(ConfigurationError):
    """The NATS server refused the connection's settings (credentials or TLS): fix them, retrying cannot."""


def _refusal(exc: BaseException) -> str | None:
    """What the server refused, or ``None`` for an error that may pass (a server not up yet)."""
    if isinstance(exc, _TLS_ERRORS):
        return f"TLS: {exc}"
    if isinstance(exc, InvalidUserCredentialsError):
        return f"the credentials: {exc}"
    text = str(exc)
    said = text.lower()
    # 'Authorization Violation', 'User Authentication Expired' / 'Revoked' …; not an
    # 'Authentication Timeout' (a slow handshake on a busy host may pass).
    if isinstance(exc, NatsError) and (
        "authorization" in said or ("authentication" in said and "timeout" not in said)
    ):
        return text.removeprefix("nats: ").strip("'")
    return None


def _offered(settings: NatsSettings) -> str:
    """How the settings authenticate, in words that hold no secret."""
    offered = []
    if settings.creds_file is not None:
        offered.append(f"creds file {settings.creds_file}")
    elif settings.nkey_seed is not None:
        offered.append("an nkey seed")
    if settings.user is not None:
        offered.append(f"user {settings.user!r}" + (" with a password" if settings.password else ""))
    if settings.token is not None:
        offered.append("a token")
    if settings.tls_cert is not None:
        offered.append(f"TLS client certificate {settings.tls_cert}")
    if settings.tls_ca is not None:
        offered.append(f"TLS trusting {settings.tls_ca}")
    elif settings.tls_required:
        offered.append("TLS trusting the system's certificate authorities")
    return ", ".join(offered) or "no credentials"


def _server(client: Client, settings: NatsSettings) -> str:
    """The server tried, else the configured ones (no URL holds credentials: NatsSettings refuses them)."""
    uri = getattr(getattr(client, "_current_server", None), "uri", None)  # nats-py keeps it private
    return str(uri.geturl()) if uri is not None else ", ".join(settings.servers)


async def connect_nats(
    settings: NatsSettings,
    *,
    role: str,
    reconnected_cb: Callable[[], Awaitable[None]] | None = None,
    inbox_prefix: str | None = None,
) -> Client:
    """Connect as ``role`` (``gateway-…``, ``strategy-…``); reconnect for ever once connected.

    ``inbox_prefix`` replaces ``_INBOX`` in the subjects replies and deliveries come to.

    Raises:
        NatsRefused: the server refused the settings' credentials or TLS at the first
            connection (the message names the server and what was offered, no secret).
    """
    client = Client()
    connecting = True
    last_logged = ("", -_LOG_SAME_ERROR_EVERY)  # the last error logged, and when

    async def on_error(exc: Exception) -> None:
        nonlocal last_logged
        refused = _refusal(exc)
        if connecting and refused is not None:  # raised out of nats-py's connect loop: it stops there
            raise NatsRefused(
                f"NATS at {_server(client, settings)} refused the {role} connection ({_offered(settings)}): {refused}"
            ) from None
        text = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if text != last_logged[0] or now - last_logged[1] >= _LOG_SAME_ERROR_EVERY:
            last_logged = (text, now)
            logger.warning("NATS connection of %s: %s", role, text)

    try:
        options: dict[str, Any] = settings.connect_options(role=role)
    except OSError as exc:  # a certificate or key that cannot be loaded (ssl.SSLError is one)
        raise ConfigurationError(f"the TLS files of the {role} connection cannot be used: {exc}") from None
    if reconnected_cb is not None:
        options["reconnected_cb"] = reconnected_cb
    if inbox_prefix is not None:
        options["inbox_prefix"] = inbox_prefix
    try:
        await client.connect(error_cb=on_error, **options)
    except BaseException:
        # The refused attempt's socket (closing a TLS stream that failed its handshake can
        # wait on a peer that has gone: bounded).
        with anyio.move_on_after(_CLOSE_AT_MOST, shield=True):
            await client.close()
        raise
    connecting = False
    return client
