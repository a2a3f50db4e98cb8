"""The transaction stream over real chunked HTTP on 127.0.0.1 (REST catch-up through pytest-httpx)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import AuthenticationError, ConfigurationError
from autotrader_core.events import OrderAccepted, OrderEvent, OrderFilled
from autotrader_core.models import Order
from autotrader_oanda import OandaAdapter
from autotrader_oanda.http import OandaHttp
from autotrader_oanda.parsing import TransactionTranslator
from autotrader_oanda.stream import TransactionStream
from oanda_helpers import events_of, load, make_settings, replay, reply_of
from oanda_line_server import LineServer
from pytest_httpx import HTTPXMock

pytestmark = [
    pytest.mark.anyio,
    # The stream goes to the loopback server for real; only the REST host is mocked.
    pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1"),
]


@asynccontextmanager
async def streaming(
    name: str, httpx_mock: HTTPXMock, *, on_reconnect: Any = None, **settings: Any
) -> AsyncIterator[tuple[OandaAdapter, LineServer]]:
    recording = replay(httpx_mock, name)
    async with LineServer(recording["stream"]["connections"]) as server:
        values: dict[str, Any] = {"heartbeat_timeout": 2.0, "reconnect_initial_delay": 0.01}
        values.update(settings)
        adapter = OandaAdapter(make_settings(ws_url=server.url, **values), on_reconnect=on_reconnect)
        try:
            yield adapter, server
        finally:
            await adapter.disconnect()


async def take(
    adapter: OandaAdapter, count: int, *, linger: float = 0.0, within: float = 5.0
) -> list[OrderEvent]:
    """The first ``count`` events of the stream, plus any arriving ``linger`` seconds after."""
    events: list[OrderEvent] = []
    async with aclosing(events_of(adapter)) as stream:
        with anyio.fail_after(within):
            while len(events) < count:
                events.append(await anext(stream))
        with anyio.move_on_after(linger):
            async for event in stream:
                events.append(event)
    return events


def _fills(events: list[OrderEvent]) -> list[tuple[str, Decimal, Decimal]]:
    return [(e.fill.trade_id, e.fill.quantity, e.fill.price) for e in events if isinstance(e, OrderFilled)]


async def test_drop_mid_fill_reconnects_catches_up_and_reports_the_fill_once(httpx_mock: HTTPXMock) -> None:
    async with streaming("edge/stream-drop-mid-fill", httpx_mock) as (adapter, server):
        # Nothing more may come: the repeated ORDER_FILL on the new stream is skipped.
        events = await take(adapter, 2, linger=0.3)
        assert isinstance(events[0], OrderAccepted)
        assert events[0].broker_order_id == "6368"
        assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
        assert len(server.requests) >= 2
        stream = adapter.stream
        assert stream is not None
        assert stream.last_transaction_id == 6369
        request = server.requests[0]
        assert request["target"] == "/v3/accounts/101-004-1435156-001/transactions/stream"
        assert request["headers"]["Authorization"].startswith("Bearer ")
        assert request["headers"]["Accept-Datetime-Format"] == "RFC3339"


async def test_silent_stream_is_detected_and_replaced(httpx_mock: HTTPXMock) -> None:
    reasons: list[str] = []
    silent = streaming("edge/stream-silent", httpx_mock, heartbeat_timeout=0.3, on_reconnect=reasons.append)
    async with silent as (adapter, server):
        events = await take(adapter, 2)
        assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
        assert len(server.requests) == 2
        assert len(reasons) == 1
        assert "silent" in reasons[0]


async def test_heartbeat_ahead_of_us_triggers_a_catch_up(httpx_mock: HTTPXMock) -> None:
    async with streaming("edge/stream-heartbeat-gap", httpx_mock) as (adapter, server):
        events = await take(adapter, 2)
        assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
        assert len(server.requests) == 1  # no reconnect was needed


async def test_refused_token_stops_the_stream(httpx_mock: HTTPXMock) -> None:
    async with streaming("edge/stream-auth-failure", httpx_mock) as (adapter, server):
        with pytest.raises(AuthenticationError):
            await take(adapter, 1)
        assert len(server.requests) == 1


async def test_a_fill_reported_by_the_create_reply_is_not_repeated_by_the_stream(
    httpx_mock: HTTPXMock,
) -> None:
    """TC-ORD-01's market order: REST reports the fill; the stream's copy is skipped."""
    reply = reply_of("TC-ORD-01", "submit")
    replay(httpx_mock, "TC-ORD-01", skip_optional=True)
    summary = load("edge/stream-drop-mid-fill")["http"][0]
    httpx_mock.add_response(method="GET", url=summary["request"]["url"], json=summary["response"]["json"])
    base = summary["request"]["url"].removesuffix("/summary")
    httpx_mock.add_response(
        method="GET",
        url=f"{base}/transactions/sinceid?id=6367",
        json={"transactions": [], "lastTransactionID": "6367"},
    )
    later = dict(reply["orderCreateTransaction"], id="6370", clientExtensions={"id": "at0nxt7c1q2w3e1"})
    lines = [
        {"line": reply["orderCreateTransaction"]},
        {"line": reply["orderFillTransaction"]},
        {"line": later},
    ]
    async with LineServer([lines]) as server:
        adapter = OandaAdapter(make_settings(ws_url=server.url))
        try:
            await adapter.connect()
            order = Order("at0mkt7c1q2w3e1", "EUR_USD", OrderSide.BUY, OrderType.MARKET, Decimal(100))
            rest_events = await adapter.submit_order(order)
            assert _fills(rest_events) == [("6369", Decimal(100), Decimal("1.05412"))]
            (event,) = await take(adapter, 1, linger=0.2)
            assert event == OrderAccepted("at0nxt7c1q2w3e1", "6370", timestamp=event.timestamp)
        finally:
            await adapter.disconnect()


async def test_stream_connect_failure_backs_off_and_retries(httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/stream-heartbeat-gap")
    recording = load("edge/stream-heartbeat-gap")
    script = [[{"respond": {"status": 503, "text": "maintenance"}}], *recording["stream"]["connections"]]
    async with LineServer(script) as server:
        adapter = OandaAdapter(make_settings(ws_url=server.url, reconnect_initial_delay=0.01))
        try:
            events = await take(adapter, 2)
            assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
            assert len(server.requests) == 2
            assert adapter.stream is not None
            assert adapter.stream.reconnects == 1
        finally:
            await adapter.disconnect()


async def test_disconnect_ends_the_stream(httpx_mock: HTTPXMock) -> None:
    replay(httpx_mock, "edge/stream-heartbeat-gap")
    async with LineServer(load("edge/stream-heartbeat-gap")["stream"]["connections"]) as server:
        adapter = OandaAdapter(make_settings(ws_url=server.url))
        events: list[OrderEvent] = []
        two_events = anyio.Event()

        async def consume() -> None:
            async for event in adapter.stream_events():
                events.append(event)
                if len(events) == 2:
                    two_events.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                await two_events.wait()
                await adapter.disconnect()
        assert len(events) == 2


async def test_backoff_restarts_after_a_connection_that_worked(httpx_mock: HTTPXMock) -> None:
    """Two silent streams in a row: each had a heartbeat, so each reconnect waits the initial delay."""
    recording = load("edge/stream-silent")
    summary, empty, caught_up = recording["http"]
    httpx_mock.add_response(url=summary["request"]["url"], json=summary["response"]["json"])
    for catch_up in (empty, empty, caught_up):  # one catch-up per connection; the fill comes on the third
        httpx_mock.add_response(
            url=catch_up["request"]["url"] + "?id=6367", json=catch_up["response"]["json"]
        )
    connections = recording["stream"]["connections"]
    script = [connections[0], connections[0], connections[1]]
    async with LineServer(script) as server:
        settings = make_settings(ws_url=server.url, heartbeat_timeout=0.2, reconnect_initial_delay=0.01)
        delays: list[float | None] = []
        adapter = OandaAdapter(
            settings,
            on_reconnect=lambda _: delays.append(
                adapter.stream.last_reconnect_delay if adapter.stream else None
            ),
        )
        try:
            events = await take(adapter, 2)
            assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
            assert len(server.requests) == 3
            assert adapter.stream is not None
            assert adapter.stream.reconnects == 2
            # Without the reset the second wait would be 0.01-0.02 s (doubled).
            assert len(delays) == 2
            assert all(delay is not None and delay <= 0.01 for delay in delays)
        finally:
            await adapter.disconnect()


async def test_transactions_at_or_below_the_last_seen_id_are_skipped() -> None:
    """Even with a translator that never saw it (a new session), an old id is not delivered again."""
    settings = make_settings()
    stream = TransactionStream(
        settings, OandaHttp(settings), TransactionTranslator(), last_transaction_id=6369
    )
    fill = reply_of("TC-ORD-01", "submit")["orderFillTransaction"]  # transaction 6369
    assert await stream._handle_line(json.dumps(fill)) == []
    newer = dict(fill, id="6370")
    (event,) = await stream._handle_line(json.dumps(newer))
    assert isinstance(event, OrderFilled)
    assert stream.last_transaction_id == 6370


async def test_one_stream_per_adapter(httpx_mock: HTTPXMock) -> None:
    """OANDA allows 20 streams per IP: a second concurrent stream_events() is refused."""
    async with streaming("edge/stream-heartbeat-gap", httpx_mock) as (adapter, _server):
        async with aclosing(events_of(adapter)) as first:
            await anext(first)
            await anext(first)
            with pytest.raises(ConfigurationError, match="already running"):
                await anext(adapter.stream_events())
        assert adapter.stream is not None
        assert adapter.stream.closed  # closed with its consumer: a new stream_events() may start


async def test_a_garbage_line_is_reported_and_skipped_and_the_heartbeat_recovers_what_it_held(
    httpx_mock: HTTPXMock,
) -> None:
    """Rule 11: one unreadable line costs neither the connection nor a fill (no reconnect)."""
    recording = replay(httpx_mock, "edge/stream-heartbeat-gap")
    connections = recording["stream"]["connections"]
    # composed: a garbled line between the order's creation and the heartbeat that is ahead of us
    connections[0].insert(2, {"line": '{"id":"6369","type":"ORDER_FILL","units":"1'})
    async with LineServer(connections) as server:
        adapter = OandaAdapter(make_settings(ws_url=server.url, heartbeat_timeout=2.0))
        try:
            events = await take(adapter, 2)
            assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
            assert len(server.requests) == 1  # the connection went on
            [bad] = adapter.bad_items
            assert bad.what == "stream line" and bad.may_hold_fill
        finally:
            await adapter.disconnect()


async def test_a_transaction_off_the_format_is_reported_and_the_stream_goes_on(httpx_mock: HTTPXMock) -> None:
    recording = replay(httpx_mock, "edge/stream-heartbeat-gap")
    connections = recording["stream"]["connections"]
    # composed: the order's creation line replaced by an ORDER_FILL without units or price
    created = connections[0][1]["line"]
    broken = {k: created[k] for k in ("id", "accountID", "userID", "batchID", "time", "instrument")}
    broken.update(type="ORDER_FILL", orderID="6368", clientOrderID="at0lim7c1q2w3e1")
    connections[0][1] = {"line": broken}
    async with LineServer(connections) as server:
        adapter = OandaAdapter(make_settings(ws_url=server.url, heartbeat_timeout=2.0))
        try:
            events = await take(adapter, 1)
            assert _fills(events) == [("6369", Decimal(100), Decimal("1.20000"))]
            assert len(server.requests) == 1
            [bad] = adapter.bad_items
            assert bad.what == "ORDER_FILL transaction" and bad.may_hold_fill
        finally:
            await adapter.disconnect()
