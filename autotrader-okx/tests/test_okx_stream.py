"""The private stream against a scripted loopback server: login, heartbeat, reconnect, catch-up."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import okx_support as doc
import pytest
from autotrader_core.errors import AuthenticationError, BrokerError, BrokerUnavailable, ConfigurationError
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.models import Fill
from autotrader_okx import OkxSettings
from autotrader_okx.parsing import parse_fill
from autotrader_okx.stream import OkxPrivateStream
from okx_support import API_KEY, API_SECRET, PASSPHRASE, load_json
from okx_ws_server import Session, okx_ws_server

pytestmark = pytest.mark.anyio


def stream_settings(url: str, **changes: Any) -> OkxSettings:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "passphrase": PASSPHRASE,
        "ws_url": url,
        "reconnect_initial_delay": 0.01,
        "reconnect_max_delay": 0.05,
        "_env_file": None,
    }
    values.update(changes)
    return OkxSettings(**values)


def fill_push(trade_id: str, *, state: str = "partially_filled", fill_size: str = "0.001") -> dict[str, Any]:
    # derived from the documented orders push (protocols.md §2.5): trade id, state and size changed
    push: dict[str, Any] = copy.deepcopy(load_json(doc.ORDERS_PUSH_FILLED))
    push["data"][0].update(tradeId=trade_id, state=state, fillSz=fill_size, clOrdId="at1abc", sz="0.003")
    return push


async def collect(events: Any, count: int) -> list[OrderEvent]:
    found: list[OrderEvent] = []
    with anyio.fail_after(5):
        async for event in events:
            found.append(event)
            if len(found) == count:
                break
    return found


async def test_login_subscribe_and_fill() -> None:
    async def script(session: Session) -> None:
        await session.accept_login()
        args = await session.accept_subscribe()
        assert args == [
            {"channel": "orders", "instType": "SPOT"},
            {"channel": "account"},
            {"channel": "positions", "instType": "ANY"},
        ]
        await session.send(doc.ORDERS_PUSH_FILLED)
        await session.hold()

    async with okx_ws_server([script]) as (url, _sessions):
        stream = OkxPrivateStream(stream_settings(url))
        [event] = await collect(stream.events(), 1)
        await stream.close()
    assert isinstance(event, OrderFilled)
    assert event.fill.trade_id == "242589207"
    assert event.fill.quantity == Decimal("0.001")
    assert event.fill.fee == Decimal("0.02522168")


async def test_login_failure_raises_and_does_not_retry() -> None:
    async def refuse(session: Session) -> None:
        await session.recv()
        await session.send(doc.WS_LOGIN_FAILED)
        await session.hold()

    async with okx_ws_server([refuse, refuse]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        with pytest.raises(AuthenticationError) as caught, anyio.fail_after(5):
            async for _ in stream.events():
                pass
        assert len(sessions) == 1
    assert caught.value.code == "60009"
    assert API_SECRET not in str(caught.value)


async def test_silence_triggers_a_literal_ping_and_pong_keeps_the_connection() -> None:
    async def script(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        assert await session.recv() == "ping"
        await session.send("pong")
        await session.send(fill_push("1001"))
        await session.hold()

    async with okx_ws_server([script]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url, ping_interval=0.2, pong_timeout=1))
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 1
    assert isinstance(event, OrderFilled)


async def test_missing_pong_reconnects_and_logs_in_again() -> None:
    async def mute(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        assert await session.recv() == "ping"
        await session.hold()  # never answers

    async def healthy(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("1002"))
        await session.hold()

    async with okx_ws_server([mute, healthy]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url, ping_interval=0.1, pong_timeout=0.2))
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)
    assert stream.connections == 2


async def test_drop_mid_fill_reconnects_resubscribes_and_catches_up() -> None:
    catch_up_calls: list[datetime | None] = []
    gap_fill_item = load_json(doc.FILL_ITEM)
    gap_fill_item.update(tradeId="2002", clOrdId="at1abc")  # derived: a fill that happened while disconnected

    async def catch_up(since: datetime | None) -> list[Fill]:
        catch_up_calls.append(since)
        return [parse_fill(gap_fill_item)]

    async def first(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("2001"))
        await anyio.sleep(0.05)
        await session.ws.close()  # drop between two fills of the same order

    async def second(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("2003", state="filled"))
        await session.hold()

    async with okx_ws_server([first, second]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url), catch_up=catch_up)
        events = await collect(stream.events(), 3)
        await stream.close()
        assert len(sessions) == 2
        assert sessions[1].received[0]["op"] == "login"
        assert sessions[1].received[1]["op"] == "subscribe"
    trade_ids = [event.fill.trade_id for event in events if isinstance(event, OrderFilled)]
    assert trade_ids == ["2001", "2002", "2003"]  # catch-up before the new connection's pushes
    [since] = catch_up_calls
    assert since is not None


async def test_maintenance_notice_reconnects_early() -> None:
    async def notice(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(
            {
                "event": "notice",
                "code": "64008",
                "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
                "connId": "a4d3ae55",
            }
        )
        await session.hold()

    async def after(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("3001"))
        await session.hold()

    async with okx_ws_server([notice, after]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)


async def test_account_and_positions_pushes_update_snapshots() -> None:
    async def script(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        balance = load_json(doc.BALANCE)
        await session.send({"arg": {"channel": "account", "uid": "614488474791936"}, "data": balance["data"]})
        positions = load_json(doc.POSITIONS)
        await session.send(
            {
                "arg": {"channel": "positions", "instType": "ANY", "uid": "614488474791936"},
                "data": positions["data"],
            }
        )
        await session.send(fill_push("4001"))
        await session.hold()

    async with okx_ws_server([script]) as (url, _sessions):
        stream = OkxPrivateStream(stream_settings(url))
        await collect(stream.events(), 1)
        await stream.close()
    assert stream.balances["USDT"].available == Decimal("4834.317093622894")
    assert stream.positions["BTC-USDT"].quantity == Decimal("0.00190433573")


async def test_close_ends_the_iterator() -> None:
    async def script(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.hold()

    async with okx_ws_server([script]) as (url, _sessions):
        stream = OkxPrivateStream(stream_settings(url))
        received: list[OrderEvent] = []

        async def consume() -> None:
            async for event in stream.events():
                received.append(event)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                await anyio.sleep(0.2)
                await stream.close()
    assert received == []


async def test_unreadable_push_reconnects_and_the_catch_up_recovers_the_fill() -> None:
    recovered = load_json(doc.FILL_ITEM)
    recovered.update(tradeId="5001", clOrdId="at1abc")  # derived: the fill the broken push carried

    async def catch_up(since: datetime | None) -> list[Fill]:
        return [parse_fill(recovered)]

    async def broken(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        bad = fill_push("5001")
        del bad["data"][0]["fillPx"]  # breaks the documented format
        await session.send(bad)
        await session.hold()

    async def healthy(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.hold()

    async with okx_ws_server([broken, healthy]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url), catch_up=catch_up)
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)
    assert event.fill.trade_id == "5001"


async def test_failed_catch_up_reconnects_and_asks_again_from_the_same_moment() -> None:
    calls: list[datetime | None] = []
    gap_fill_item = load_json(doc.FILL_ITEM)
    gap_fill_item.update(tradeId="6002", clOrdId="at1abc")  # derived: a fill during the outage

    async def catch_up(since: datetime | None) -> list[Fill]:
        calls.append(since)
        if len(calls) == 1:
            raise BrokerUnavailable("HTTP 503", broker="okx")
        return [parse_fill(gap_fill_item)]

    async def first(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("6001"))
        await anyio.sleep(0.05)
        await session.ws.close()

    async def reconnected(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.hold()

    async with okx_ws_server([first, reconnected, reconnected]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url), catch_up=catch_up)
        events = await collect(stream.events(), 2)
        await stream.close()
        assert len(sessions) == 3
    assert [e.fill.trade_id for e in events if isinstance(e, OrderFilled)] == ["6001", "6002"]
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the gap stays open until a query covered it


async def test_drop_before_subscription_keeps_the_original_gap() -> None:
    calls: list[datetime | None] = []

    async def catch_up(since: datetime | None) -> list[Fill]:
        calls.append(since)
        return []

    async def first(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("7001"))
        await anyio.sleep(0.05)
        await session.ws.close()

    half_open_started: list[datetime] = []

    async def half_open(session: Session) -> None:
        half_open_started.append(datetime.now(UTC))
        await session.accept_login()
        await anyio.sleep(0.3)  # never acks the subscription
        await session.ws.close()

    async def healthy(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("7002"))
        await session.hold()

    async with okx_ws_server([first, half_open, healthy]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url), catch_up=catch_up)
        events = await collect(stream.events(), 2)
        await stream.close()
        assert len(sessions) == 3
    assert [e.fill.trade_id for e in events if isinstance(e, OrderFilled)] == ["7001", "7002"]
    [since] = calls
    assert since is not None
    # Anchored on the first connection's last frame, not on the half-open connection.
    assert since + timedelta(seconds=5) <= half_open_started[0]


async def test_expired_login_timestamp_resyncs_the_clock_and_retries() -> None:
    resyncs: list[int] = []

    async def resync() -> None:
        resyncs.append(1)

    async def expired(session: Session) -> None:
        await session.recv()
        await session.send(
            {"event": "error", "code": "60006", "msg": "Timestamp request expired", "connId": "a4d3ae55"}
        )
        await session.hold()

    async def healthy(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("8001"))
        await session.hold()

    async with okx_ws_server([expired, healthy]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url), resync_clock=resync)
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)
    assert resyncs == [1]


async def test_refused_subscription_is_raised() -> None:
    async def refuse(session: Session) -> None:
        await session.accept_login()
        subscribe = await session.recv()
        await session.send(
            {
                "id": subscribe["id"],
                "event": "error",
                "code": "60012",
                "msg": "Invalid request",
                "connId": "a4d3ae55",
            }
        )
        await session.hold()

    async with okx_ws_server([refuse]) as (url, _sessions):
        stream = OkxPrivateStream(stream_settings(url))
        with pytest.raises(BrokerError) as caught, anyio.fail_after(5):
            async for _ in stream.events():
                pass
    assert caught.value.code == "60012"


async def test_please_log_in_reconnects_and_logs_in_again() -> None:
    async def logged_out(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send({"event": "error", "code": "60011", "msg": "Please log in", "connId": "a4d3ae55"})
        await session.hold()

    async def healthy(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("9001"))
        await session.hold()

    async with okx_ws_server([logged_out, healthy]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 2
    assert isinstance(event, OrderFilled)


async def test_invalid_url_is_a_configuration_error() -> None:
    stream = OkxPrivateStream(stream_settings("not a url"))
    with pytest.raises(ConfigurationError), anyio.fail_after(5):
        async for _ in stream.events():
            pass


async def test_a_garbage_frame_between_two_fills_is_reported_and_both_fills_arrive() -> None:
    """Rule 11: one frame off the format is reported; the connection and the next fill go on."""

    async def script(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(fill_push("7001"))
        await session.send("{garbage")  # composed: not JSON
        await session.send(fill_push("7002"))
        await session.hold()

    async with okx_ws_server([script]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        first, second = await collect(stream.events(), 2)
        await stream.close()
        assert len(sessions) == 1
    assert isinstance(first, OrderFilled) and isinstance(second, OrderFilled)
    assert [first.fill.trade_id, second.fill.trade_id] == ["7001", "7002"]
    [bad] = stream._bad_items
    assert bad.what == "stream frame" and bad.raw == "{garbage" and bad.may_hold_fill


async def test_one_unreadable_item_costs_not_the_other_items_of_its_push() -> None:
    push = fill_push("7101")
    second = copy.deepcopy(push["data"][0])
    second.update(tradeId="", fillSz="0", state="some_future_state")  # composed
    push["data"].append(second)

    async def script(session: Session) -> None:
        await session.accept_login()
        await session.accept_subscribe()
        await session.send(push)
        await session.hold()

    async with okx_ws_server([script]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        [event] = await collect(stream.events(), 1)
        await stream.close()
        assert len(sessions) == 1
    assert isinstance(event, OrderFilled) and event.fill.trade_id == "7101"
    [bad] = stream._bad_items
    assert bad.what == "order update" and not bad.may_hold_fill  # no trade in it: no reconnect


async def test_a_push_before_the_last_subscription_ack_is_delivered_after_it() -> None:
    """Frames that overtake the acks are kept: the fill and the garbage report both survive."""

    async def script(session: Session) -> None:
        await session.accept_login()
        subscribe = await session.recv()
        first, *rest = subscribe["args"]
        await session.send({"id": subscribe["id"], "event": "subscribe", "arg": first, "connId": "a4d3ae55"})
        await session.send(fill_push("7201"))  # composed: a push between two acks
        await session.send("{garbage")  # composed: not JSON
        for arg in rest:
            await session.send(
                {"id": subscribe["id"], "event": "subscribe", "arg": arg, "connId": "a4d3ae55"}
            )
        await session.send(fill_push("7202"))
        await session.hold()

    async with okx_ws_server([script]) as (url, sessions):
        stream = OkxPrivateStream(stream_settings(url))
        events = await collect(stream.events(), 2)
        await stream.close()
        assert len(sessions) == 1
    assert [e.fill.trade_id for e in events if isinstance(e, OrderFilled)] == ["7201", "7202"]
    [bad] = stream._bad_items
    assert bad.what == "stream frame" and bad.raw == "{garbage"
