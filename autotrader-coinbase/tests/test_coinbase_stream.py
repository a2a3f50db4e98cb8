"""User-channel stream against a loopback WebSocket server: JWT per subscribe, fills exactly once."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import anyio
import jwt
import pytest
from autotrader_coinbase import CoinbaseAdapter, CoinbaseSettings
from autotrader_core.errors import AuthenticationError
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from coinbase_payloads import API, KEY_NAME, fill_item, heartbeat, subscriptions, user_message, user_order
from coinbase_ws_server import scripted_server
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpx import HTTPXMock

pytestmark = pytest.mark.anyio

OID = "b3f5a1c2-0000-4000-8000-000000000001"
CID = "at1kz3m9qabc1"
FILLS_FOR_OID = f"{API}/orders/historical/fills?order_ids={OID}&limit=250"
FILLS_SINCE = re.compile(
    re.escape(f"{API}/orders/historical/fills?start_sequence_timestamp=") + r"[^&]+&limit=250$"
)


def _fill(trade_id: str, size: str, price: str, commission: str, time: str) -> dict[str, Any]:
    return fill_item(
        trade_id=trade_id,
        order_id=OID,
        entry_id=f"entry-{trade_id}",
        size=size,
        price=price,
        commission=commission,
        trade_time=time,
        side="BUY",
        liquidity_indicator="MAKER",
    )


T1 = _fill("t-1", "0.0004", "50000.00", "0.08", "2026-11-24T20:00:01.000Z")
T2 = _fill("t-2", "0.0006", "50010.00", "0.12", "2026-11-24T20:00:02.000Z")


def _open(**kw: Any) -> dict[str, Any]:
    values = {
        "order_id": OID,
        "client_order_id": CID,
        "status": "OPEN",
        "cumulative_quantity": "0",
        "leaves_quantity": "0.001",
        "number_of_fills": "0",
        "avg_price": "0",
        "total_fees": "0",
        "filled_value": "0",
        "completion_percentage": "0",
    }
    values.update(kw)
    return user_order(**values)


async def _collect(adapter: CoinbaseAdapter, count: int, limit: float = 5.0) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    with anyio.fail_after(limit):
        async with aclosing(adapter.stream_events()) as stream:  # type: ignore[type-var]
            async for event in stream:
                events.append(event)
                if len(events) == count:
                    break
    return events


def _fills(events: list[OrderEvent]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (e.fill.trade_id, e.fill.quantity, e.fill.price, e.fill.fee)
        for e in events
        if isinstance(e, OrderFilled)
    ]


async def test_subscribe_messages_carry_fresh_jwts_without_uri(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    script = [("expect", 2), ("send", subscriptions()), ("send", user_message(1, "snapshot", _open()))]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, product_ids=("BTC-USD",)))
        [accepted] = await _collect(adapter, 1)
        await adapter.disconnect()
    assert accepted == OrderAccepted(CID, OID, timestamp=accepted.timestamp)
    user, beats = server.received[0]
    assert (user["type"], user["channel"], user["product_ids"]) == ("subscribe", "user", ["BTC-USD"])
    assert (beats["type"], beats["channel"]) == ("subscribe", "heartbeats")
    headers = []
    for message in (user, beats):
        claims = jwt.decode(message["jwt"], ec_key.public_key(), algorithms=["ES256"])
        assert "uri" not in claims
        assert claims["sub"] == KEY_NAME
        assert claims["iss"] == "cdp"
        assert claims["exp"] - claims["nbf"] == 120
        headers.append(jwt.get_unverified_header(message["jwt"]))
    assert headers[0]["kid"] == KEY_NAME
    assert headers[0]["nonce"] != headers[1]["nonce"]


async def test_partial_fills_are_completed_from_rest_with_trade_ids_and_fees(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [T1], "cursor": ""})
    httpx_mock.add_response(
        url=FILLS_FOR_OID, json={"fills": [T2, T1], "cursor": ""}
    )  # newest first, as listed
    script = [
        ("expect", 2),
        ("send", subscriptions()),
        ("send", user_message(1, "snapshot", _open())),
        ("send", user_message(2, "update", _open(cumulative_quantity="0.0004", number_of_fills="1"))),
        ("send", heartbeat(3, 1)),
        (
            "send",
            user_message(
                4,
                "update",
                _open(status="FILLED", cumulative_quantity="0.001", number_of_fills="2", leaves_quantity="0"),
            ),
        ),
    ]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        events = await _collect(adapter, 3)
        await adapter.disconnect()
    assert isinstance(events[0], OrderAccepted)
    assert _fills(events) == [
        ("t-1", Decimal("0.0004"), Decimal("50000.00"), Decimal("0.08")),
        ("t-2", Decimal("0.0006"), Decimal("50010.00"), Decimal("0.12")),
    ]
    fill = events[1].fill  # type: ignore[union-attr]
    assert (fill.client_order_id, fill.fee_currency, fill.broker_order_id) == (CID, "USD", OID)


async def test_stream_drop_mid_fill_reconnects_catches_up_and_emits_each_fill_once(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # Connection 1 sees the first partial fill, then drops. While we are away the order fills.
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [T1], "cursor": ""})
    # Catch-up after the reconnect: fills since shortly before the drop (both trades; t-1 is a repeat).
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [T2, T1], "cursor": ""})
    filled_order = {
        "orders": [
            {
                **_order_object(),
                "status": "FILLED",
                "filled_size": "0.001",
                "number_of_fills": "2",
                "average_filled_price": "50006",
            }
        ],
        "has_next": False,
        "cursor": "",
        "sequence": "0",
    }
    httpx_mock.add_response(url=f"{API}/orders/historical/batch?order_ids={OID}", json=filled_order)
    first = [
        ("expect", 2),
        ("send", subscriptions()),
        ("send", user_message(1, "snapshot", _open())),
        ("send", user_message(2, "update", _open(cumulative_quantity="0.0004", number_of_fills="1"))),
        ("sleep", 0.1),
        ("drop",),
    ]
    second = [
        ("expect", 2),
        ("send", subscriptions()),
        # The snapshot lists open orders only: the filled order is absent, catch-up found it.
        ("send", user_message(1, "snapshot")),
        ("send", heartbeat(2, 1)),
        (
            "send",
            user_message(
                3, "update", _open(status="FILLED", cumulative_quantity="0.001", number_of_fills="2")
            ),
        ),
    ]
    async with scripted_server([first, second]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        events = await _collect(adapter, 3)
        # Nothing more arrives: the FILLED update after catch-up adds no duplicate.
        with pytest.raises(TimeoutError):
            await _collect(adapter, 1, limit=0.5)
        await adapter.disconnect()
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderFilled", "OrderFilled"]
    assert [t[0] for t in _fills(events)] == ["t-1", "t-2"]
    assert len(server.received) >= 2
    tokens = [m["jwt"] for conn in server.received[:2] for m in conn]
    assert len(set(tokens)) == 4  # a fresh JWT per subscribe, also after the reconnect
    for token in tokens:
        jwt.decode(token, ec_key.public_key(), algorithms=["ES256"])


def _order_object() -> dict[str, Any]:
    from coinbase_payloads import load

    order = dict(load("get_order_limit_gtc")["order"])
    order.update(order_id=OID, client_order_id=CID, filled_size="0", number_of_fills="0")
    return order


async def test_fills_lagging_the_stream_are_fetched_again_on_heartbeat(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [], "cursor": ""})  # not visible yet
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [T2, T1], "cursor": ""})
    script = [
        ("expect", 2),
        ("send", subscriptions()),
        (
            "send",
            user_message(
                1, "update", _open(status="FILLED", cumulative_quantity="0.001", number_of_fills="2")
            ),
        ),
        ("sleep", 0.1),
        ("send", heartbeat(2, 1)),
    ]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, fill_retry_interval=0.05))
        events = await _collect(adapter, 2)
        await adapter.disconnect()
    assert [t[0] for t in _fills(events)] == ["t-1", "t-2"]


async def test_cancel_on_the_stream_becomes_order_canceled(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    script = [
        ("expect", 2),
        ("send", subscriptions()),
        ("send", user_message(1, "snapshot", _open())),
        ("send", user_message(2, "update", _open(status="CANCELLED", cancel_reason="User requested cancel"))),
    ]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        accepted, canceled = await _collect(adapter, 2)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(canceled, OrderCanceled)
    assert canceled.reason == "User requested cancel"


async def test_silence_beyond_heartbeat_timeout_reconnects(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    # After the reconnect the adapter re-reads fills from shortly before the silence.
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [], "cursor": ""})
    silent = [("expect", 2), ("send", subscriptions())]  # then nothing: no heartbeats
    alive = [("expect", 2), ("send", subscriptions()), ("send", user_message(1, "snapshot", _open()))]
    async with scripted_server([silent, alive]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, heartbeat_timeout=0.2))
        [accepted] = await _collect(adapter, 1)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    assert len(server.received) == 2


async def test_unanswered_subscribe_is_replaced_after_the_heartbeat_timeout(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    unanswered = [("expect", 2)]  # the subscribes arrive; Coinbase never answers
    alive = [("expect", 2), ("send", subscriptions()), ("send", user_message(1, "snapshot", _open()))]
    async with scripted_server([unanswered, alive]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, heartbeat_timeout=0.2))
        [accepted] = await _collect(adapter, 1, limit=2.0)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    assert len(server.received) == 2  # no catch-up: the first connection never subscribed


async def test_repeated_auth_failures_raise_authentication_error(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings], ec_pem: str
) -> None:
    refuse = [("expect", 2), ("send", {"type": "error", "message": "authentication failure"})]
    async with scripted_server([refuse, refuse, refuse]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        with pytest.raises(AuthenticationError) as info:
            await _collect(adapter, 1)
        await adapter.disconnect()
    assert len(server.received) == 3  # three fresh tokens tried
    assert ec_pem.splitlines()[1] not in str(info.value)


async def test_catch_up_failure_does_not_kill_the_stream(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    """A 5xx during catch-up is retried on the next message; nothing is lost, the stream lives."""
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [T1], "cursor": ""})
    httpx_mock.add_response(url=FILLS_SINCE, status_code=503, text="")
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [T2, T1], "cursor": ""})
    filled = {
        "orders": [{**_order_object(), "status": "FILLED", "filled_size": "0.001", "number_of_fills": "2"}],
        "has_next": False,
    }
    httpx_mock.add_response(url=f"{API}/orders/historical/batch?order_ids={OID}", json=filled)
    first = [
        ("expect", 2),
        ("send", subscriptions()),
        ("send", user_message(1, "update", _open(cumulative_quantity="0.0004", number_of_fills="1"))),
        ("sleep", 0.05),
        ("drop",),
    ]
    second = [("expect", 2), ("send", subscriptions()), ("send", heartbeat(1, 1)), ("send", heartbeat(2, 2))]
    async with scripted_server([first, second]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        events = await _collect(adapter, 3)
        await adapter.disconnect()
    assert [t[0] for t in _fills(events)] == ["t-1", "t-2"]


async def test_sequence_gap_triggers_a_catch_up(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    """Message 2 never arrives: the fill it would have announced is found by the catch-up."""
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [T1], "cursor": ""})
    httpx_mock.add_response(url=FILLS_FOR_OID, json={"fills": [T1], "cursor": ""}, is_optional=True)
    open_order = {**_order_object(), "filled_size": "0.0004", "number_of_fills": "1"}
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_ids={OID}", json={"orders": [open_order], "has_next": False}
    )
    script = [
        ("expect", 2),
        ("send", subscriptions(0)),
        ("send", user_message(1, "snapshot", _open())),
        ("send", heartbeat(3, 1)),  # sequence 2 is missing
    ]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        events = await _collect(adapter, 2)
        await adapter.disconnect()
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderFilled"]
    assert _fills(events)[0][0] == "t-1"


async def test_disconnect_ends_the_stream_promptly(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    script = [("expect", 2), ("send", subscriptions()), ("send", user_message(1, "snapshot", _open()))]
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url, heartbeat_timeout=30))
        events: list[OrderEvent] = []
        ended = anyio.Event()

        async def consume() -> None:
            async for event in adapter.stream_events():
                events.append(event)
            ended.set()

        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            with anyio.fail_after(3):
                while not events:
                    await anyio.sleep(0.01)
            await adapter.disconnect()
            with anyio.fail_after(1):  # not the 30 s heartbeat timeout
                await ended.wait()
    assert isinstance(events[0], OrderAccepted)


async def test_unreadable_frames_are_skipped_and_trigger_a_catch_up(
    httpx_mock: HTTPXMock, make_settings: Callable[..., CoinbaseSettings]
) -> None:
    httpx_mock.add_response(url=FILLS_SINCE, json={"fills": [], "cursor": ""})
    bad = user_message(2, "update", _open(status="SOMETHING_NEW"))
    script = [
        ("expect", 2),
        ("send", subscriptions()),
        ("send", user_message(1, "snapshot", _open())),
        ("send", "this is not json"),
        ("send", bad),
        ("send", user_message(3, "update", _open(status="CANCELLED", cancel_reason="User requested cancel"))),
    ]
    open_order = _order_object()
    httpx_mock.add_response(
        url=f"{API}/orders/historical/batch?order_ids={OID}", json={"orders": [open_order], "has_next": False}
    )
    async with scripted_server([script]) as server:
        adapter = CoinbaseAdapter(make_settings(ws_url=server.url))
        accepted, canceled = await _collect(adapter, 2)
        await adapter.disconnect()
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(canceled, OrderCanceled)
    assert len(server.received) == 1  # no reconnect for a bad frame
