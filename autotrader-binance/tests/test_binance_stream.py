"""The private stream over a loopback WebSocket API stand-in: auth, events, reconnects, catch-up."""

from __future__ import annotations

import base64
import copy
from decimal import Decimal
from typing import Any

import anyio
import pytest
from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_binance.auth import HmacSigner, ws_signature_payload
from autotrader_binance.stream import StreamConfig
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import AuthenticationError, BrokerProtocolError
from autotrader_core.events import OrderAccepted, OrderEvent, OrderFilled
from binance_support import DOC_API_KEY, DOC_SECRET, FakeWsApi, raw_payload
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio
BASE = "https://testnet.binance.vision"
FAST = StreamConfig(backoff_initial=0.01, backoff_max=0.05, reply_timeout=2.0)

SUBSCRIBED = raw_payload("ws_subscribe_response.json")
LOGGED_ON = raw_payload("ws_session_logon_response.json")
NEW = raw_payload("ws_execution_report_new.json")
TRADE = raw_payload("ws_execution_report_trade.json")


def trade(trade_id: int, qty: str, cumulative: str, status: str) -> dict[str, Any]:
    """The documented partial-fill executionReport, with this fill's id and quantities."""
    frame: dict[str, Any] = copy.deepcopy(TRADE)
    frame["event"].update(t=trade_id, l=qty, z=cumulative, X=status)
    return frame


def order_new() -> dict[str, Any]:
    """The documented NEW report for the same order as the TRADE fixture."""
    frame: dict[str, Any] = copy.deepcopy(NEW)
    frame["event"].update(
        s="ETHUSDT", c="O-12345-test-trade", i=1234567890, q="1.00000000", p="2500.00000000"
    )
    return frame


def adapter_for(url: str, **overrides: Any) -> BinanceAdapter:
    values: dict[str, Any] = {"api_key": DOC_API_KEY, "api_secret": DOC_SECRET, "ws_url": url}
    values.update(overrides)
    return BinanceAdapter(BinanceSettings(_env_file=None, **values), stream_config=FAST)  # type: ignore[call-arg]


async def collect(adapter: BinanceAdapter, count: int) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    with anyio.fail_after(5.0):
        async for event in adapter.stream_events():
            events.append(event)
            if len(events) == count:
                break
    return events


async def test_hmac_key_subscribes_by_signature_and_parses_events() -> None:
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"push": raw_payload("ws_outbound_account_position.json")},
        {"push": raw_payload("ws_balance_update.json")},
        {"push": TRADE},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        accepted, filled = await collect(adapter, 2)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(filled, OrderFilled)
    assert filled.fill.quantity == Decimal("0.50000000")
    assert adapter.balances["ETH"].total == Decimal("10000.000000")
    (request,) = server.requests[0]
    params = request["params"]
    assert params["apiKey"] == DOC_API_KEY
    assert set(params) == {"apiKey", "timestamp", "recvWindow", "signature"}
    assert params["signature"] == HmacSigner(DOC_SECRET).sign(ws_signature_payload(params))


