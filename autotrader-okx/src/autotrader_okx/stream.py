"""OKX private WebSocket (``/ws/v5/private``): login, subscribe, heartbeat, reconnect, catch-up.

Protocol (protocols.md §2.5):

1. connect; send ``{"op": "login", ...}`` signed over ``ts + "GET" + "/users/self/verify"``
   (``ts`` in Unix seconds from the broker-clock estimate); wait for
   ``{"event": "login", "code": "0"}``. ``60009``/bad key → :class:`AuthenticationError`
   raised to the consumer (retrying bad credentials only burns the login limit);
2. subscribe to ``orders`` (``instType``), ``account`` and ``positions``;
3. OKX closes a connection silent for 30 s: after ``ping_interval`` s without a
   frame we send the text ``ping`` and expect ``pong`` within ``pong_timeout`` s,
   else the connection is treated as dead;
4. on any drop (or the ``64008`` maintenance notice, or an unreadable push)
   reconnect with exponential backoff and jitter, log in and subscribe again, and
   once every subscription is acknowledged query ``/trade/fills`` from shortly
   before the last frame handled on the last healthy connection, so a fill that
   happened in the gap is never lost. If that query fails the stream reconnects
   and asks again: the gap stays open until a query covered it. Duplicates are
   harmless (the OMS is idempotent on trade id).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
from autotrader_core.clock import ClockOffset
from autotrader_core.errors import (
    AuthenticationError,
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
)
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.models import Balance, Fill, Position
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from autotrader_okx.auth import ws_login_message
from autotrader_okx.errors import BROKER, CLOCK_SKEW_CODES, error_for_code
from autotrader_okx.parsing import parse_balance_detail, parse_order_push, parse_positions
from autotrader_okx.settings import OkxSettings

__all__ = ["CatchUp", "OkxPrivateStream"]

logger = logging.getLogger(__name__)

CatchUp = Callable[[datetime | None], Awaitable[list[Fill]]]
"""Fills since a moment (``None``: the default window), queried after a reconnect."""

_LOGIN_TIMEOUT = 10.0
_MAINTENANCE_NOTICE = "64008"


class _Reconnect(Exception):
    """Internal: this connection is done; open a new one."""


_CONNECTION_LOST = (_Reconnect, ConnectionClosed, InvalidHandshake, OSError, TimeoutError, BrokerUnavailable)


class OkxPrivateStream:
    """One private-stream consumer: :meth:`events` yields core events until :meth:`close`.

    Args:
        settings: URL, credentials, heartbeat and backoff settings.
        clock: Broker-clock estimate (login timestamps must be within 30 s of OKX's clock).
        catch_up: Called after each reconnect with the moment to query fills from.
        resync_clock: Called when OKX says the login timestamp expired (``60006``), before
            the next attempt (the adapter passes its ``/api/v5/public/time`` sync).
        on_reconnect: Called once per reconnect, when the new connection is logged in, with
            what ended the previous one (never on the first connection).
    """

    def __init__(
        self,
        settings: OkxSettings,
        *,
        clock: ClockOffset | None = None,
        catch_up: CatchUp | None = None,
        resync_clock: Callable[[], Awaitable[object]] | None = None,
        on_reconnect: Callable[[str], None] | None = None,
        bad_items: BadItemLog | None = None,
    ) -> None:
        self._settings = settings
        self._bad_items = bad_items if bad_items is not None else BadItemLog(BROKER)
        self._on_reconnect = on_reconnect
        self._logins = 0
        self._lost_reason: str | None = None
        """What ended the last logged-in connection; reported once the next one logs in."""
        self._clock = clock if clock is not None else ClockOffset()
        self._catch_up = catch_up
        self._resync_clock = resync_clock
        self._ws: ClientConnection | None = None
        self._closed = False
        self._healthy = False
        """The current connection is logged in, subscribed and caught up."""
        self._seen_at: datetime | None = None
        """Broker time of the last frame fully handled on a healthy connection."""
        self._gap_start: datetime | None = None
        """Set when a healthy connection is lost; cleared once a catch-up covered the gap."""
        self.connections = 0
        """Connections opened so far (1 + reconnects)."""
        self.balances: dict[str, Balance] = {}
        """Latest balances pushed on the ``account`` channel, by currency."""
        self.positions: dict[str, Position] = {}
        """Latest non-flat positions pushed on the ``positions`` channel, by instrument."""

    @property
    def subscriptions(self) -> list[dict[str, str]]:
        """The channels subscribed on every connection."""
        return [
            {"channel": "orders", "instType": self._settings.inst_type},
            {"channel": "account"},
            {"channel": "positions", "instType": "ANY"},
        ]

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def _stopping(self) -> bool:
        # A call, not an attribute read: mypy would otherwise narrow it to False inside the loop.
        return self._closed

    async def close(self) -> None:
        """Stop the stream: the running :meth:`events` iterator ends."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def events(self) -> AsyncIterator[OrderEvent]:
        """Core events as they arrive, across reconnects, until :meth:`close`.

        Raises:
            AuthenticationError: OKX refused the login (wrong key, passphrase or environment).
            BrokerError: OKX refused a subscription (an ``error`` event after login).
            ConfigurationError: the URL is invalid.
        """
        attempt = 0
        while not self._stopping():
            self._healthy = False
            try:
                async with connect(
                    self._settings.private_ws_url,
                    ping_interval=None,  # OKX's keep-alive is the text "ping", handled below
                    open_timeout=self._settings.request_timeout,
                    close_timeout=2,
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    await self._login(ws)
                    self._logged_in()
                    subscribe = {"id": str(self.connections), "op": "subscribe", "args": self.subscriptions}
                    await ws.send(json.dumps(subscribe))
                    async for event in self._read(ws):
                        yield event
            except InvalidURI as exc:
                raise ConfigurationError(f"okx private stream URL is invalid: {exc}", broker=BROKER) from None
            except AuthenticationError as exc:
                if exc.code not in CLOCK_SKEW_CODES:
                    raise
                logger.warning("okx stream: login timestamp expired; resyncing the clock, reconnecting")
                self._lost("login timestamp expired")
                await self._resync()
            except _CONNECTION_LOST as exc:
                if self._stopping():
                    break
                logger.warning("okx stream: connection lost (%s); reconnecting", type(exc).__name__)
                self._lost(
                    str(exc) if isinstance(exc, _Reconnect) else f"connection lost: {type(exc).__name__}"
                )
            finally:
                self._ws = None
                if self._healthy:
                    attempt = 0
                    if self._gap_start is None:
                        self._gap_start = self._seen_at or self._broker_now()
                self._healthy = False
            if self._stopping():
                break
            await anyio.sleep(self._backoff(attempt))
            attempt += 1

    def _lost(self, reason: str) -> None:
        # Only a connection that was logged in counts; the first reason wins across failed attempts.
        if self._logins and self._lost_reason is None:
            self._lost_reason = reason

    def _logged_in(self) -> None:
        self._logins += 1
        reason, self._lost_reason = self._lost_reason, None
        if reason is not None and self._on_reconnect is not None:
            self._on_reconnect(reason)  # AdapterTelemetry's contract: returns quickly, never raises

    async def _resync(self) -> None:
        if self._resync_clock is None:
            return
        try:
            await self._resync_clock()
        except AutotraderError as exc:
            logger.error("okx stream: clock resync failed: %s", exc)

    def _broker_now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now_ms() / 1000, tz=UTC)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(
            self._settings.reconnect_max_delay, self._settings.reconnect_initial_delay * (2.0**attempt)
        )
        return ceiling * (0.5 + random.random() / 2)  # jitter: many clients must not reconnect in step

    async def _login(self, ws: ClientConnection) -> None:
        settings = self._settings
        timestamp = str(self._clock.now_ms() // 1000)
        await ws.send(
            json.dumps(
                ws_login_message(
                    api_key=settings.api_key.get_secret_value(),
                    secret=settings.api_secret.get_secret_value(),
                    passphrase=settings.passphrase.get_secret_value(),
                    timestamp=timestamp,
                )
            )
        )
        with anyio.fail_after(_LOGIN_TIMEOUT):
            while True:
                message = _decode(await ws.recv())
                if message is None:
                    continue
                event = message.get("event")
                if event == "login":
                    if str(message.get("code", "0")) != "0":
                        raise _as_error(message)
                    return
                if event == "error":
                    raise _as_error(message)

    async def _recv(self, ws: ClientConnection, wait: float) -> str | bytes | None:
        """The next frame, or ``None`` after ``wait`` seconds of silence (no yield in a scope)."""
        with anyio.move_on_after(wait):
            return await ws.recv()
        return None

    async def _read(self, ws: ClientConnection) -> AsyncIterator[OrderEvent]:
        pending_acks = {sub["channel"] for sub in self.subscriptions}
        settings = self._settings
        while True:
            raw = await self._recv(ws, settings.ping_interval)
            if raw is None:
                await ws.send("ping")
                raw = await self._recv(ws, settings.pong_timeout)
                if raw is None:
                    raise _Reconnect("heartbeat timeout (no pong)")
            received_at = self._broker_now()
            try:
                message = _decode(raw)
            except BrokerProtocolError as exc:  # one garbage frame: report it, the stream goes on
                self._bad_items.report("stream frame", raw, exc, may_hold_fill=True)
                continue
            if message is None:  # "pong"
                self._seen(received_at)
                continue
            event = message.get("event")
            if event is not None:
                if event == "subscribe":
                    arg = message.get("arg")
                    pending_acks.discard(arg.get("channel") if isinstance(arg, Mapping) else None)
                    if not pending_acks and not self._healthy:
                        # Subscribed: from here on pushes cover us; the REST query covers the gap.
                        for fill in await self._catch_up_gap():
                            yield OrderFilled(fill)
                        self._healthy = True
                        self._seen(received_at)
                elif event == "error":
                    error = _as_error(message)
                    if isinstance(error, AuthenticationError) and error.code == "60011":
                        raise _Reconnect("not logged in")
                    raise error
                elif event == "notice" and str(message.get("code")) == _MAINTENANCE_NOTICE:
                    logger.warning("okx stream: maintenance notice (64008); reconnecting early")
                    raise _Reconnect("maintenance notice (64008)")
                continue
            events, lost_fill = self._handle_push(message)
            self._seen(received_at)
            for item in events:
                yield item
            if lost_fill:
                # The good items went out; the unreadable one (reported) may have been a fill:
                # reconnect, and the catch-up query brings it back.
                raise _Reconnect("unreadable fill push")

    def _seen(self, received_at: datetime) -> None:
        if self._healthy:
            self._seen_at = received_at

    async def _catch_up_gap(self) -> list[Fill]:
        """Fills from the gap since the last healthy connection (empty when there is no gap).

        A failed query reconnects (the gap stays open and is queried again) rather
        than carry on with fills possibly missing.
        """
        if self._gap_start is None:
            return []
        since = self._gap_start - timedelta(seconds=self._settings.catch_up_overlap)
        fills: list[Fill] = []
        if self._catch_up is not None:
            try:
                fills = await self._catch_up(since)
            except AutotraderError as exc:
                logger.error(
                    "okx stream: fills catch-up since %s failed (%s); reconnecting", since.isoformat(), exc
                )
                raise _Reconnect("catch-up failed") from exc
            logger.info("okx stream: catch-up since %s returned %d fill(s)", since.isoformat(), len(fills))
        self._gap_start = None
        return fills

    def _handle_push(self, message: Mapping[str, Any]) -> tuple[list[OrderEvent], bool]:
        """The events of one push, and whether an unreadable item in it may have been a fill.

        Each item is parsed on its own: one the adapter cannot read is reported
        (:mod:`autotrader_core.skipping`) and skipped, the others still count.
        """
        arg = message.get("arg")
        data = message.get("data")
        if not isinstance(arg, Mapping) or not isinstance(data, list):
            logger.debug("okx stream: ignoring frame without arg/data")
            return [], False
        channel = arg.get("channel")
        if channel == "orders":
            events: list[OrderEvent] = []
            lost_fill = False
            for item in data:
                try:
                    if not isinstance(item, Mapping):
                        raise BrokerProtocolError("orders push item is not an object", broker=BROKER)
                    events.extend(parse_order_push(item))
                except PARSE_ERRORS as exc:
                    fill = not isinstance(item, Mapping) or bool(item.get("tradeId"))
                    self._bad_items.report("order update", item, exc, may_hold_fill=fill)
                    lost_fill = lost_fill or fill
            return events, lost_fill
        if channel == "account":
            details = [
                detail
                for account in data
                if isinstance(account, Mapping) and isinstance(account.get("details"), list)
                for detail in account["details"]
            ]
            for balance in self._bad_items.parse_each(details, parse_balance_detail, what="balance"):
                self.balances[balance.asset] = balance
        elif channel == "positions":
            for item in data:
                if not isinstance(item, Mapping) or "instId" not in item:
                    continue
                parsed = parse_positions({"data": [item]}, bad_items=self._bad_items)
                if parsed:
                    self.positions[parsed[0].symbol] = parsed[0]
                else:
                    self.positions.pop(str(item["instId"]), None)
        return [], False


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    """JSON frame → dict (numbers as Decimal); ``None`` for the ``pong`` keep-alive."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text == "pong":
        return None
    try:
        message = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise BrokerProtocolError("okx stream frame is not JSON", payload=text[:500], broker=BROKER) from None
    if not isinstance(message, dict):
        raise BrokerProtocolError("okx stream frame is not a JSON object", payload=message, broker=BROKER)
    return message


def _as_error(message: Mapping[str, Any]) -> AutotraderError:
    return error_for_code(str(message.get("code", "")), str(message.get("msg", "")))
