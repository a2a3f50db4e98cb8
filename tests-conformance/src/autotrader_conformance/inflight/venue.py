"""The stateful loopback venue: a base class a venue for one broker's wire subclasses.

Recorded request→reply files cannot hold a request that "lands later". A
:class:`LoopbackVenue` keeps orders and fills, answers lookups from them and emits
private-stream events for what it executed; the :class:`~.faults.FaultScript` in
front of it (:attr:`LoopbackVenue.faults`) holds requests, loses or delays replies,
resets connections, and delays or doubles stream events.

To add a venue (see ``docs/writing-an-adapter.md``, "In-flight scenarios"):

1. subclass :class:`LoopbackVenue`, set ``name`` and implement :meth:`handle` (one
   HTTP request → one :class:`~.wire.VenueReply`, synchronous: the matching engine
   is atomic) with the broker's documented payload shapes;
2. record what it creates with :meth:`new_order` / :meth:`add_fill` and change
   ``VenueOrder.status``, and :meth:`emit` the private stream's frames;
3. if the adapter streams over WebSocket, implement :meth:`stream_session` (the
   broker's handshake, then :meth:`pump` the subscription's frames).

Everything listens on 127.0.0.1 and stops with the ``async with`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Self

from autotrader_core.enums import OrderSide, OrderStatus

from autotrader_conformance.inflight.faults import FaultRule, FaultScript
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest, abort, read_request, serialise

__all__ = ["LoopbackVenue", "VenueClock", "VenueFill", "VenueOrder"]

_CHUNK = 64 * 1024


class VenueClock:
    """The venue's own clock: wall time plus an offset a test sets or jumps (no real waits).

    Args:
        offset_ms: Milliseconds the venue's clock runs ahead of this machine's (negative: behind).
    """

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        """The venue's time, in milliseconds since the epoch."""
        return int(time.time() * 1000) + self.offset_ms

    def jump(self, ms: int) -> None:
        """Move the venue's clock by ``ms`` (negative: back), as a venue whose time is resynced."""
        self.offset_ms += ms


