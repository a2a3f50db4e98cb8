"""The broker that survives the engine: a paper simulator behind a loopback TCP server.

It runs in the test process (in a thread with its own event loop); only the engine
dies. Its market keeps moving while the engine is down (resting orders fill, partial
fills continue), and events produced while no engine listens are *not* replayed on
reconnect, as with a real broker's stream: the restarted engine must fetch them.

Requests in flight, as at a venue's gateway (:mod:`crashkit.holds`): on an armed
:class:`HoldPlan` the n-th submit, cancel or modify is held before it reaches the matching
engine (it lands after the engine was killed, while the restarted one recovers) or
executed with its reply lost. The broker enforces its declared re-send guarantee by
its own clock (which is off the engine's by a seeded offset): with an expiry, a request
reaching the matching engine later than its stamp plus the window is refused; with an
idempotency key, a repeated client order id returns the existing order. Every re-sent
submit the guarantee does not make safe is recorded in :attr:`BrokerServer.resend_violations`.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
from anyio.abc import SocketStream, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream
from autotrader_core.adapter import OrderChange
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import AutotraderError, BrokerError, OrderNotFound
from autotrader_core.events import OrderAccepted, OrderEvent
from autotrader_core.journal import codec
from autotrader_core.models import Fill, utc_now
from autotrader_core.resend import ResendGuarantee, ResendRule
from autotrader_paper import PaperAdapter, PaperSettings

from crashkit.holds import DEFAULT_WINDOW, HeldRequest, HoldMode, HoldPlan
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


def _default_guarantee() -> ResendGuarantee:
    return ResendGuarantee.expiry(DEFAULT_WINDOW, "crash broker (tests-crash)")


@dataclass
class _SubmitRecord:
    """One submit request for a client order id, as the gateway saw it (for the re-send audit)."""

    stamp: datetime | None
    arrived: datetime
    outcome: str | None = None


@dataclass
class BrokerServer:
    """Paper broker reachable at ``127.0.0.1:port``; ``tags`` maps each accepted client order id to its tag."""

    seed: int
    tick_seconds: float = 0.02
    guarantee: ResendGuarantee = field(default_factory=_default_guarantee)
    """The re-send guarantee this broker gives (and enforces by its own clock)."""
    clock_offset: float = 0.0
    """Seconds the broker's clock runs ahead of the machine's (negative: behind)."""
    adapter: PaperAdapter = field(init=False)
    port: int = 0
    tags: dict[str, str | None] = field(default_factory=dict)
    submits: list[str] = field(default_factory=list)
    """Client order ids of every submit the broker accepted, in order."""
    internal_errors: list[str] = field(default_factory=list)
    """Unexpected exceptions while serving (each one fails the scenario)."""
    holds: list[HeldRequest] = field(default_factory=list)
    """Every request held in flight, with its fate."""
    resend_violations: list[str] = field(default_factory=list)
    """Submits re-sent when the broker's guarantee did not make it safe (each one fails the scenario)."""
    held_now: threading.Event = field(default_factory=threading.Event)
    """Set (for the harness's thread) when the armed plan's request is held: kill the engine now."""
    _subscribers: list[SocketStream] = field(default_factory=list)
    _plan: HoldPlan | None = None
    _plan_seen: int = 0
    _requests: dict[str, list[_SubmitRecord]] = field(default_factory=dict)
    _landing: dict[str, anyio.Event] = field(default_factory=dict)
    _tg: TaskGroup = field(init=False)
    _broadcasting: anyio.Lock = field(init=False)

    def __post_init__(self) -> None:
        self.adapter = PaperAdapter(broker_settings(self.seed), session_id=f"s{self.seed}")

    def now(self) -> datetime:
        """The broker's clock (the one its expiry is measured by)."""
        return utc_now() + timedelta(seconds=self.clock_offset)

    def arm(self, plan: HoldPlan | None) -> None:
        """Hold the plan's request from now on (``None``: hold nothing). Call on the server's thread."""
        self._plan, self._plan_seen = plan, 0
        self.held_now.clear()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen, tick the market, serve clients until cancelled."""
        await self.adapter.connect()
        self._broadcasting = anyio.Lock()
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            self._tg = tg
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
        # One writer at a time: the ticker and a held request's landing broadcast from two tasks,
        # and a second write to a socket while one is under way raises BusyResourceError — which
        # dropped the subscriber here as if broken, so its engine's stream went silent with the
        # socket still open and the fills after it never arrived (tests/test_crash_broker.py).
        async with self._broadcasting:
            for event in events:
                line = pack({"event": codec.encode_event(event)})
                for stream in list(self._subscribers):
                    try:
                        await stream.send(line)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        # As a venue does: a subscriber it cannot write to is disconnected, so its
                        # engine sees the stream end and subscribes again (with its catch-up).
                        with contextlib.suppress(ValueError):
                            self._subscribers.remove(stream)
                        with contextlib.suppress(Exception):
                            await stream.aclose()

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
                op, args = request["op"], request.get("args", {})
                record = self._audit_resend(args) if op == "submit" else None
                held = self._maybe_hold(op, args)
                if held is not None:
                    if held.plan.mode is HoldMode.REPLY_LOST:
                        await self._execute(op, args, held, record)  # executed; the reply is never sent
                    else:
                        self._tg.start_soon(self._land_later, stream, request, held, record)
                    self.held_now.set()
                    continue
                reply = await self._execute(op, args, None, record, request["id"])
                await stream.send(pack(reply))
                self._after_reply(op, args, reply)
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

    # -- requests in flight -------------------------------------------------------------------------
    def _maybe_hold(self, op: str, args: dict[str, Any]) -> HeldRequest | None:
        plan = self._plan
        if plan is None or op != plan.op:
            return None
        self._plan_seen += 1
        if self._plan_seen != plan.nth:
            return None
        self._plan = None  # one hold per armed plan
        held = HeldRequest(
            op=op,
            client_order_id=str(args["order"]["client_order_id"]),
            plan=plan,
            arrived=self.now(),
            stamp=_stamp(args),
        )
        self.holds.append(held)
        if plan.mode is HoldMode.BEFORE_LAND:
            self._landing[held.client_order_id] = anyio.Event()
        return held

    async def _land_later(
        self, stream: SocketStream, request: dict[str, Any], held: HeldRequest, record: _SubmitRecord | None
    ) -> None:
        """Keep the request in the gateway, then let it reach the matching engine (or expire)."""
        with anyio.move_on_after(held.plan.hold):
            if held.plan.race:
                await self._landing[held.client_order_id].wait()
            else:
                await anyio.sleep_forever()
        self._landing.pop(held.client_order_id, None)
        reply = await self._execute(request["op"], request.get("args", {}), held, record, request["id"])
        if held.outcome == "executed":
            # A venue's private stream reports what the matching engine did, to whoever listens now.
            await self._broadcast([codec.decode_event(row) for row in reply["ok"]])
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await stream.send(pack(reply))  # to the engine that sent it, if it is still alive

    def _after_reply(self, op: str, args: dict[str, Any], reply: dict[str, Any]) -> None:
        """The targeted race: a held request lands right after a lookup was told it does not exist."""
        if op != "get_order" or reply.get("error", {}).get("type") != OrderNotFound.__name__:
            return
        cid = args.get("client_order_id")
        for held in self.holds:
            if held.client_order_id == cid and held.undecided:
                held.looked_up_missing += 1
        if cid in self._landing:
            self._landing[cid].set()

    def _audit_resend(self, args: dict[str, Any]) -> _SubmitRecord:
        """Record a submit at the gateway; a re-send the guarantee does not make safe is a violation."""
        cid = str(args["order"]["client_order_id"])
        now, stamp = self.now(), _stamp(args)
        earlier = self._requests.setdefault(cid, [])
        rule = self.guarantee.rule
        if earlier and rule not in (ResendRule.IDEMPOTENCY_KEY, ResendRule.SAME_ID):
            unsafe = [
                r
                for r in earlier
                if r.outcome != "expired"
                and not (
                    rule is ResendRule.EXPIRY
                    and r.outcome is None
                    and r.stamp is not None
                    and self.guarantee.expired_by(r.stamp, now)
                )
            ]
            if unsafe:
                self.resend_violations.append(
                    f"{cid} re-sent under a {rule.value} guarantee while an earlier submit "
                    f"{'executed' if unsafe[0].outcome == 'executed' else 'could still land'} "
                    f"({unsafe[0].outcome or 'held'})"
                )
        record = _SubmitRecord(stamp, now)
        earlier.append(record)
        return record

    async def _execute(
        self,
        op: str,
        args: dict[str, Any],
        held: HeldRequest | None,
        record: _SubmitRecord | None,
        request_id: Any = None,
    ) -> dict[str, Any]:
        """The matching engine's door: the expiry check, then the operation; the reply as sent."""
        reply: dict[str, Any] = {"id": request_id}
        outcome = "executed"
        try:
            stamp = _stamp(args)
            if (
                op in ("submit", "cancel", "modify")
                and stamp is not None
                and self.guarantee.expired_by(stamp, self.now())
            ):
                outcome = "expired"
                raise BrokerError(
                    f"request stamped {stamp.isoformat()} reached the matching engine after its "
                    f"{self.guarantee.window}s window",
                    broker="paper",
                    code="REQUEST_EXPIRED",
                )
            if op == "submit" and self._deduplicates(args):
                outcome = "deduplicated"
            reply["ok"] = await self._handle(op, args)
        except AutotraderError as exc:
            reply["error"] = error_to_wire(exc)
            if outcome == "executed":
                outcome = f"refused: {exc.message}"
        except Exception as exc:  # a bug in the broker or the request: answer, and tell the test
            self.internal_errors.append(f"{op}: {exc!r}")
            reply["error"] = {"type": "BrokerProtocolError", "message": repr(exc), "code": None}
            outcome = f"refused: {exc!r}"
        if record is not None:
            record.outcome = outcome
        if held is not None:
            held.outcome, held.landed = outcome, self.now()
        return reply

    def _deduplicates(self, args: dict[str, Any]) -> bool:
        if self.guarantee.rule not in (ResendRule.IDEMPOTENCY_KEY, ResendRule.SAME_ID):
            return False
        try:
            self.adapter.simulator.find(client_order_id=str(args["order"]["client_order_id"]))
        except AutotraderError:
            return False
        return True

    async def _handle(self, op: str, args: dict[str, Any]) -> Any:
        adapter = self.adapter
        if op == "time":
            return self.now().isoformat()
        if op == "submit":
            order = codec.decode_order(args["order"])
            if self._deduplicates(args):
                # An idempotency key: the repeated client order id gets the existing order back.
                sim = adapter.simulator.find(client_order_id=order.client_order_id)
                return [codec.encode_event(OrderAccepted(order.client_order_id, sim.broker_order_id))]
            events = await adapter.submit_order(order)
            self.tags[order.client_order_id] = order.tag
            self.submits.append(order.client_order_id)
            return [codec.encode_event(e) for e in events]
        if op == "cancel":
            events = await adapter.cancel_order(codec.decode_order(args["order"]))
            return [codec.encode_event(e) for e in events]
        if op == "modify":
            terms = {k: None if v is None else Decimal(v) for k, v in args["change"].items()}
            events = await adapter.modify_order(codec.decode_order(args["order"]), OrderChange(**terms))
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

    def in_flight(self) -> list[HeldRequest]:
        """Held requests that may still execute when they land (by the broker's clock now)."""
        now = self.now()
        return [held for held in self.holds if held.may_still_execute(self.guarantee, now)]

    def statuses(self) -> dict[str, OrderStatus]:
        """Every order the broker has, by client order id: its status now."""
        return {cid: self.adapter.simulator.find(client_order_id=cid).status for cid in self.tags}

    def limit_prices(self) -> dict[str, Decimal | None]:
        """Every order the broker has, by client order id: its limit price now (after any modify)."""
        return {cid: self.adapter.simulator.find(client_order_id=cid).limit_price for cid in self.tags}


def _stamp(args: dict[str, Any]) -> datetime | None:
    stamp = args.get("stamp")
    return None if stamp is None else datetime.fromisoformat(str(stamp))
