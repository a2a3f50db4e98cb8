"""The TWS API session: one ib_async ``IB`` client, connected, checked and kept up.

Connect = socket + handshake + ib_async's startup sync, then three checks the adapter
relies on: the negotiated server version is one the adapter is proven for (message
layouts differ by version), the account is managed by the login, and the client id is
ours (error 326 is retried with the **same** id: executions and the same-id re-send
guarantee belong to it, so a new id would lose fills). The session connects once per
call; reconnecting with backoff belongs to the private stream, which runs on the core's
:class:`~autotrader_core.streaming.ReconnectingStream` over a
:class:`~autotrader_ibkr.stream.SessionCarrier` (backoff from :attr:`TwsSession.reconnect_policy`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import ib_async
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import AutotraderError, BrokerUnavailable, ConfigurationError
from autotrader_core.resiliency import RetryPolicy
from autotrader_core.streaming import StreamLost

from autotrader_ibkr.errors import ErrorKind, classify, to_exception
from autotrader_ibkr.parsing import BROKER, ErrorRecord
from autotrader_ibkr.settings import IbkrSettings

__all__ = ["PROVEN_SERVER_VERSIONS", "ClientIdInUse", "TwsSession"]

_log = logging.getLogger(__name__)

PROVEN_SERVER_VERSIONS = (178, 178)
"""Server versions whose layouts the adapter's parsers and transcripts are proven for.