async def test_ed25519_key_logs_on_then_subscribes() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    script = [
        {"expect": "session.logon", "reply": LOGGED_ON},
        {"expect": "userDataStream.subscribe", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url, api_secret=None, private_key=pem)
        (accepted,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    logon, subscribe = server.requests[0]
    assert "params" not in subscribe
    signature = base64.b64decode(logon["params"]["signature"])
    key.public_key().verify(signature, ws_signature_payload(logon["params"]).encode())


async def test_drop_mid_fill_catches_up_the_gap(httpx_mock: HTTPXMock) -> None:
    """First fill streamed, connection drops, second fill happens in the gap: catch-up finds it."""
    trades = [
        {
            "symbol": "ETHUSDT",
            "id": trade_id,
            "orderId": 1234567890,
            "orderListId": -1,
            "price": "2499.50000000",
            "qty": "0.50000000",
            "quoteQty": "1249.75000000",
            "commission": "0.00050000",
            "commissionAsset": "ETH",
            "time": 1759347763167,
            "isBuyer": True,
            "isMaker": True,
            "isBestMatch": True,
        }
        for trade_id in (98765432, 98765433)
    ]  # shape of the documented myTrades row (protocols.md §1.3)
    order_row = dict(
        raw_payload("query_order.json"),
        symbol="ETHUSDT",
        orderId=1234567890,
        clientOrderId="O-12345-test-trade",
        status="FILLED",
        origQty="1.00000000",
        executedQty="1.00000000",
    )
    httpx_mock.add_response(method="GET", json=trades)
    httpx_mock.add_response(method="GET", json=order_row)
    first = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"push": trade(98765432, "0.50000000", "0.50000000", "PARTIALLY_FILLED")},
        {"drop": True},
    ]
    second = [{"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED}, {"hold": True}]
    reconnects: list[str] = []

    class Telemetry(AdapterTelemetry):
        def reconnected(self, reason: str) -> None:
            reconnects.append(reason)

    async with FakeWsApi([first, second]) as server:
        adapter = adapter_for(server.url)
        adapter.telemetry = Telemetry()
        events = await collect(adapter, 4)
        await adapter.disconnect()
    fills = [e.fill for e in events if isinstance(e, OrderFilled)]
    assert {f.trade_id for f in fills} == {"98765432", "98765433"}  # the gap fill is not lost
    # Reported once (never for the first connect), naming what broke the connection: the
    # reconnecting stream's reason (it was one fixed "user data stream reconnected" before).
    assert reconnects == ["connection lost: websocket closed (no close frame)"]
    assert len(server.requests) == 2
    paths = [r.url.path for r in httpx_mock.get_requests()]
    assert paths == ["/api/v3/myTrades", "/api/v3/order"]


class _Reasons(AdapterTelemetry):
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def reconnected(self, reason: str) -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize(
    ("notice", "reason"),
    [
        ("ws_server_shutdown.json", "binance announced a server shutdown"),
        ("ws_event_stream_terminated.json", "binance terminated the event stream"),
    ],
    ids=["server_shutdown", "stream_terminated"],
)
async def test_a_notice_reconnects_at_once_and_reports_why(notice: str, reason: str) -> None:
    first = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": raw_payload(notice)},
        {"hold": True},
    ]
    second = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([first, second]) as server:
        # A backoff of a minute: only a planned renewal (no wait) gets the event within 5 s.
        adapter = BinanceAdapter(
            BinanceSettings(  # type: ignore[call-arg]
                _env_file=None,
                api_key=SecretStr(DOC_API_KEY),
                api_secret=SecretStr(DOC_SECRET),
                ws_url=server.url,
            ),
            stream_config=StreamConfig(backoff_initial=60.0, backoff_max=60.0),
        )
        telemetry = _Reasons()
        adapter.telemetry = telemetry
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    assert telemetry.reasons == [reason]


async def test_a_failed_clock_resync_retries_instead_of_ending_the_stream(httpx_mock: HTTPXMock) -> None:
    """-1021, then /api/v3/time is down: the stream keeps trying (and resyncs) instead of dying."""
    skew: dict[str, Any] = {
        "status": 400,
        "error": {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
    }
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", status_code=503, text="down")
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    first: list[dict[str, Any]] = [
        {"expect": "userDataStream.subscribe.signature", "reply": skew},
        {"hold": True},
    ]
    second: list[dict[str, Any]] = [
        {"expect": "userDataStream.subscribe.signature", "reply": skew},
        {"hold": True},
    ]
    third = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([first, second, third]) as server:
        adapter = adapter_for(server.url)
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    stamp = server.requests[2][0]["params"]["timestamp"]
    assert abs(stamp - 1499827319559) < 60_000  # signed once the resync went through


@pytest.mark.parametrize(
    "notice",
    ["ws_server_shutdown.json", "ws_event_stream_terminated.json"],
    ids=["server_shutdown", "stream_terminated"],
)
async def test_a_shutdown_or_termination_notice_reconnects_and_resubscribes(notice: str) -> None:
    first = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": raw_payload(notice)},
        {"hold": True},
    ]
    second = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([first, second]) as server:
        adapter = adapter_for(server.url)
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    assert len(server.requests) == 2


async def test_connection_renewed_before_the_24h_limit() -> None:
    first = [{"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED}, {"hold": True}]
    second = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([first, second]) as server:
        settings = BinanceSettings(  # type: ignore[call-arg]
            _env_file=None,
            api_key=SecretStr(DOC_API_KEY),
            api_secret=SecretStr(DOC_SECRET),
            ws_url=server.url,
        )
        adapter = BinanceAdapter(settings, stream_config=StreamConfig(max_age=0.2, backoff_initial=0.01))
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    assert len(server.requests) == 2


async def test_invalid_key_stops_the_stream_with_auth_error() -> None:
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": raw_payload("ws_key_invalid.json")},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        with pytest.raises(AuthenticationError):
            await collect(adapter, 1)
        await adapter.disconnect()


def _skewed_then_subscribed() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two connections: the first subscribe is refused with -1021, the second subscribes and pushes an order."""
    skew: dict[str, Any] = {
        "status": 400,
        "error": {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
    }
    first: list[dict[str, Any]] = [
        {"expect": "userDataStream.subscribe.signature", "reply": skew},
        {"hold": True},
    ]
    second: list[dict[str, Any]] = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": order_new()},
        {"hold": True},
    ]
    return first, second


async def test_clock_skew_on_subscribe_resyncs_and_retries(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    first, second = _skewed_then_subscribed()
    async with FakeWsApi([first, second]) as server:
        adapter = adapter_for(server.url)
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    stamp = server.requests[1][0]["params"]["timestamp"]
    assert abs(stamp - 1499827319559) < 60_000  # signed with the resynced clock


async def test_clock_skew_on_subscribe_retries_with_the_fresh_offset_not_the_old_median(
    httpx_mock: HTTPXMock,
) -> None:
    # Issue 14 (6), on the stream: a resync that only added one sample to a full median window
    # left the offset where it was, so the next subscribe was refused again.
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    first, second = _skewed_then_subscribed()
    async with FakeWsApi([first, second]) as server:
        adapter = adapter_for(server.url)
        clock = adapter.http.clock
        for _ in range(5):  # a full window of samples at the old (zero) offset
            now = clock.local_ms()
            clock.update(now, now, now)
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    stamp = server.requests[1][0]["params"]["timestamp"]
    assert abs(stamp - 1499827319559) < 60_000  # signed with the fresh measurement


async def test_server_ping_is_answered_with_pong() -> None:
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"ping": True},
        {"push": order_new()},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        (event,) = await collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(event, OrderAccepted)
    assert server.pongs == 1


async def test_stream_logs_never_show_secrets(
    caplog: pytest.LogCaptureFixture, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v3/time", json=raw_payload("time.json"))
    first, second = _skewed_then_subscribed()
    caplog.set_level("DEBUG")
    async with FakeWsApi([first, second]) as server:
        adapter = adapter_for(server.url)
        await collect(adapter, 1)
        await adapter.disconnect()
    signatures = [r[0]["params"]["signature"] for r in server.requests if r]
    client_records = [r for r in caplog.records if not r.name.startswith("websockets.server")]
    assert any("reconnecting" in r.getMessage() for r in client_records)
    assert not [r for r in client_records if r.name.startswith("websockets")]  # frames not dumped
    for record in client_records:
        text = record.getMessage()
        assert DOC_SECRET not in text
        assert DOC_API_KEY not in text
        assert not any(signature in text for signature in signatures)


class _BadItems(AdapterTelemetry):
    def __init__(self) -> None:
        self.reported: list[tuple[str, bool]] = []

    def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
        self.reported.append((what, may_hold_fill))


async def test_a_garbage_frame_between_two_fills_is_reported_and_both_fills_arrive() -> None:
    """Rule 11: one frame off the format costs neither the connection nor the next fill."""
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": trade(101, "0.20000000", "0.20000000", "PARTIALLY_FILLED")},
        {"push_text": "{not json"},
        {"push": trade(102, "0.30000000", "0.50000000", "PARTIALLY_FILLED")},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        telemetry = _BadItems()
        adapter.telemetry = telemetry
        first, second = await collect(adapter, 2)
        await adapter.disconnect()
    assert isinstance(first, OrderFilled) and isinstance(second, OrderFilled)
    assert [first.fill.trade_id, second.fill.trade_id] == ["101", "102"]
    assert len(server.requests) == 1  # no reconnect: the connection went on
    assert telemetry.reported == [("stream frame", True)]
    (bad,) = adapter.bad_items
    assert bad.raw == "{not json"


async def test_zero_price_trade_report_is_no_fill_but_an_alert_and_the_order_update() -> None:
    """nautilus_trader #3578: live Binance sent TRADE with L "0.00000000"; never book a price-0 fill."""
    zero = trade(103, "0.20000000", "0.20000000", "PARTIALLY_FILLED")
    zero["event"]["L"] = "0.00000000"
    script = [
        {"expect": "userDataStream.subscribe.signature", "reply": SUBSCRIBED},
        {"push": zero},
        {"push": trade(104, "0.30000000", "0.50000000", "PARTIALLY_FILLED")},
        {"hold": True},
    ]
    async with FakeWsApi([script]) as server:
        adapter = adapter_for(server.url)
        telemetry = _BadItems()
        adapter.telemetry = telemetry
        update, fill = await collect(adapter, 2)
        await adapter.disconnect()
    assert isinstance(update, OrderAccepted)
    assert isinstance(fill, OrderFilled) and fill.fill.trade_id == "104"
    assert telemetry.reported == [("fill", True)]
