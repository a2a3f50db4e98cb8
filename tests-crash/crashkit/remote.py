"""``RemotePaperAdapter``: the engine's side of the crash broker, with kill points.

Like a real adapter, its stream only carries what happens after it subscribed, so on
every subscription it first re-reads the fills since ``connect()`` (catch-up).

A kill point ``"name:n"`` (env ``CRASH_POINT``) SIGKILLs this process the n-th time
the point is reached: a real ``kill -9`` at an exact place, no cleanup, no flush.

It declares the broker's re-send guarantee (by default an expiry of
:data:`~crashkit.holds.DEFAULT_WINDOW` seconds, like Binance's ``recvWindow``): every
submit, cancel and modify carries a stamp by the broker's clock (:meth:`request_stamp`, from the
offset measured at ``connect()``), and :meth:`venue_time` asks the broker for its clock.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.errors import BrokerUnavailable
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.journal import codec
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position, utc_now
from autotrader_core.resend import ResendGuarantee, ResendRule
from autotrader_paper.adapter import PAPER_CAPABILITIES

from crashkit.broker import broker_settings
from crashkit.holds import DEFAULT_WINDOW
from crashkit.wire import error_from_wire, pack, unpack

__all__ = ["KillPoints", "RemotePaperAdapter"]


class KillPoints:
    """Counts named points; SIGKILLs the process at the planned one."""

    def __init__(self, plan: str | None) -> None:
        self.name, self.at = None, 0
        if plan:
            name, _, count = plan.partition(":")
            self.name, self.at = name, int(count or 1)
        self.counts: dict[str, int] = {}

    def reach(self, name: str) -> None:
        """Note that ``name`` was reached; die here if it is the planned kill."""
        count = self.counts[name] = self.counts.get(name, 0) + 1
        if name == self.name and count == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


class RemotePaperAdapter(BrokerAdapter):
    """The paper broker in another process, over loopback TCP."""

    name: ClassVar[str] = "paper"
    capabilities: ClassVar[Capabilities] = PAPER_CAPABILITIES

    def __init__(
        self, port: int, seed: int, kills: KillPoints, guarantee: ResendGuarantee | None = None
    ) -> None:
        self.port = port
        self.kills = kills
        self.resend_guarantee = guarantee or ResendGuarantee.expiry(
            DEFAULT_WINDOW, "crash broker (tests-crash)"
        )
        if self.resend_guarantee.rule is ResendRule.EXPIRY:
            self.unknown_outcome_settle_delay = self.resend_guarantee.window
        self._offset = timedelta(0)
        self._instruments = [spec.to_instrument() for spec in broker_settings(seed).instruments]
        self._stream: SocketStream | None = None
        self._receive: BufferedByteReceiveStream | None = None
        self._lock = anyio.Lock()
        self._ids = itertools.count(1)
        self._connected_at = utc_now()

    async def connect(self) -> None:
        self._connected_at = utc_now()
        self._stream = await anyio.connect_tcp("127.0.0.1", self.port)
        self._receive = BufferedByteReceiveStream(self._stream)
        # The broker's clock is not ours: measure the offset once, as a venue adapter syncs its clock.
        sent = utc_now()
        broker_now = await self.venue_time()
        self._offset = broker_now - (sent + (utc_now() - sent) / 2)

    def request_stamp(self) -> datetime:
        """The stamp a request sent now carries: our clock corrected to the broker's."""
        return utc_now() + self._offset

    async def venue_time(self) -> datetime:
        """The broker's clock, asked of the broker."""
        return datetime.fromisoformat(await self._call("time"))

    async def disconnect(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
            self._stream = None

    @property
    def is_connected(self) -> bool:
        return self._stream is not None

    async def _call(self, op: str, point: str | None = None, **args: Any) -> Any:
        if self._stream is None or self._receive is None:
            raise BrokerUnavailable("not connected", broker="paper")
        async with self._lock:
            if point:
                self.kills.reach(f"{point}.before_send")
            if args.get("stamp") is True:  # stamped as it leaves, so waiting for the lock cannot age it
                args["stamp"] = self.request_stamp().isoformat()
            try:
                await self._stream.send(pack({"id": next(self._ids), "op": op, "args": args}))
                reply = unpack(await self._receive.receive_until(b"\n", 1 << 22))
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError) as exc:
                raise BrokerUnavailable(f"crash broker connection lost: {exc!r}", broker="paper") from exc
            if point:
                self.kills.reach(f"{point}.after_send")  # the broker acted; we die before the reply counts
        if "error" in reply:
            raise error_from_wire(reply["error"])
        return reply["ok"]

    async def submit_order(self, order: Order) -> list[OrderEvent]:
        rows = await self._call("submit", "submit", order=codec.encode_order(order), stamp=True)
        return [codec.decode_event(r) for r in rows]

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        rows = await self._call("cancel", "cancel", order=codec.encode_order(order), stamp=True)
        return [codec.decode_event(r) for r in rows]

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        rows = await self._call(
            "modify",
            "modify",
            order=codec.encode_order(order),
            change={
                "quantity": _text(change.quantity),
                "limit_price": _text(change.limit_price),
                "stop_price": _text(change.stop_price),
            },
            stamp=True,
        )
        return [codec.decode_event(r) for r in rows]

    async def get_order(
        self, *, symbol: str, client_order_id: str | None = None, broker_order_id: str | None = None
    ) -> OrderReport:
        return codec.decode_report(
            await self._call(
                "get_order", symbol=symbol, client_order_id=client_order_id, broker_order_id=broker_order_id
            )
        )

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return [codec.decode_report(r) for r in await self._call("get_open_orders", symbol=symbol)]

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        rows = await self._call(
            "get_fills", symbol=symbol, since=None if since is None else since.isoformat()
        )
        return [codec.decode_fill(r) for r in rows]

    async def get_positions(self) -> list[Position]:
        return [Position(r["symbol"], Decimal(r["quantity"])) for r in await self._call("get_positions")]

    async def get_balances(self) -> list[Balance]:
        return []

    async def get_instruments(self) -> list[Instrument]:
        return list(self._instruments)

    async def price(self, symbol: str) -> Decimal:
        """The broker's current quote."""
        return Decimal(await self._call("price", symbol=symbol))

    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        stream = await anyio.connect_tcp("127.0.0.1", self.port)
        receive = BufferedByteReceiveStream(stream)
        try:
            await stream.send(pack({"id": 0, "op": "stream"}))
            await receive.receive_until(b"\n", 1 << 20)
            # Catch-up, as the adapter contract asks: what traded between connect() and this
            # subscription (the OMS drops the duplicates by trade id).
            for fill in await self.get_fills(since=self._connected_at - timedelta(seconds=5)):
                yield OrderFilled(fill)
            while True:
                event = codec.decode_event(unpack(await receive.receive_until(b"\n", 1 << 20))["event"])
                if isinstance(event, OrderFilled):
                    self.kills.reach("stream.fill")  # mid-fill: the broker filled, we never applied it
                yield event
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ):
            return
        finally:
            await stream.aclose()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