The transcripts (checked field for field with IBKR's own decoder) are at 178, the highest
ib_async 2.1 negotiates. Below 164 contractDetails has another layout (157-163 break it);
from 194 error messages drop their version field and add an error time."""

THROTTLE = "ibkr-tws-messages"
"""Telemetry name of ib_async's client-side throttle (45 messages/s; TWS allows 50)."""


class TwsSession:
    """Owns the ``ib_async.IB`` client of one adapter.

    Args:
        settings: Connection settings.
        ib_factory: Builds the client.
        attach: Called once per new client, before it connects (installs the taps).
        on_open: Called after every successful connect (re-attach orders…).
        on_lost: Called when an established socket closes (not on ``close``).
        telemetry: Returns the adapter's current telemetry (the engine replaces it).
    """

    def __init__(
        self,
        settings: IbkrSettings,
        ib_factory: Callable[[], ib_async.IB],
        *,
        attach: Callable[[ib_async.IB], None],
        on_open: Callable[[ib_async.IB], None],
        on_lost: Callable[[], None],
        telemetry: Callable[[], AdapterTelemetry],
    ) -> None:
        self.settings = settings
        self._ib_factory = ib_factory
        self._attach = attach
        self._on_open = on_open
        self._on_lost = on_lost
        self._telemetry = telemetry
        self.ib: ib_async.IB | None = None
        self.closed = True
        self.account = settings.account
        self.link_lost = False
        """TWS reported 1100 (no link to IBKR) and no 1101/1102 yet."""
        self.connect_error: ErrorRecord | None = None
        """A connection-level error TWS sent during the handshake (326…)."""
        self._refusal: ConfigurationError | None = None
        self._lock = anyio.Lock()
        self.generation = 0
        """Number of successful connects: a carrier notices that its socket was replaced."""
        self._throttled_since: float | None = None

    @property
    def is_up(self) -> bool:
        """Socket connected, not closed by us, and TWS linked to IBKR."""
        return self.ib is not None and self.ib.isConnected() and not self.closed and not self.link_lost

    @property
    def reconnect_policy(self) -> RetryPolicy:
        """Backoff between connects: ``reconnect_delay`` doubling to ``reconnect_max_delay``, no jitter."""
        return RetryPolicy(
            max_attempts=1,
            base_delay=self.settings.reconnect_delay,
            max_delay=self.settings.reconnect_max_delay,
            jitter=0.0,
        )

    async def start(self) -> None:
        """First connect; 326 is retried ``client_id_retries`` times, then a ConfigurationError."""
        self.closed = False
        policy = self.reconnect_policy
        for attempt in range(self.settings.client_id_retries + 1):
            try:
                await self.open()
                return
            except ClientIdInUse as exc:
                if attempt == self.settings.client_id_retries:
                    raise exc.error from None
                delay = policy.backoff(attempt + 1)
                _log.warning("client id %s in use (326); retry in %.1fs", self.settings.client_id, delay)
                await anyio.sleep(delay)

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        self.closed = True
        if self.ib is not None:
            self.ib.disconnectedEvent -= self._disconnected
            self.ib.disconnect()
            self.ib = None

    async def client(self) -> ib_async.IB:
        """The live client, reconnecting once if the socket dropped."""
        if self.closed:
            raise BrokerUnavailable("adapter is not connected: call connect() first", broker=BROKER)
        if self.ib is None or not self.ib.isConnected():
            await self.open()
        assert self.ib is not None
        return self.ib

    async def open(self) -> None:
        """Connect (or reconnect) the client; one attempt at a time.

        Raises:
            ClientIdInUse: TWS answered 326 (retried with the same id by the caller).
            BrokerUnavailable: TWS cannot be reached.
            ConfigurationError: unproven server version or an account this login does not manage.
        """
        async with self._lock:
            if self.ib is not None and self.ib.isConnected():
                return  # another task reconnected meanwhile
            await self._open_locked()

    async def _open_locked(self) -> None:
        ib = self.ib if self.ib is not None else self._new_client()
        self.ib = ib
        self.connect_error = None
        self._refusal = None
        self.link_lost = False
        try:
            await ib.connectAsync(
                self.settings.host,
                self.settings.resolved_port,
                clientId=self.settings.client_id,
                timeout=self.settings.connect_timeout,
                account=self.settings.account,
            )
        except (TimeoutError, OSError, ConnectionError) as exc:
            raise self._connect_failure(exc) from exc
        refusal = self._refused()
        if refusal is not None:  # refused while ib_async was still syncing
            ib.disconnect()
            raise refusal
        self._check_account(ib)
        self._on_open(ib)
        self.generation += 1

    def _new_client(self) -> ib_async.IB:
        ib = self._ib_factory()
        self._attach(ib)
        ib.disconnectedEvent += self._disconnected
        ib.client.apiStart += lambda: self._check_version(ib)
        ib.client.throttleStart += self._throttle_start
        ib.client.throttleEnd += self._throttle_end
        return ib

    def _refused(self) -> ConfigurationError | None:
        """The refusal the version check made during this connect, if any."""
        return self._refusal

    def _connect_failure(self, exc: BaseException) -> Exception:
        if self._refusal is not None:
            return self._refusal
        if self.connect_error is not None:
            error = to_exception(self.connect_error, context="connect")
            if classify(self.connect_error.code) is ErrorKind.CLIENT_ID_IN_USE:
                return ClientIdInUse(error)
            return error
        return BrokerUnavailable(
            f"cannot connect to TWS at {self.settings.host}:{self.settings.resolved_port}: {exc!r}",
            broker=BROKER,
        )

    def _check_version(self, ib: ib_async.IB) -> None:
        """Right after the handshake: refuse a server version the adapter is not proven for."""
        version = ib.client.serverVersion()
        low, high = PROVEN_SERVER_VERSIONS
        if low <= version <= high:
            return
        self._refusal = ConfigurationError(
            f"TWS negotiated API server version {version}; this adapter is proven for versions "
            f"{low}..{high} only (message layouts differ by version): use a TWS/Gateway and ib_async "
            "that negotiate a proven version",
            broker=BROKER,
        )
        ib.client.disconnect()  # type: ignore[no-untyped-call]

    def _check_account(self, ib: ib_async.IB) -> None:
        accounts = ib.managedAccounts()
        if not self.account:
            if len(accounts) == 1:
                self.account = accounts[0]
        elif self.account not in accounts:
            ib.disconnect()
            raise ConfigurationError(
                f"account {self.account!r} is not managed by this login ({accounts})", broker=BROKER
            )

    def _disconnected(self) -> None:
        if self.closed:
            return
        _log.warning("TWS connection lost; stream_events will reconnect")
        self._on_lost()

    def _throttle_start(self) -> None:
        self._throttled_since = time.monotonic()

    def _throttle_end(self) -> None:
        # ib_async queued messages over its 45/s budget: report how long the queue waited.
        started, self._throttled_since = self._throttled_since, None
        if started is not None:
            self._telemetry().rate_limit_wait(THROTTLE, time.monotonic() - started)


class ClientIdInUse(StreamLost):
    """326 during connect: retried with the same client id (carries the user-facing error).

    A :class:`StreamLost`, so the private stream backs off and retries it like a refused socket.
    """

    def __init__(self, error: AutotraderError) -> None:
        super().__init__(f"client id in use (326): {error}", broker=BROKER)
        self.error = error
