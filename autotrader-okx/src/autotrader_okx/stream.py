"""OKX private WebSocket (``/ws/v5/private``) on the core's reconnecting stream.

Protocol (protocols.md §2.5), as hooks of :class:`~autotrader_core.streaming.ReconnectingStream`:

1. log-in step: send ``{"op": "login", ...}`` signed over ``ts + "GET" + "/users/self/verify"``
   (``ts`` in Unix seconds from the broker-clock estimate); wait for
   ``{"event": "login", "code": "0"}``. ``60009``/bad key → :class:`AuthenticationError`
   raised to the consumer (retrying bad credentials only burns the login limit);
   ``60006`` (timestamp expired) resyncs the clock and reconnects;
2. subscribe step: ``orders`` (``instType``), ``account`` and ``positions``; the step
   waits for every acknowledgement (a refusal is raised to the consumer);
3. OKX closes a connection silent for 30 s: after ``ping_interval`` s without a
   frame the stream sends the text ``ping`` and expects a frame (``pong``) within
   ``pong_timeout`` s, else the connection is treated as dead
   (:class:`~autotrader_core.streaming.Heartbeat`);
4. on any drop (or the ``64008`` maintenance notice, ``60011`` "please log in", or an
   unreadable push that may have been a fill) the stream reconnects with backoff, logs in
   and subscribes again, and once every subscription is acknowledged the catch-up hook
   queries ``/trade/fills`` from ``catch_up_overlap`` seconds before the last frame handled
   on the last healthy connection (broker clock), so a fill that happened in the gap is
   never lost. If that query fails the stream reconnects and asks again: the gap stays
   open until a query covered it. Duplicates are harmless (the OMS is idempotent on trade id).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.clock import ClockOffset
from autotrader_core.errors import AuthenticationError, AutotraderError, BrokerProtocolError
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.models import Balance, Fill, Position
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.skipping import PARSE_ERRORS, BadItemLog
from autotrader_core.streaming import Carrier, Gap, Heartbeat, Reconnect, ReconnectingStream, StreamLost
from autotrader_core.streaming.websocket import WebSocketCarrier

from autotrader_okx.auth import ws_login_message
from autotrader_okx.errors import BROKER, CLOCK_SKEW_CODES, error_for_code
from autotrader_okx.parsing import parse_balance_detail, parse_order_push, parse_positions
from autotrader_okx.settings import OkxSettings

__all__ = ["CatchUp", "OkxPrivateStream"]

logger = logging.getLogger(__name__)

CatchUp = Callable[[datetime | None], Awaitable[list[Fill]]]
"""Fills since a moment (``None``: the default window), queried after a reconnect."""

Frame = str | bytes

_LOGIN_TIMEOUT = 10.0
_MAINTENANCE_NOTICE = "64008"
_NOT_LOGGED_IN = "60011"
_KIT_PONG_TIMEOUT = "heartbeat timeout (no answer to ping"
_PONG_TIMEOUT = "heartbeat timeout (no pong)"


class OkxPrivateStream:
    """One private-stream consumer: :meth:`events` yields core events until :meth:`close`.

    Args:
        settings: URL, credentials, heartbeat and backoff settings.
        clock: Broker-clock estimate (login timestamps must be within 30 s of OKX's clock;
            the catch-up window is measured on it too).
        catch_up: Called after each reconnect with the moment to query fills from.
        resync_clock: Called when OKX says the login timestamp expired (``60006``), before
            the next attempt (the adapter passes its ``/api/v5/public/time`` sync).
        on_reconnect: Called once per reconnect, when the new connection is logged in and
            subscribed, with what ended the previous one (never on the first connection).
        bad_items: Where unreadable payload items are reported (rule 11).
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
        self._clock = clock if clock is not None else ClockOffset()
        self._catch_up = catch_up
        self._resync_clock = resync_clock
        self._subscribe_id = 0
        self._logins = 0
        self._early_loss: str | None = None
        """Why a logged-in connection ended before the first one was subscribed (reported once)."""
        self._on_reconnect = on_reconnect
        self.balances: dict[str, Balance] = {}
        """Latest balances pushed on the ``account`` channel, by currency."""
        self.positions: dict[str, Position] = {}
        """Latest non-flat positions pushed on the ``positions`` channel, by instrument."""
        self._stream: ReconnectingStream[Frame, OrderEvent] = ReconnectingStream(
            self._connect,
            self._decode,
            name="okx-private",
            log_in=self._log_in,
            subscribe=self._subscribe,
            catch_up=self._catch_up_gap,
            catch_up_first=True,  # only to report a logged-in first connection lost before its acks
            heartbeat=Heartbeat(
                silence=settings.ping_interval, ping="ping", pong_timeout=settings.pong_timeout
            ),
            # the log-in has 10 s; the acks then come within a heartbeat's patience
            handshake_timeout=_LOGIN_TIMEOUT + settings.ping_interval + settings.pong_timeout,
            policy=RetryPolicy(
                max_attempts=1,
                base_delay=settings.reconnect_initial_delay,
                max_delay=settings.reconnect_max_delay,
                jitter=0.5,  # many clients must not reconnect in step
            ),
            telemetry=_ReconnectReport(on_reconnect),
            wall_clock=self._broker_seconds,  # the catch-up asks OKX for fills by OKX's clock
        )

    @property
    def subscriptions(self) -> list[dict[str, str]]:
        """The channels subscribed on every connection."""
        return [
            {"channel": "orders", "instType": self._settings.inst_type},
            {"channel": "account"},
            {"channel": "positions", "instType": "ANY"},
        ]

    @property
    def connections(self) -> int:
        """Connections logged in and subscribed so far (1 + reconnects)."""
        return self._stream.connections

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._stream.closed

    async def close(self) -> None:
        """Stop the stream: the running :meth:`events` iterator ends."""
        await self._stream.aclose()

    def events(self) -> AsyncIterator[OrderEvent]:
        """Core events as they arrive, across reconnects, until :meth:`close`.

        Raises:
            AuthenticationError: OKX refused the login (wrong key, passphrase or environment).
            BrokerError: OKX refused a subscription (an ``error`` event after login).
            ConfigurationError: the URL is invalid.
        """
        return self._stream.events()

    # -- hooks of the reconnecting stream ----------------------------------------------
    def _connect(self) -> Carrier[Frame]:
        return _OkxCarrier(
            self._reconnect,
            self._settings.private_ws_url,
            ping_interval=None,  # OKX's keep-alive is the text "ping" (the Heartbeat)
            open_timeout=self._settings.request_timeout,
            broker=BROKER,
        )

    async def _log_in(self, carrier: Carrier[Frame]) -> None:
        settings = self._settings
        timestamp = str(self._clock.now_ms() // 1000)
        login = ws_login_message(
            api_key=settings.api_key.get_secret_value(),
            secret=settings.api_secret.get_secret_value(),
            passphrase=settings.passphrase.get_secret_value(),
            timestamp=timestamp,
        )
        await carrier.send(json.dumps(login))
        with anyio.fail_after(_LOGIN_TIMEOUT):  # TimeoutError: the stream reconnects
            while True:
                message = _decode(await carrier.recv())
                if message is None:
                    continue
                event = message.get("event")
                if event == "login" and str(message.get("code", "0")) == "0":
                    self._logins += 1
                    return
                if event in ("login", "error"):
                    error = _as_error(message)
                    if isinstance(error, AuthenticationError) and error.code in CLOCK_SKEW_CODES:
                        logger.warning(
                            "okx stream: login timestamp expired; resyncing the clock, reconnecting"
                        )
                        await self._resync()
                        raise Reconnect("login timestamp expired")
                    raise error

    async def _subscribe(self, carrier: Carrier[Frame]) -> list[Frame]:
        """Subscribe and wait for every channel's ack; pushes that come first are kept for after."""
        self._subscribe_id += 1
        subscriptions = self.subscriptions
        await carrier.send(
            json.dumps({"id": str(self._subscribe_id), "op": "subscribe", "args": subscriptions})
        )
        pending = {sub["channel"] for sub in subscriptions}
        early: list[Frame] = []
        while pending:
            raw = await carrier.recv()
            try:
                message = _decode(raw)
            except BrokerProtocolError:
                early.append(raw)  # reported by the decoder, after the catch-up
                continue
            if message is None:
                continue
            if message.get("event") == "subscribe":
                arg = message.get("arg")
                pending.discard(arg.get("channel") if isinstance(arg, Mapping) else None)
            elif message.get("event") is not None:
                self._on_event(message)
            else:
                early.append(raw)
        return early

    async def _catch_up_gap(self, gap: Gap) -> list[OrderEvent]:
        """Fills from the gap since the last healthy connection, as ``OrderFilled`` events.

        A failed query reconnects (the gap stays open and is queried again) rather
        than carry on with fills possibly missing.
        """
        if gap.since is None:
            self._report_early_loss()
            return []
        if self._catch_up is None:
            return []
        since = datetime.fromtimestamp(gap.since, tz=UTC) - timedelta(seconds=self._settings.catch_up_overlap)
        try:
            fills = await self._catch_up(since)
        except AutotraderError as exc:
            logger.error(
                "okx stream: fills catch-up since %s failed (%s); reconnecting", since.isoformat(), exc
            )
            raise Reconnect("catch-up failed") from exc
        logger.info("okx stream: catch-up since %s returned %d fill(s)", since.isoformat(), len(fills))
        return [OrderFilled(fill) for fill in fills]

    def _decode(self, raw: Frame) -> Iterable[OrderEvent]:
        try:
            message = _decode(raw)
        except BrokerProtocolError as exc:  # one garbage frame: report it, the stream goes on
            self._bad_items.report("stream frame", raw, exc, may_hold_fill=True)
            return []
        if message is None:  # "pong"
            return []
        if message.get("event") is not None:
            self._on_event(message)
            return []
        events, lost_fill = self._handle_push(message)
        if lost_fill:
            # The good items go out first; the unreadable one (reported) may have been a fill:
            # reconnect, and the catch-up query brings it back.
            return _then_reconnect(events, "unreadable fill push")
        return events

    def _on_event(self, message: Mapping[str, Any]) -> None:
        """An ``event`` frame outside the log-in: errors end or renew the connection."""
        event = message.get("event")
        if event == "error":
            error = _as_error(message)
            if isinstance(error, AuthenticationError) and error.code == _NOT_LOGGED_IN:
                raise self._reconnect("not logged in")
            raise error
        if event == "notice" and str(message.get("code")) == _MAINTENANCE_NOTICE:
            logger.warning("okx stream: maintenance notice (64008); reconnecting early")
            raise self._reconnect("maintenance notice (64008)")

    def _reconnect(self, reason: str) -> Reconnect:
        """``Reconnect(reason)``, remembering the reason if no connection was subscribed yet."""
        if self._logins and not self._stream.connections and self._early_loss is None:
            self._early_loss = reason  # the first reason wins, as the stream's own
        return Reconnect(reason)

    def _report_early_loss(self) -> None:
        """Report a reconnect for a first connection that logged in but was lost before its acks.

        The reconnecting stream counts a connection once it is subscribed; OKX's telemetry
        always counted one from its log-in, and still does.
        """
        if self._logins > 1 and self._on_reconnect is not None:
            self._on_reconnect(self._early_loss or "connection lost")
        self._early_loss = None

    async def _resync(self) -> None:
        if self._resync_clock is None:
            return
        try:
            await self._resync_clock()
        except AutotraderError as exc:
            logger.error("okx stream: clock resync failed: %s", exc)

    def _broker_seconds(self) -> float:
        return self._clock.now_ms() / 1000

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


def _then_reconnect(events: list[OrderEvent], reason: str) -> Iterator[OrderEvent]:
    """Hand over ``events``, then replace the connection."""
    yield from events
    raise Reconnect(reason)


class _ReconnectReport(AdapterTelemetry):
    """Forwards the stream's reconnect reports to the adapter's callback."""

    def __init__(self, on_reconnect: Callable[[str], None] | None) -> None:
        self._on_reconnect = on_reconnect

    def reconnected(self, reason: str) -> None:
        """A new connection is logged in and subscribed after ``reason`` ended the last one."""
        if reason.startswith(_KIT_PONG_TIMEOUT):
            reason = _PONG_TIMEOUT  # the label OKX's telemetry always used (README, dashboards)
        if self._on_reconnect is not None:
            self._on_reconnect(reason)  # AdapterTelemetry's contract: returns quickly, never raises


class _OkxCarrier(WebSocketCarrier):
    """The core's WebSocket carrier, reporting a lost connection by the websockets error's name.

    ``connection lost: ConnectionClosedOK`` is the reason label OKX's reconnects always had
    in telemetry (metrics and alerts key on it).
    """

    def __init__(self, reconnect: Callable[[str], Reconnect], url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._reconnect = reconnect

    async def recv(self) -> Frame:
        """The next message."""
        try:
            return await super().recv()
        except StreamLost as exc:
            raise self._reconnect(_lost_reason(exc)) from exc

    async def send(self, frame: Frame) -> None:
        """Send one message."""
        try:
            await super().send(frame)
        except StreamLost as exc:
            raise self._reconnect(_lost_reason(exc)) from exc


def _lost_reason(exc: StreamLost) -> str:
    cause = exc.__context__  # the websockets exception (suppressed, not dropped, by the carrier)
    return f"connection lost: {type(cause if cause is not None else exc).__name__}"
