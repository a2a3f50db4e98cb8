"""A loopback fake TWS that speaks the real TWS API socket protocol.

The real ``ib_async`` client connects to it exactly as it would to TWS or IB
Gateway:

1. client sends ``b"API\\0"`` + a length-prefixed ``v157..178`` version range;
2. we answer with a length-prefixed message of two fields: the server version
   (the transcript's, 178) and the connection time;
3. client sends ``startApi`` (71); we send the transcript's ``on_connect``
   messages (``managedAccounts``, ``nextValidId``, farm-status notices);
4. every further client message is decoded into its fields and answered from the
   transcript: first by the next ``script`` step if it expects this request,
   otherwise by the first standing ``answers`` entry for that request type whose
   ``when`` fields match (an answer without ``when`` matches every request).

Every frame after the handshake is a 4-byte big-endian length followed by
NUL-terminated ASCII fields. Replies may use ``${orderId}`` / ``${reqId}``
placeholders, filled from the request that triggered them (or, failing that, from
the last script-matched request that had the field), so a transcript does not
depend on the ids a test happens to use.

Transcript files live in ``tests/recordings/``; see ``README.md`` for the schema
and for how to record a new one against a paper account (``ibkr_record_tws.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRANSCRIPTS = Path(__file__).parent / "recordings"

# Client -> server message ids (ibapi ``message.OUT``) the fake understands by name.
REQUEST_NAMES = {
    1: "reqMktData",
    2: "cancelMktData",
    3: "placeOrder",
    4: "cancelOrder",
    5: "reqOpenOrders",
    6: "reqAccountUpdates",
    7: "reqExecutions",
    8: "reqIds",
    9: "reqContractDetails",
    15: "reqAutoOpenOrders",
    16: "reqAllOpenOrders",
    17: "reqManagedAccts",
    49: "reqCurrentTime",
    59: "reqMarketDataType",
    61: "reqPositions",
    62: "reqAccountSummary",
    64: "cancelPositions",
    71: "startApi",
    76: "reqAccountUpdatesMulti",
    77: "cancelAccountUpdatesMulti",
    97: "reqTickByTickData",
    98: "cancelTickByTickData",
    99: "reqCompletedOrders",
}

# Named fields of the requests a script may match on, by position in the v178 layout
# (ib_async ``client.py``). placeOrder: 3, orderId, 12 contract fields, secIdType,
# secId, action, totalQuantity, orderType, lmtPrice, auxPrice, tif, ocaGroup,
# account, openClose, origin, orderRef, ...
REQUEST_FIELDS: dict[str, dict[str, int]] = {
    "placeOrder": {
        "orderId": 1,
        "conId": 2,
        "symbol": 3,
        "secType": 4,
        "lastTradeDateOrContractMonth": 5,
        "strike": 6,
        "right": 7,
        "multiplier": 8,
        "exchange": 9,
        "currency": 11,
        "action": 16,
        "totalQuantity": 17,
        "orderType": 18,
        "lmtPrice": 19,
        "auxPrice": 20,
        "tif": 21,
        "account": 23,
        "orderRef": 26,
        "transmit": 27,
    },
    "cancelOrder": {"orderId": 2},
    "reqExecutions": {"reqId": 2, "clientId": 3, "acctCode": 4, "time": 5},
    "reqContractDetails": {
        "reqId": 2,
        "conId": 3,
        "symbol": 4,
        "secType": 5,
        "lastTradeDateOrContractMonth": 6,
        "strike": 7,
        "right": 8,
        "multiplier": 9,
        "exchange": 10,
        "currency": 12,
    },
    "reqAccountUpdatesMulti": {"reqId": 2, "account": 3},
    "reqAccountSummary": {"reqId": 2},
    "reqAccountUpdates": {"subscribe": 2, "account": 3},
    "startApi": {"clientId": 2},
    # reqMktData: 1, 11, reqId, 12 contract fields, deltaNeutral flag, genericTickList, snapshot, ...
    "reqMktData": {"reqId": 2, "conId": 3, "symbol": 4, "secType": 5, "genericTickList": 16, "snapshot": 17},
    "cancelMktData": {"reqId": 2},
    "reqMarketDataType": {"marketDataType": 2},
    # reqTickByTickData: 97, reqId, 12 contract fields, tickType, numberOfTicks, ignoreSize (no version)
    "reqTickByTickData": {"reqId": 1, "conId": 2, "symbol": 3, "secType": 4, "tickType": 14},
    "cancelTickByTickData": {"reqId": 1},
}


def frame(fields: list[str]) -> bytes:
    """Encode one message: length prefix + NUL-terminated fields."""
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def named_fields(name: str, fields: list[str]) -> dict[str, str]:
    """The request's named fields (those listed in ``REQUEST_FIELDS``)."""
    positions = REQUEST_FIELDS.get(name, {})
    return {key: fields[i] for key, i in positions.items() if i < len(fields)}