@dataclass(slots=True)
class VenueOrder:
    """One order as the venue keeps it (venue-neutral: the checks read these)."""

    order_id: int | str
    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str
    created_ms: int
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: Decimal = Decimal(0)
    quote_filled: Decimal = Decimal(0)
    updated_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """Working at the venue (can still fill or be canceled)."""
        return self.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution at the venue."""

    trade_id: int | str
    order_id: int | str
    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    time_ms: int

    @property
    def signed_quantity(self) -> Decimal:
        """Quantity with the sign of the side (buys add to the position)."""
        return self.quantity if self.side is OrderSide.BUY else -self.quantity


class LoopbackVenue(ABC):
    """A stateful venue on 127.0.0.1 with the fault script in front (see the module docs).

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started (the adapter's REST base URL).
        ws_url: The private stream's WebSocket URL once started (``""`` without one).
        faults: The proxy's script (per-request faults, stream faults).
        clock: The venue's clock (a test may jump it).
        orders: Every order the venue created, in order.
        fills: Every execution, in order.
        log: ``(route, status)`` of every request the venue executed (after any hold).
    """

    name: ClassVar[str] = "venue"
    ws_path: ClassVar[str] = ""
    """Path of the private stream's WebSocket endpoint (empty: the venue has no WebSocket stream)."""

    def __init__(self, *, clock: VenueClock | None = None) -> None:
        self.clock = clock or VenueClock()
        self.faults = FaultScript()
        self.orders: list[VenueOrder] = []
        self.fills: list[VenueFill] = []
        self.log: list[tuple[str, int]] = []
        self.url = ""
        self.ws_url = ""
        self._order_ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self._server: asyncio.Server | None = None
        self._ws_server: Any = None
        self._subscribers: list[asyncio.Queue[str]] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._pending = 0

    # -- what a venue implements ----------------------------------------------------------
    @abstractmethod
    def handle(self, request: VenueRequest) -> VenueReply:
        """Execute one request (after any hold) and return the venue's reply."""

    async def stream_session(self, ws: Any) -> None:
        """Serve one private-stream WebSocket connection (the broker's handshake, then :meth:`pump`)."""
        await ws.close()

    # -- state helpers -----------------------------------------------------------------
    def new_order(self, **terms: Any) -> VenueOrder:
        """Create and keep an order (``order_id``, times filled in)."""
        now = self.clock.now_ms()
        order = VenueOrder(order_id=next(self._order_ids), created_ms=now, updated_ms=now, **terms)
        self.orders.append(order)
        return order

    def add_fill(
        self, order: VenueOrder, quantity: Decimal, price: Decimal, fee: Decimal, fee_asset: str
    ) -> VenueFill:
        """Execute ``quantity`` of ``order`` at ``price``: the fill, the order's filled amount and status."""
        fill = VenueFill(
            trade_id=next(self._trade_ids),
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            fee=fee,
            fee_asset=fee_asset,
            time_ms=self.clock.now_ms(),
        )
        self.fills.append(fill)
        order.filled += quantity
        order.quote_filled += quantity * price
        order.status = OrderStatus.FILLED if order.filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
        order.updated_ms = fill.time_ms
        return fill

    def find(self, *, order_id: int | None = None, client_order_id: str | None = None) -> VenueOrder | None:
        """By venue id, else the latest order carrying ``client_order_id``."""
        if order_id is not None:
            return next((o for o in self.orders if o.order_id == order_id), None)
        return next((o for o in reversed(self.orders) if o.client_order_id == client_order_id), None)

    def orders_for(self, client_order_id: str) -> list[VenueOrder]:
        """Every order the venue created under ``client_order_id``."""
        return [o for o in self.orders if o.client_order_id == client_order_id]

    def position(self, symbol: str) -> Decimal:
        """The signed sum of the venue's fills in ``symbol``."""
        return sum((f.signed_quantity for f in self.fills if f.symbol == symbol), Decimal(0))

    @property
    def subscribers(self) -> int:
        """Private-stream connections subscribed right now."""
        return len(self._subscribers)

    @property
    def quiet(self) -> bool:
        """No request is being held or executed right now."""
        return self._pending == 0

    # -- the private stream ------------------------------------------------------------
    def emit(self, frame: str) -> None:
        """Send ``frame`` to every subscribed stream connection, through the stream faults."""
        faults = self.faults.stream
        if faults.off:
            return
        loop = asyncio.get_running_loop()
        for queue in list(self._subscribers):
            for _ in range(2 if faults.twice else 1):
                if faults.delay:
                    loop.call_later(faults.delay, queue.put_nowait, frame)
                else:
                    queue.put_nowait(frame)

    async def pump(self, ws: Any, transform: Callable[[str], str] | None = None) -> None:
        """Forward emitted frames to ``ws`` until it closes (call after the subscription handshake).

        ``transform`` rewrites each frame for this connection (e.g. its own sequence numbers).
        """
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.append(queue)
        receiver = asyncio.ensure_future(ws.wait_closed())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                frame = getter.result()
                await ws.send(transform(frame) if transform is not None else frame)
        except Exception:  # the client went away mid-send: nothing to serve
            return
        finally:
            receiver.cancel()
            self._subscribers.remove(queue)

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        if self.ws_path:
            from websockets.asyncio.server import serve

            self._ws_server = await serve(self.stream_session, "127.0.0.1", 0)
            port = self._ws_server.sockets[0].getsockname()[1]
            self.ws_url = f"ws://127.0.0.1:{port}{self.ws_path}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- the proxy in front of the venue ---------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                if not await self._one(request, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(
        self, request: VenueRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request through its fault rule; ``False`` when the connection is finished."""
        rule = self.faults.match(request.route)
        self._pending += 1
        try:
            if rule is not None and rule.held:
                await asyncio.sleep(rule.held)  # the client may give up meanwhile: the venue executes anyway
            if rule is not None and rule.fate == "reset_before":
                abort(writer)
                return False
            try:
                reply = self.handle(request)
            except Exception as exc:  # a venue bug must not look like a network fault
                reply = VenueReply(500, {"code": -1000, "msg": f"loopback venue error: {exc!r}"})
            self.log.append((request.route, reply.status))
        finally:
            self._pending -= 1
        if rule is None:
            await _send(writer, reply)
            return True
        return await _misbehave(rule, reply, reader, writer)


async def _send(writer: asyncio.StreamWriter, reply: VenueReply) -> None:
    head, body = serialise(reply)
    writer.write(head + body)
    await writer.drain()


async def _misbehave(
    rule: FaultRule, reply: VenueReply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    if rule.fate == "drop":
        await reader.read()  # never answered: until the client gives up and closes
        return False
    if rule.fate == "reset":
        abort(writer)
        return False
    if rule.delay:
        await asyncio.sleep(rule.delay)
    if rule.oversize_bytes is not None:
        head, _ = serialise(reply, b" " * rule.oversize_bytes)
        writer.write(head)
        pad = b'{"pad":"' + b"x" * (_CHUNK - 8)
        sent = 0
        while sent < rule.oversize_bytes and not writer.is_closing():
            piece = pad[: rule.oversize_bytes - sent]
            writer.write(piece)
            sent += len(piece)
            rule.sent = sent
            await writer.drain()
        return False
    head, body = serialise(reply)
    if rule.trickle_interval is not None:
        writer.write(head)
        for index in range(len(body)):
            if writer.is_closing():
                return False
            writer.write(body[index : index + 1])
            rule.sent = index + 1
            await writer.drain()
            await asyncio.sleep(rule.trickle_interval)
        return True
    writer.write(head + body)
    await writer.drain()
    return True
