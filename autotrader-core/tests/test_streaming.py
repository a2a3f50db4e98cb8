"""The reconnecting stream against loopback servers (the kit's WebSocket and line-stream replays)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import aclosing
from typing import Any

import anyio
import pytest
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.line_stream_replay import LineStreamReplayServer
from autotrader_conformance.recordings import StreamScript
from autotrader_conformance.testing import RecordingTelemetry
from autotrader_conformance.ws_replay import WsReplayServer
from autotrader_core.errors import (
    AuthenticationError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
    RateLimited,
)
from autotrader_core.resiliency.retry import RetryPolicy
from autotrader_core.streaming import (
    Carrier,
    Gap,
    Heartbeat,
    LineStreamCarrier,
    Reconnect,
    ReconnectingStream,
    StreamLost,
    WebSocketCarrier,
)

pytestmark = pytest.mark.anyio

LOGIN = {"op": "login"}
LOGIN_OK = {"event": "login", "code": "0"}
SUBSCRIBE = {"op": "subscribe"}
SUBSCRIBED = {"event": "subscribe"}
POLICY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)


def push(n: int) -> dict[str, Any]:
    return {"push": {"data": n}}


def connection(*steps: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """One recorded connection: login and subscribe acknowledged, then ``steps``."""
    return (
        {"expect": LOGIN, "reply": [LOGIN_OK]},
        {"expect": SUBSCRIBE, "reply": [SUBSCRIBED]},
        *steps,
    )


def ws_script(
    *connections: tuple[dict[str, Any], ...], auto_reply: dict[str, str] | None = None
) -> StreamScript:
    return StreamScript(kind="websocket", connections=tuple(connections), auto_reply=auto_reply or {})


async def log_in(carrier: Carrier[str | bytes]) -> None:
    await carrier.send(json.dumps(LOGIN))
    reply = json.loads(await carrier.recv())
    if reply.get("code") != "0":
        raise AuthenticationError("login refused", broker="test", code=reply.get("code"))


async def subscribe(carrier: Carrier[str | bytes]) -> None:
    await carrier.send(json.dumps(SUBSCRIBE))
    while json.loads(await carrier.recv()) != SUBSCRIBED:
        pass


def decode(frame: str | bytes) -> list[int]:
    if frame == "pong":
        return []
    message = json.loads(frame)
    if "data" not in message:
        return []
    if message["data"] == "bad":
        raise BrokerProtocolError("unreadable push", payload=message)
    if message["data"] == "maintenance":
        raise Reconnect("maintenance notice")
    return [message["data"]]


class CatchUps:
    """A catch-up hook that records its gaps and returns ``results`` (or raises) in turn."""

    def __init__(self, *results: list[int] | Exception) -> None:
        self.gaps: list[Gap] = []
        self._results = list(results)

    async def __call__(self, gap: Gap) -> list[int]:
        self.gaps.append(gap)
        result = self._results.pop(0) if self._results else []
        if isinstance(result, Exception):
            raise result
        return result


def ws_stream(
    server: WsReplayServer, **options: Any
) -> tuple[ReconnectingStream[str | bytes, int], RecordingTelemetry]:
    telemetry = RecordingTelemetry()
    options.setdefault("policy", POLICY)
    stream: ReconnectingStream[str | bytes, int] = ReconnectingStream(
        lambda: WebSocketCarrier(server.url, ping_interval=None, broker="test"),
        decode,
        name="test",
        log_in=log_in,
        subscribe=subscribe,
        telemetry=telemetry,
        **options,
    )
    return stream, telemetry


async def take(stream: ReconnectingStream[Any, int], count: int, seconds: float = 5.0) -> list[int]:
    items: list[int] = []
    with anyio.fail_after(seconds):
        async with aclosing(stream.events()) as events:  # closes the connection when we stop reading
            async for item in events:
                items.append(item)
                if len(items) == count:
                    break
    return items


# -- reconnecting ------------------------------------------------------------------------
async def test_a_dropped_connection_is_replaced_logged_in_resubscribed_and_caught_up() -> None:
    script = ws_script(connection(push(1), {"drop": True}), connection(push(3)))
    catch_up = CatchUps([2])
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, catch_up=catch_up)
        assert await take(stream, 3) == [1, 2, 3]  # the catch-up's fill comes before the new pushes
        assert server.connections_opened == 2
        assert server.unfinished() == []  # login and subscribe were sent again on the new connection
    assert [json.loads(frame) for frame in server.received[1]] == [LOGIN, SUBSCRIBE]
    assert telemetry.reconnects == ["connection lost: websocket closed (no close frame)"]
    assert len(catch_up.gaps) == 1  # not on the first connection
    gap = catch_up.gaps[0]
    assert (
        gap.connection == 2
        and gap.is_reconnect
        and gap.reason == "connection lost: websocket closed (no close frame)"
    )
    assert stream.connections == 2 and stream.reconnects == 1


async def test_the_catch_up_runs_once_per_reconnect() -> None:
    script = ws_script(
        connection(push(1), {"drop": True}),
        connection(push(2), {"close": {"code": 1001, "reason": "going away"}}),
        connection(push(3)),
    )
    catch_up = CatchUps()
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, catch_up=catch_up)
        assert await take(stream, 3) == [1, 2, 3]
    assert [gap.connection for gap in catch_up.gaps] == [2, 3]
    assert len(telemetry.reconnects) == 2


async def test_a_failed_catch_up_reconnects_and_asks_again_from_the_same_moment() -> None:
    script = ws_script(connection(push(1), {"drop": True}), connection(), connection(push(3)))
    catch_up = CatchUps(BrokerUnavailable("fills query failed"), [2])
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, catch_up=catch_up)
        assert await take(stream, 3) == [1, 2, 3]
    first, second = catch_up.gaps
    assert first.lost_at is not None and second.lost_at == first.lost_at  # the gap stayed open
    assert second.since == first.since
    assert telemetry.reconnects == [
        "connection lost: websocket closed (no close frame)",
        "catch-up failed: BrokerUnavailable",
    ]


async def test_a_hook_asks_for_a_new_connection_with_its_reason() -> None:
    script = ws_script(connection({"push": {"data": "maintenance"}}), connection(push(7)))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server)
        assert await take(stream, 1) == [7]
    assert telemetry.reconnects == ["maintenance notice"]


# -- heartbeat ---------------------------------------------------------------------------
async def test_silence_replaces_the_connection_and_the_catch_up_starts_at_the_last_frame() -> None:
    script = ws_script(connection(push(1)), connection(push(2)))  # the first goes quiet, open
    catch_up = CatchUps()
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, heartbeat=Heartbeat(silence=0.3), catch_up=catch_up)
        assert await take(stream, 2) == [1, 2]
    assert telemetry.reconnects == ["heartbeat timeout (no frame for 0.3s)"]
    (gap,) = catch_up.gaps
    assert gap.since is not None and gap.lost_at is not None
    # What happened during the silence is in the gap: it starts at the last frame, not at the alarm.
    assert gap.lost_at - gap.since >= 0.3


async def test_a_ping_answered_keeps_the_connection_and_an_unanswered_one_replaces_it() -> None:
    script = ws_script(
        connection({"expect": "ping", "reply": ["pong"]}, push(1)),  # then the next ping goes unanswered
        connection(push(2)),
    )
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, heartbeat=Heartbeat(silence=0.2, ping="ping", pong_timeout=0.2))
        assert await take(stream, 2) == [1, 2]
    assert server.received[0][2:] == ["ping", "ping"]
    assert telemetry.reconnects == ["heartbeat timeout (no answer to ping within 0.2s)"]


async def test_a_broker_that_never_answers_the_login_does_not_hang_the_stream() -> None:
    script = ws_script(({"expect": LOGIN},), connection(push(1)))  # the first login is never answered
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, _ = ws_stream(server, handshake_timeout=0.3)
        assert await take(stream, 1) == [1]
        assert server.connections_opened == 2
    assert stream.last_error == "Reconnect: no answer to log-in / subscribe within 0.3s"


async def test_max_age_renews_the_connection_without_a_wait() -> None:
    script = ws_script(connection(push(1)), connection(push(2)))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server, max_age=0.3)
        assert await take(stream, 2) == [1, 2]
    assert stream.delays == []
    assert telemetry.reconnects == ["renewing the connection (maximum age)"]


# -- what ends the stream ----------------------------------------------------------------
async def test_refused_credentials_end_the_stream_without_a_retry() -> None:
    script = ws_script(({"expect": LOGIN, "reply": [{"event": "login", "code": "60009"}]},))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = ws_stream(server)
        with pytest.raises(AuthenticationError):
            await take(stream, 1)
        assert server.connections_opened == 1
    assert telemetry.reconnects == [] and stream.delays == []


async def test_a_broken_payload_ends_the_stream_unless_a_hook_asks_to_reconnect() -> None:
    script = ws_script(connection(push(1), {"push": {"data": "bad"}}))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, _ = ws_stream(server)
        items: list[int] = []

        async def read_all() -> None:
            async for item in stream.events():
                items.append(item)

        with anyio.fail_after(5), pytest.raises(BrokerProtocolError, match="unreadable push"):
            await read_all()
    assert items == [1]


async def test_a_handshake_refused_with_401_is_an_authentication_error() -> None:
    from websockets.asyncio.server import serve
    from websockets.http11 import Request, Response

    def refuse(connection: Any, request: Request) -> Response:
        return connection.respond(401, "bad key\n")  # type: ignore[no-any-return]

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        stream: ReconnectingStream[str | bytes, int] = ReconnectingStream(
            lambda: WebSocketCarrier(f"ws://127.0.0.1:{port}"), decode, name="test", policy=POLICY
        )
        with pytest.raises(AuthenticationError, match="HTTP 401"):
            await take(stream, 1)


async def test_a_bad_url_is_a_configuration_error() -> None:
    stream: ReconnectingStream[str | bytes, int] = ReconnectingStream(
        lambda: WebSocketCarrier("http://not-a-websocket"), decode, name="test", policy=POLICY
    )
    with pytest.raises(ConfigurationError):
        await take(stream, 1)


# -- backoff -----------------------------------------------------------------------------
class ScriptedCarrier:
    """An in-memory carrier: ``open`` raises the planned error or delivers ``frames``, then ends."""

    def __init__(self, outcome: Exception | list[str]) -> None:
        self._outcome = outcome
        self.closed = False

    async def open(self) -> None:
        if isinstance(self._outcome, Exception):
            raise self._outcome

    async def recv(self) -> str:
        assert isinstance(self._outcome, list)
        if not self._outcome:
            raise StreamLost("the stream ended")
        return self._outcome.pop(0)

    async def send(self, frame: str) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


def scripted(*outcomes: Exception | list[str]) -> tuple[list[ScriptedCarrier], Any]:
    made: list[ScriptedCarrier] = []
    queue = list(outcomes)

    def connect() -> ScriptedCarrier:
        carrier = ScriptedCarrier(queue.pop(0) if queue else BrokerUnavailable("down"))
        made.append(carrier)
        return carrier

    return made, connect


def line_decode(frame: str) -> list[int]:
    return [int(frame)]


async def test_backoff_grows_with_each_failure_and_starts_over_after_a_healthy_connection() -> None:
    down = BrokerUnavailable("down")
    made, connect = scripted(down, down, down, ["1"], down, ["2"])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(base_delay=1.0, max_delay=3.0, jitter=0.0)
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=policy, sleep=sleep
    )
    assert await take(stream, 2) == [1, 2]
    # three failures: 1, 2, 3 (capped at 3); then healthy; its end and the next failure: 1, 2.
    assert waits == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert all(carrier.closed for carrier in made)


async def test_backoff_has_jitter_from_the_retry_policy() -> None:
    _, connect = scripted(BrokerUnavailable("down"), ["1"])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5)
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=policy, sleep=sleep, rand=lambda: 1.0
    )
    assert await take(stream, 1) == [1]
    assert waits == [policy.backoff(1, lambda: 1.0)] == [1.5]


async def test_before_connect_paces_every_attempt() -> None:
    _, connect = scripted(BrokerUnavailable("down"), ["1"], ["2"])
    attempts: list[int] = []

    async def pace() -> None:
        attempts.append(len(attempts) + 1)

    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=POLICY, before_connect=pace
    )
    assert await take(stream, 2) == [1, 2]
    assert attempts == [1, 2, 3]


async def test_a_rate_limited_connect_waits_the_brokers_retry_after_and_reports_it() -> None:
    _, connect = scripted(RateLimited("slow down", retry_after=7.0), ["1"])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    telemetry = RecordingTelemetry()
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test-stream", policy=POLICY, sleep=sleep, telemetry=lambda: telemetry
    )
    assert await take(stream, 1) == [1]
    assert waits == [7.0]
    assert telemetry.waits == [("test-stream", 7.0)]


async def test_telemetry_is_looked_up_at_each_report() -> None:
    _, connect = scripted(["1"], ["2"])
    holder = {"telemetry": RecordingTelemetry()}
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=POLICY, telemetry=lambda: holder["telemetry"]
    )
    holder["telemetry"] = installed = RecordingTelemetry()  # the engine installs its own later
    assert await take(stream, 2) == [1, 2]
    assert installed.reconnects == ["connection lost: the stream ended"]


async def test_a_programming_error_in_a_hook_is_not_swallowed() -> None:
    _, connect = scripted(["x"])
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=POLICY
    )
    with pytest.raises(ValueError, match="invalid literal"):
        await take(stream, 1)


async def test_early_frames_from_the_subscribe_step_are_decoded_after_the_catch_up() -> None:
    _, connect = scripted(["3"])

    async def subscribe_with_early_push(carrier: Carrier[str]) -> Iterable[str]:
        return ["2"]  # a push that came in before the last acknowledgement

    async def catch_up(gap: Gap) -> list[int]:
        return [1]

    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect,
        line_decode,
        name="test",
        policy=POLICY,
        subscribe=subscribe_with_early_push,
        catch_up=catch_up,
        catch_up_first=True,
    )
    assert await take(stream, 3) == [1, 2, 3]


# -- closing -----------------------------------------------------------------------------
async def test_aclose_from_another_task_ends_the_stream_and_closes_the_connection() -> None:
    script = ws_script(connection(push(1)))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        stream, _ = ws_stream(server)
        items: list[int] = []

        async def consume() -> None:
            async for item in stream.events():
                items.append(item)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                while not items:
                    await anyio.sleep(0.01)
                await stream.aclose()  # consume() returns by itself: no error, no cancel
        assert items == [1] and stream.closed


async def test_aclose_during_a_backoff_wait_ends_the_stream_at_once() -> None:
    _, connect = scripted()  # every attempt fails
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        connect, line_decode, name="test", policy=RetryPolicy(base_delay=30.0, max_delay=30.0, jitter=0.0)
    )
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                async for _ in stream.events():
                    pass

            tg.start_soon(consume)
            while not stream.delays:
                await anyio.sleep(0.01)
            await stream.aclose()


async def test_cancelling_the_consumer_closes_the_connection() -> None:
    script = ws_script(connection(push(1)))
    async with WsReplayServer(script, ReplayMonitor()) as server:
        carriers: list[WebSocketCarrier] = []

        def connect() -> WebSocketCarrier:
            carriers.append(WebSocketCarrier(server.url, ping_interval=None))
            return carriers[-1]

        stream: ReconnectingStream[str | bytes, int] = ReconnectingStream(
            connect, decode, name="test", log_in=log_in, subscribe=subscribe, policy=POLICY
        )
        with anyio.move_on_after(0.5):
            async for _ in stream.events():
                pass  # read on until the deadline cancels us mid-recv
        assert len(carriers) == 1
        with pytest.raises(StreamLost):  # closed on the way out, not left to the garbage collector
            await carriers[0].recv()


# -- the HTTP line-stream carrier --------------------------------------------------------
def lines_script(*connections: tuple[dict[str, Any], ...]) -> StreamScript:
    return StreamScript(kind="lines", connections=tuple(connections))


def json_lines(frame: str) -> list[int]:
    if not frame.strip():
        return []
    message = json.loads(frame)
    return [] if message.get("type") == "HEARTBEAT" else [int(message["id"])]


async def line_stream(
    server: LineStreamReplayServer, **options: Any
) -> tuple[ReconnectingStream[str, int], RecordingTelemetry]:
    telemetry = RecordingTelemetry()
    options.setdefault("policy", POLICY)
    stream: ReconnectingStream[str, int] = ReconnectingStream(
        lambda: LineStreamCarrier(
            f"{server.url}/stream", headers={"Authorization": "Bearer t"}, broker="test"
        ),
        json_lines,
        name="test-lines",
        telemetry=telemetry,
        **options,
    )
    return stream, telemetry


async def test_a_line_stream_reconnects_after_its_body_ends_and_catches_up_each_time() -> None:
    script = lines_script(
        (
            {"request": {"method": "GET", "path": "/stream", "headers": {"Authorization": "Bearer t"}}},
            {"line": {"id": "1"}},
            {"line": {"type": "HEARTBEAT"}},
            {"end": True},
        ),
        ({"line": {"id": "3"}},),
    )
    catch_up = CatchUps([], [2])
    async with LineStreamReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = await line_stream(server, catch_up=catch_up, catch_up_first=True)
        assert await take(stream, 3) == [1, 2, 3]
    assert [gap.connection for gap in catch_up.gaps] == [1, 2]
    assert telemetry.reconnects == ["connection lost: the stream ended"]


async def test_a_silent_line_stream_is_replaced() -> None:
    script = lines_script(({"line": {"id": "1"}},), ({"line": {"id": "2"}},))
    async with LineStreamReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = await line_stream(server, heartbeat=Heartbeat(silence=0.3))
        assert await take(stream, 2) == [1, 2]
    assert telemetry.reconnects == ["heartbeat timeout (no frame for 0.3s)"]


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (403, AuthenticationError), (404, BrokerError)]
)
async def test_a_refused_line_stream_ends_with_a_typed_error(status: int, error: type[Exception]) -> None:
    script = lines_script(({"respond": {"status": status, "json": {"errorMessage": "no"}}},))
    async with LineStreamReplayServer(script, ReplayMonitor()) as server:
        stream, _ = await line_stream(server)
        with pytest.raises(error) as raised:
            await take(stream, 1)
        assert server.connections_opened == 1
    assert getattr(raised.value, "broker", None) == "test"


async def test_a_line_stream_answering_429_waits_retry_after() -> None:
    script = lines_script(
        ({"respond": {"status": 429, "headers": {"Retry-After": "0.2"}, "text": ""}},),
        ({"line": {"id": "1"}},),
    )
    async with LineStreamReplayServer(script, ReplayMonitor()) as server:
        stream, telemetry = await line_stream(server)
        assert await take(stream, 1) == [1]
    assert stream.delays == [0.2]
    assert telemetry.waits == [("test-lines", 0.2)]


async def test_aclose_ends_a_line_stream_waiting_for_a_line() -> None:
    script = lines_script(({"line": {"id": "1"}},))
    async with LineStreamReplayServer(script, ReplayMonitor()) as server:
        stream, _ = await line_stream(server)
        items: list[int] = []

        async def consume() -> None:
            async for item in stream.events():
                items.append(item)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                while not items:
                    await anyio.sleep(0.01)
                await stream.aclose()
    assert items == [1]


async def test_a_line_stream_cannot_send() -> None:
    carrier = LineStreamCarrier("http://127.0.0.1:1/stream")
    from autotrader_core.errors import UnsupportedFeature

    with pytest.raises(UnsupportedFeature):
        await carrier.send("ping")
    await carrier.close()


# -- a callback-driven session (the shape of IBKR's ib_async client) ---------------------
class FakeSession:
    """Stands in for ``ib_async.IB``: an async connect, callback events, a socket that can drop."""

    def __init__(self) -> None:
        self.on_execution: list[Any] = []
        self.on_disconnected: list[Any] = []
        self.connects = 0

    async def connect(self) -> None:
        self.connects += 1

    def emit(self, execution: int) -> None:
        for handler in list(self.on_execution):
            handler(execution)

    def drop(self) -> None:
        for handler in list(self.on_disconnected):
            handler()


_LOST = -1


class SessionCarrier:
    """A carrier over callbacks: events go into a memory stream; a disconnect ends ``recv``."""

    def __init__(self, session: FakeSession) -> None:
        self._session = session
        self._send, self._receive = anyio.create_memory_object_stream[int](100)

    async def open(self) -> None:
        self._session.on_execution.append(self._send.send_nowait)
        self._session.on_disconnected.append(self._lost)
        await self._session.connect()

    def _lost(self) -> None:
        self._send.send_nowait(_LOST)

    async def recv(self) -> int:
        frame = await self._receive.receive()
        if frame == _LOST:
            raise StreamLost("TWS socket closed")
        return frame

    async def send(self, frame: int) -> None:
        raise AssertionError("a callback session sends through its client, not the carrier")

    async def close(self) -> None:
        if self._send.send_nowait in self._session.on_execution:
            self._session.on_execution.remove(self._send.send_nowait)
        if self._lost in self._session.on_disconnected:
            self._session.on_disconnected.remove(self._lost)
        self._send.close()
        self._receive.close()


async def test_a_callback_driven_session_fits_the_carrier_protocol() -> None:
    session = FakeSession()
    missed: list[int] = []

    async def req_executions(gap: Gap) -> list[int]:
        return missed  # what the broker reports for the gap (reqExecutions)

    telemetry = RecordingTelemetry()
    stream: ReconnectingStream[int, int] = ReconnectingStream(
        lambda: SessionCarrier(session),
        lambda frame: [frame],
        name="ibkr",
        catch_up=req_executions,
        policy=POLICY,
        telemetry=telemetry,
    )
    received: list[int] = []

    async def consume() -> None:
        async with aclosing(stream.events()) as events:
            async for item in events:
                received.append(item)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            while session.connects < 1:
                await anyio.sleep(0.01)
            session.emit(1)
            while received != [1]:
                await anyio.sleep(0.01)
            missed.append(2)  # happens while the socket is down
            session.drop()
            while session.connects < 2 or received != [1, 2]:
                await anyio.sleep(0.01)
            session.emit(3)
            while received != [1, 2, 3]:
                await anyio.sleep(0.01)
            await stream.aclose()
    assert telemetry.reconnects == ["connection lost: TWS socket closed"]
    assert session.on_execution == [] and session.on_disconnected == []  # every carrier detached