@dataclass
class Received:
    """One client message as the fake saw it."""

    name: str
    fields: list[str]
    connection: int

    @property
    def named(self) -> dict[str, str]:
        """Named fields of the request."""
        return named_fields(self.name, self.fields)


@dataclass
class Transcript:
    """A recorded TWS session: handshake data, standing answers and an ordered script."""

    name: str
    source: str
    server_version: int
    connection_time: str
    on_connect: list[list[str]]
    answers: dict[str, list[dict[str, Any]]]
    """Standing answers per request type: ``[{"when": {field: value}, "reply": [...]}]``."""
    script: list[dict[str, Any]]
    provenance: str = ""
    """``captured: <where, when>`` or ``composed: <from what>``: where the messages come from."""
    connections: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per connection number (1 = first): ``{"on_connect": [...], "close": true}`` replaces
    ``on_connect`` for that connection; ``close`` closes the socket after sending it (as TWS
    does after error 326)."""

    @classmethod
    def load(cls, name: str) -> Transcript:
        """Read ``tests/recordings/<name>.json``."""
        return cls.from_dict(name, json.loads((TRANSCRIPTS / f"{name}.json").read_text()))

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Transcript:
        """Build from the parsed JSON (e.g. a transcript just recorded by ``ibkr_record_tws.py``)."""
        return cls(
            name=name,
            source=data["source"],
            server_version=int(data["server_version"]),
            connection_time=data["connection_time"],
            on_connect=data["on_connect"],
            answers=data.get("answers", {}),
            script=data.get("script", []),
            provenance=data.get("provenance", ""),
            connections={int(k): v for k, v in data.get("connections", {}).items()},
        )


@dataclass
class FakeTws:
    """Loopback server replaying one transcript; use as ``async with FakeTws(t) as tws``."""

    transcript: Transcript
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    unexpected: list[Received] = field(default_factory=list)
    connections: int = 0
    context: dict[str, str] = field(default_factory=dict)
    """Named fields of the script-matched requests so far (``${orderId}`` of the last placeOrder)."""
    _server: asyncio.Server | None = None
    _writer: asyncio.StreamWriter | None = None
    _step: int = 0
    _script_done: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _handlers: set[asyncio.Task[Any]] = field(default_factory=set)

    async def __aenter__(self) -> FakeTws:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._run_pending_steps(None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        # Let connection handlers see EOF and finish, so nothing is cancelled at loop exit.
        handlers = [t for t in self._handlers if not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=1.0)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    # -- public helpers for tests ------------------------------------------------
    @property
    def step(self) -> int:
        """Index of the next script step to play."""
        return self._step

    @property
    def script_finished(self) -> bool:
        """Whether every script step has been played."""
        return self._step >= len(self.transcript.script)

    async def wait_script(self) -> None:
        """Wait until the whole script has been played (wrap in a timeout)."""
        await self._script_done.wait()

    def requests(self, name: str) -> list[Received]:
        """Every received request of one type."""
        return [r for r in self.received if r.name == name]

    def send(self, fields: list[str]) -> None:
        """Push one message to the connected client now."""
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(frame(fields))

    def drop(self) -> None:
        """Close the current client connection (as TWS does on a restart)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- protocol -----------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        current = asyncio.current_task()
        if current is not None:
            self._handlers.add(current)
        self._writer = writer
        try:
            prefix = await reader.readexactly(4)
            if prefix != b"API\0":
                writer.close()
                return
            size = struct.unpack(">I", await reader.readexactly(4))[0]
            versions = (await reader.readexactly(size)).decode()  # "v157..178[ options]"
            low, high = (int(v) for v in versions.split()[0].lstrip("v").split(".."))
            version = self.transcript.server_version
            if not low <= version <= high:
                writer.close()
                return
            writer.write(frame([str(version), self.transcript.connection_time]))
            while True:
                size = struct.unpack(">I", await reader.readexactly(4))[0]
                raw = (await reader.readexactly(size)).decode()
                fields = raw.split("\0")[:-1]
                self._on_request(fields, connection)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    def _on_request(self, fields: list[str], connection: int) -> None:
        name = REQUEST_NAMES.get(int(fields[0]), f"msg{fields[0]}")
        request = Received(name, fields, connection)
        self.received.append(request)
        if name == "startApi":
            special = self.transcript.connections.get(connection, {})
            for message in special.get("on_connect", self.transcript.on_connect):
                self.send(message)
            if special.get("close"):
                self.drop()
            return
        step = self._current_step()
        if step is not None and "expect" in step and self._matches(step["expect"], request):
            self._step += 1
            self.context.update(request.named)
            if request.name == "placeOrder" and request.named.get("orderRef"):
                # ``${orderId@<orderRef>}``: the orderId of a given order when a script places several.
                self.context[f"orderId@{request.named['orderRef']}"] = request.named["orderId"]
            if request.name in ("reqMktData", "reqTickByTickData"):
                # ``${reqId@AAPL}`` / ``${tbtReqId@AAPL}``: a symbol's line when a script streams several.
                prefix = "reqId" if request.name == "reqMktData" else "tbtReqId"
                self.context[f"{prefix}@{request.named['symbol']}"] = request.named["reqId"]
            self._reply(step.get("reply", []), request)
            self._run_pending_steps(request)
            return
        for answer in self.transcript.answers.get(name, []):
            if all(request.named.get(k) == v for k, v in answer.get("when", {}).items()):
                self._reply(answer["reply"], request)
                return
        if name not in ("cancelPositions", "cancelAccountUpdatesMulti", "reqAutoOpenOrders"):
            self.unexpected.append(request)

    def _current_step(self) -> dict[str, Any] | None:
        script = self.transcript.script
        return script[self._step] if self._step < len(script) else None

    @staticmethod
    def _matches(expect: dict[str, Any], request: Received) -> bool:
        if expect.get("request") != request.name:
            return False
        named = request.named
        return all(named.get(key) == value for key, value in expect.get("fields", {}).items())

    def _reply(self, messages: list[list[str]], request: Received | None) -> None:
        values = {**self.context, **(request.named if request is not None else {})}
        for message in messages:
            self.send([_fill(f, values) for f in message])

    def _run_pending_steps(self, request: Received | None) -> None:
        """Play the push/sleep/drop steps that follow, up to the next ``expect``."""
        steps: list[dict[str, Any]] = []
        while (step := self._current_step()) is not None and "expect" not in step:
            steps.append(step)
            self._step += 1
        if self.script_finished:
            self._script_done.set()
        if not steps:
            return
        task = asyncio.ensure_future(self._play(steps, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(self, steps: list[dict[str, Any]], request: Received | None) -> None:
        for step in steps:
            if "sleep" in step:
                await asyncio.sleep(float(step["sleep"]))
            if "push" in step:
                self._reply(step["push"], request)
            if step.get("drop"):
                if self._writer is not None:
                    with contextlib.suppress(ConnectionError):
                        await self._writer.drain()
                self.drop()
            if "wait_connection" in step:
                # Wait for the client to reconnect before the next pushes.
                target = int(step["wait_connection"])
                while len(self.requests("startApi")) < target or self._writer is None:
                    await asyncio.sleep(0.01)


def _fill(field_value: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        field_value = field_value.replace("${" + key + "}", value)
    return field_value


@contextlib.asynccontextmanager
async def fake_tws(name: str) -> AsyncIterator[FakeTws]:
    """Start a fake TWS replaying ``tests/recordings/<name>.json``."""
    async with FakeTws(Transcript.load(name)) as server:
        yield server
