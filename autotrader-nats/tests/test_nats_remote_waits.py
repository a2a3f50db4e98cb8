"""The strategy side's cheap paths: one watchdog for every waiting command, order bodies decoded once."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import anyio
import nats
import pytest
from autotrader_core.control import AccountId
from autotrader_core.enums import OrderSide, OrderStatus, OrderType
from autotrader_core.errors import RequestTimeout
from autotrader_core.events import OrderAccepted
from autotrader_core.journal import codec
from autotrader_core.models import Order, utc_now
from autotrader_core.strategy import Strategy, StrategyContext
from autotrader_nats import AccountGateway, NatsSettings, RemoteEngine, connect_gateway
from autotrader_nats import remote as remote_module
from autotrader_nats.wire import dumps, loads_from_gateway
from nats.js.errors import NotFoundError
from nats_kit import NatsServer

pytestmark = pytest.mark.anyio


def _silent_gateway(engine: RemoteEngine, gateway: AccountGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # Commands never reach the gateway and nobody answers svc.result: only the deadline ends a wait.
    publish = engine._nc.publish

    async def lossy(subject: str, payload: bytes = b"", **kw: Any) -> None:
        if subject != gateway.names.commands_of(engine.owner):
            await publish(subject, payload, **kw)

    async def silent(command_id: str) -> tuple[str, bytes | None]:
        return "silent", None

    monkeypatch.setattr(engine._nc, "publish", lossy)
    monkeypatch.setattr(engine, "_ask_result", silent)


def _engine(server: NatsServer) -> RemoteEngine:
    return connect_gateway(
        "paper", "paper", nats_settings=NatsSettings(servers=[server.url], request_timeout=1)
    )


async def test_a_command_nobody_answers_times_out_at_its_deadline(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _engine(nats_server) as engine:
        _silent_gateway(engine, gateway, monkeypatch)
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(RequestTimeout, match="may still execute"):
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        assert 0.9 <= time.monotonic() - started < 2.0  # the deadline, give or take a watchdog tick
        assert not engine._waiters


async def test_a_command_waiting_while_the_engine_stops_still_ends_at_its_deadline(
    gateway: AccountGateway, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watchdog ends with the engine; a command still waiting then falls back to its own timer.
    engine = _engine(nats_server)
    raised: list[BaseException] = []

    async def submit() -> None:
        try:
            await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        except RequestTimeout as exc:
            raised.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await engine.start()
            _silent_gateway(engine, gateway, monkeypatch)
            tg.start_soon(submit)
            await anyio.sleep(0.2)
            await engine.stop()
    assert len(raised) == 1


def _filled_order(cid: str) -> Order:
    order = Order(cid, "BTCUSDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.001"), broker="paper")
    times: dict[str, Any] = dict.fromkeys(
        ("created_at", "updated_at", "accepted_at", "first_fill_at"), utc_now()
    )
    filled: dict[str, Any] = {
        "filled_quantity": Decimal("0.001"),
        "average_fill_price": Decimal("50000.00"),
        "fees": Decimal("0.05"),
    }
    return dataclasses.replace(order, status=OrderStatus.FILLED, **filled, **times)


def _wire(order: Order) -> dict[str, Any]:
    return loads_from_gateway(dumps(codec.encode_order(order)))  # as a reply or event carries it


def test_an_order_body_seen_again_reads_as_itself_and_a_changed_one_as_the_change() -> None:
    engine = RemoteEngine(AccountId("paper", "paper", "default"))
    filled = _filled_order("atreuse1")
    accepted = dataclasses.replace(
        filled, status=OrderStatus.ACCEPTED, filled_quantity=Decimal(0), average_fill_price=None
    )
    refunded = dataclasses.replace(filled, fees=Decimal("0.04"))
    # reply (filled), accept event, fill event, then bodies that differ in one field each
    for order in (filled, accepted, filled, refunded, accepted, filled, filled):
        body = _wire(order)
        decoded = engine._decode_order(body)
        assert decoded == codec.decode_order(body) == order
    assert engine._decode_order(_wire(filled)) is engine._decode_order(_wire(filled))  # decoded once


async def test_an_event_whose_order_body_is_older_than_the_known_order_is_applied_without_decoding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A market order's reply brings it filled; its accept event, read next, carries it as it was
    # before the fill. The strategy sees the newer state, as before, and the older body is never
    # decoded: a field there that could not be read no longer costs the event.
    seen: list[Order] = []

    class Recorder(Strategy):
        async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
            seen.append(order)

    engine = RemoteEngine(AccountId("paper", "paper", "default"), strategy=Recorder())
    engine._started.set()
    engine._running = True
    filled = _filled_order("atstale1")
    engine._remember(engine._decode_order(_wire(filled)))  # the reply
    before = dataclasses.replace(filled, updated_at=filled.updated_at - timedelta(milliseconds=1))
    accepted = {**_wire(before), "status": "accepted", "filled_quantity": "not a number"}
    decoded: list[object] = []
    decode = codec.decode_order

    def counted(body: dict[str, Any]) -> Order:
        decoded.append(body)
        return decode(body)

    monkeypatch.setattr(codec, "decode_order", counted)
    event = codec.encode_event(OrderAccepted("atstale1", "p1", before.updated_at))
    await engine._apply_event(loads_from_gateway(dumps({"order": accepted, "event": event})))
    assert seen == [filled] and seen[0] is engine.orders["atstale1"]
    assert decoded == []
    # A body as new as the one known, or newer, is decoded and kept, as before.
    refunded = dataclasses.replace(
        filled, fees=Decimal("0.04"), updated_at=filled.updated_at + timedelta(seconds=1)
    )
    newer_event = codec.encode_event(OrderAccepted("atstale1", "p1", refunded.updated_at))
    await engine._apply_event(loads_from_gateway(dumps({"order": _wire(refunded), "event": newer_event})))
    assert len(decoded) == 1 and engine.orders["atstale1"] == refunded == seen[-1]


def test_the_decoded_bodies_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_module, "_DECODED_ORDERS", 8)
    engine = RemoteEngine(AccountId("paper", "paper", "default"))
    for i in range(20):
        engine._decode_order(_wire(_filled_order(f"atbound{i}")))
    assert len(engine._decoded) == 8
    assert set(engine._decoded) == {f"atbound{i}" for i in range(12, 20)}  # the latest ids stay


async def test_the_last_event_sequence_names_the_last_event_applied(
    gateway: AccountGateway, nats_server: NatsServer
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        async with _engine(nats_server) as engine:
            assert engine.last_event_sequence == 0
            read: list[int] = []
            for _ in range(2):
                order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
                with anyio.fail_after(5):
                    # The reply can come before the order's events are stored: read the stream's
                    # last message again until it is this order's and the engine has applied it.
                    while True:
                        try:
                            last = await nc.jetstream().get_last_msg(
                                gateway.names.event_stream, gateway.names.order_events(engine.owner)
                            )
                        except NotFoundError:  # none stored yet
                            last = None
                        if (
                            last is not None
                            and order.client_order_id.encode() in (last.data or b"")
                            and engine.last_event_sequence == last.seq
                        ):
                            break
                        await anyio.sleep(0.02)
                read.append(engine.last_event_sequence)
            assert read[0] < read[1]
            engine.last_event_sequence = 1  # still an attribute a caller may set, as before
            assert engine.last_event_sequence == 1
    finally:
        await nc.close()
