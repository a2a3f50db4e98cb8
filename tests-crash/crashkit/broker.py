"""The broker that survives the engine: a paper simulator behind a loopback TCP server.

It runs in the test process (in a thread with its own event loop); only the engine
dies. Its market keeps moving while the engine is down (resting orders fill, partial
fills continue), and events produced while no engine listens are *not* replayed on
reconnect, as with a real broker's stream: the restarted engine must fetch them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from autotrader_core.errors import AutotraderError
from autotrader_core.events import OrderEvent
from autotrader_core.journal import codec
from autotrader_core.models import Fill
from autotrader_paper import PaperAdapter, PaperSettings

from crashkit.wire import error_to_wire, pack, unpack

__all__ = ["BrokerServer", "broker_settings"]


def broker_settings(seed: int) -> PaperSettings:
    """Deterministic market: seeded random walk, chunked fills, deep pockets."""
    return PaperSettings(
        seed=seed,
        volatility=Decimal("0.0005"),
        initial_balances={"USDT": Decimal("1000000000"), "BTC": Decimal(1000), "ETH": Decimal(1000)},
        partial_fill_threshold=Decimal("0.002"),
        slippage_bps=Decimal(1),
        tick_interval=0,
        history_limit=None,
    )


@dataclass
class BrokerServer:
    """Paper broker reachable at ``127.0.0.1:port``; ``tags`` maps each accepted client order id to its tag."""

    seed: int
    tick_seconds: float = 0.02
    adapter: PaperAdapter = field(init=False)
    port: int = 0
    tags: dict[str, str | None] = field(default_factory=dict)
    submits: list[str] = field(default_factory=list)
    """Client order ids of every submit the broker accepted, in order."""
    internal_errors: list[str] = field(default_factory=list)
    """Unexpected exceptions while serving (each one fails the scenario)."""
    _subscribers: list[SocketStream] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.adapter = PaperAdapter(broker_settings(self.seed), session_id=f"s{self.seed}")

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen, tick the market, serve clients until cancelled."""
        await self.adapter.connect()
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._ticker)
            task_status.started(self.port)
            await listener.serve(self._client, task_group=tg)

    async def _ticker(self) -> None:
        while True:
            await anyio.sleep(self.tick_seconds)
            try:
                events = self.adapter.simulator.advance(1)
            except Exception as exc:  # keep the market running; fail the scenario
                self.internal_errors.append(f"tick: {exc!r}")
                continue
            await self._broadcast(events)

    async def _broadcast(self, events: list[OrderEvent]) -> None:
        for event in events:
            line = pack({"event": codec.encode_event(event)})
            for stream in list(self._subscribers):
                try:
                    await stream.send(line)
                except (
                    anyio.BrokenResourceError,
                    anyio.ClosedResourceError,
                    anyio.BusyResourceError,
                    OSError,
                ):
                    with contextlib.suppress(ValueError):
                        self._subscribers.remove(stream)

    async def _client(self, stream: SocketStream) -> None:
        receive = BufferedByteReceiveStream(stream)
        try:
            while True:
                line = await receive.receive_until(b"\n", 1 << 20)
                request = unpack(line)
                if request.get("op") == "stream":
                    # Ack first: once subscribed, only the ticker may write to this socket.
                    await stream.send(pack({"id": request["id"], "ok": True}))
                    self._subscribers.append(stream)
                    await anyio.sleep_forever()
                reply: dict[str, Any] = {"id": request["id"]}
                try:
                    reply["ok"] = await self._handle(request["op"], request.get("args", {}))
                except AutotraderError as exc:
                    reply["error"] = error_to_wire(exc)
                except Exception as exc:  # a bug in the broker or the request: answer, and tell the test
                    self.internal_errors.append(f"{request.get('op')}: {exc!r}")
                    reply["error"] = {"type": "BrokerProtocolError", "message": repr(exc), "code": None}
                await stream.send(pack(reply))
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            OSError,
        ):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(stream)
            await stream.aclose()

    async def _handle(self, op: str, args: dict[str, Any]) -> Any:
        adapter = self.adapter
        if op == "submit":
            order = codec.decode_order(args["order"])
            events = await adapter.submit_order(order)
            self.tags[order.client_order_id] = order.tag
            self.submits.append(order.client_order_id)
            return [codec.encode_event(e) for e in events]
        if op == "cancel":
            events = await adapter.cancel_order(codec.decode_order(args["order"]))
            return [codec.encode_event(e) for e in events]
        if op == "get_order":
            report = await adapter.get_order(
                symbol=args["symbol"],
                client_order_id=args.get("client_order_id"),
                broker_order_id=args.get("broker_order_id"),
            )
            return codec.encode_report(report)
        if op == "get_open_orders":
            return [codec.encode_report(r) for r in await adapter.get_open_orders(args.get("symbol"))]
        if op == "get_fills":
            since = args.get("since")
            fills = await adapter.get_fills(
                symbol=args.get("symbol"), since=None if since is None else datetime.fromisoformat(since)
            )
            return [codec.encode_fill(f) for f in fills]
        if op == "get_positions":
            return [{"symbol": p.symbol, "quantity": str(p.quantity)} for p in await adapter.get_positions()]
        if op == "price":
            price = adapter.last_price(args["symbol"])
            return None if price is None else str(price)
        raise ValueError(f"unknown op {op!r}")

    # -- what the checks read (call from the server's thread via the portal) --------------------
    def fills(self) -> list[Fill]:
        """Every fill the broker made."""
        fills: list[Fill] = self.adapter.simulator.fills()
        return fills

    def positions(self) -> dict[str, Decimal]:
        """The broker's net positions."""
        return {p.symbol: p.quantity for p in self.adapter.simulator.positions()}
