"""Run a strategy against an account gateway: the same ``Strategy`` class, another connect line.

.. code-block:: python

    # in process:
    async with ExecutionEngine(adapter, strategy=BuyTheDip()) as engine:
        await engine.run(duration=60)

    # through the gateway of the binance testnet account (any machine that reaches NATS):
    async with connect_gateway("binance", "testnet", strategy=BuyTheDip()) as engine:
        await engine.run(duration=60)

The strategy gets the same hooks (``on_start``, ``decide``, ``on_quote``, ``on_fill``,
``on_order_update``, ``on_stop``) and a :class:`~autotrader_core.strategy.StrategyContext`
with the same reads. It sees its own orders only (ownership is the strategy's ``name``;
the gateway refuses to cancel or modify another strategy's order). Client order ids are
generated here, before the command leaves, so a re-sent command names the same order.

The symbols the strategy declares (``Strategy.symbols``) are subscribed on the gateway
engine's market feed at connect; its quotes and stale markers keep a local
:class:`~autotrader_core.market_data.PriceCache`, so ``ctx.quote`` / ``ctx.last_price`` /
``ctx.price_age`` read as in process (a stale price is ``None``, never an old one).

Events come from a durable JetStream consumer named after the strategy: a strategy that
restarts gets every event it missed (``on_fill`` / ``on_order_update`` are called for
them), or, with ``replay_from=<sequence>``, everything from that stream sequence.

While ``run()`` waits, Ctrl-C and ``SIGTERM`` stop this strategy only: its decision loop
stops, the orders it owns are cancelled through the gateway, positions stay, a summary is
printed and ``run()`` returns normally. The account is never halted (see
:mod:`autotrader_nats.shutdown`); ``handle_signals=False`` leaves signals to you.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TextIO

import anyio
import anyio.lowlevel
import nats
import nats.js.errors
from autotrader_core.control import AccountId
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import AutotraderError, BrokerUnavailable, RateLimited, RequestTimeout
from autotrader_core.events import OrderFilled
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.journal import codec
from autotrader_core.kill_switch import kill_on_signals_active
from autotrader_core.market_data import PriceCache, Quote
from autotrader_core.models import Balance, ExecutionDecision, Instrument, Order, Position, utc_now
from autotrader_core.orders import build_order, decision_target
from autotrader_core.settings import EngineSettings
from autotrader_core.shutdown import signals_supported
from autotrader_core.strategy import Strategy, strategy_symbols
from nats.js import api

from autotrader_nats._events import event_factory
from autotrader_nats.connection import connect_nats
from autotrader_nats.settings import NatsSettings
from autotrader_nats.shutdown import RemoteShutdownReport
from autotrader_nats.wire import (
    REPLY_HEADER,
    AccountNames,
    decode_balance,
    decode_error,
    decode_instrument,
    decode_market_data,
    decode_position,
    dumps,
    event_bodies,
    loads,
    loads_from_gateway,
    needs_account_subject,
)

__all__ = ["RemoteContext", "RemoteEngine", "connect_gateway"]

logger = logging.getLogger(__name__)

_EVENT_ACK_WAIT = 5.0
_REPLAY_INACTIVE = 5.0
"""Seconds a replay consumer outlives its subscription (the server's default for an unnamed one)."""
_SEEN_FILLS = 200_000
_ACK_EVERY = 64
_QUIET_ASK = 5.0
_WATCH_TICK = 0.05
_DECODED_ORDERS = 1024


class _Waiter:
    """One command waiting for its reply: woken by the reply, or by the watchdog at ``wake_at``."""

    __slots__ = ("event", "new_event", "reply", "wake_at")

    def __init__(self, new_event: Callable[[], anyio.Event]) -> None:
        self.new_event = new_event
        self.event = new_event()
        self.reply: bytes | None = None
        self.wake_at = math.inf


def connect_gateway(
    broker: str,
    environment: str,
    *,
    account: str = "default",
    strategy: Strategy | None = None,
    owner: str | None = None,
    nats_settings: NatsSettings | None = None,
    settings: EngineSettings | None = None,
    replay_from: int | None = None,
    cancel_on_disconnect: bool = False,
) -> RemoteEngine:
    """A :class:`RemoteEngine` for the gateway of ``broker/environment/account`` (use ``async with``)."""
    return RemoteEngine(
        AccountId(broker, environment, account),
        strategy=strategy,
        owner=owner,
        nats_settings=nats_settings,
        settings=settings,
        replay_from=replay_from,
        cancel_on_disconnect=cancel_on_disconnect,
    )


class RemoteContext:
    """The :class:`~autotrader_core.strategy.StrategyContext` of a remote strategy (local caches)."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine

    @property
    def now(self) -> datetime:
        """Current UTC time."""
        return utc_now()

    def last_price(self, symbol: str) -> Decimal | None:
        """The mid of the fresh quote relayed from the gateway's market feed (``None`` when stale);
        for a symbol not on the feed, the gateway's last broadcast price (the paper broker's)."""
        market = self._engine.market
        if symbol in market.known:
            reading = market.last_price(symbol)
            return None if reading is None else reading.price  # stale: no price, never an old one
        return self._engine.prices.get(symbol)

    def position(self, symbol: str) -> Position:
        """The account's net position in ``symbol`` as of the last event received."""
        return self._engine.positions.get(symbol) or Position(symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This strategy's orders still working."""
        return [
            o for o in self._engine.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def instrument(self, symbol: str) -> Instrument | None:
        """Trading rules of ``symbol``."""
        return self._engine.instruments.get(symbol)

    def balances(self) -> list[Balance]:
        """Balances as last published by the gateway."""
        return list(self._engine.balances)

    def quote(self, symbol: str) -> Quote | None:
        """The latest fresh best bid/ask of ``symbol`` (``None`` when stale or never quoted)."""
        market = self._engine.market
        return market.quote(symbol) if market.is_fresh(symbol) else None

    def price_age(self, symbol: str) -> float | None:
        """Seconds since ``symbol``'s latest quote arrived at the gateway (for a symbol not on the
        feed: since the gateway's last broadcast price; ``None``: never received)."""
        age = self._engine.market.age(symbol)
        if age is not None:
            return age
        received = self._engine.price_times.get(symbol)
        return None if received is None else max(0.0, time.monotonic() - received)

    async def cancel(self, order: Order | str) -> Order:
        """Cancel one of this strategy's orders through the gateway (``pending_cancel`` until confirmed)."""
        return await self._engine.cancel_order(order)

    async def modify(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Modify one of this strategy's orders through the gateway."""
        return await self._engine.modify_order(
            order, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )


class RemoteEngine:
    """A strategy's side of an account gateway: commands out, events in, same strategy API.

    Args:
        account: Which gateway (``broker/environment/account``).
        strategy: Driven like in process (decision cycle, fills, order updates).
        owner: Ownership name (default: the strategy's ``name``, else ``"manual"``).
        nats_settings: How to reach NATS.
        settings: ``decision_interval`` and ``handle_signals`` are used from it
            (``on_signal="kill"`` is not: a strategy never kills the account it shares).
        replay_from: Deliver events from this event-stream sequence (default: every
            event this owner has not acknowledged yet, via its durable consumer). One replay
            of a strategy at a time: its consumer is named after the strategy (a permission
            can then allow it), so a new replay ends the one before.
        cancel_on_disconnect: Ask the gateway to cancel this strategy's open orders when it
            goes away: at once on :meth:`stop`, and when its heartbeats (every
            ``heartbeat_interval`` seconds) stop for ``3 × heartbeat_interval`` — the process
            died, or lost NATS. Without it (the default) its orders stay at the broker.
        heartbeat_interval: Seconds between heartbeats (with ``cancel_on_disconnect``).
    """

    def __init__(
        self,
        account: AccountId,
        *,
        strategy: Strategy | None = None,
        owner: str | None = None,
        nats_settings: NatsSettings | None = None,
        settings: EngineSettings | None = None,
        replay_from: int | None = None,
        cancel_on_disconnect: bool = False,
        heartbeat_interval: float = 1.0,
    ) -> None:
        if heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        self.account = account
        self.cancel_on_disconnect = cancel_on_disconnect
        self.heartbeat_interval = heartbeat_interval
        self.names = AccountNames(account)
        self.strategy = strategy
        self.owner = owner or (strategy.name if strategy is not None else "manual")
        self.nats_settings = nats_settings or NatsSettings()
        self.settings = settings or EngineSettings()
        self.replay_from = replay_from
        self.ids = ClientOrderIdGenerator()
        self.context = RemoteContext(self)
        self.orders: dict[str, Order] = {}
        """This strategy's orders by client order id (latest state seen)."""
        self.positions: dict[str, Position] = {}
        self.balances: list[Balance] = []
        self.instruments: dict[str, Instrument] = {}
        self.prices: dict[str, Decimal] = {}
        self.price_times: dict[str, float] = {}
        """``time.monotonic()`` when each symbol's latest price arrived."""
        self.symbols = strategy_symbols(strategy)
        """Symbols subscribed on the gateway's market feed (the strategy's ``symbols``)."""
        self.market = PriceCache(max_age=self.settings.max_quote_age)
        """Quotes and stale markers relayed from the gateway engine's market feed."""
        self.trading_state = "active"
        self._last_event_sequence = 0
        self._last_event: Any = None
        """The last event message applied (its sequence is read from it only when asked for)."""
        self._commands_subject = self.names.commands_of(self.owner)
        self._nc: Any = None
        self._js: Any = None
        self._inbox = ""
        self._waiters: dict[str, _Waiter] = {}
        self._new_event: Callable[[], anyio.Event] = anyio.Event
        """Makes a waiting command's event (the running backend's class, once known)."""
        self._watching = False
        """The reply watchdog runs: a waiting command needs no timer of its own."""
        self._decoded: dict[str, list[tuple[dict[str, Any], Order]]] = {}
        """The last two order bodies decoded per client order id, with their Orders (a bounded few ids)."""
        self._task_group: Any = None
        self._stopped = anyio.Event()
        self._started = anyio.Event()
        self._seen_fills: set[tuple[str, str]] = set()
        self._seen_order: collections.deque[tuple[str, str]] = collections.deque()
        self._reconnects = 0
        self._event_sub: Any = None
        self._ack_all = False
        self._unacked = 0
        self._acked_at = 0.0
        self._running = False
        self._halt_decisions = False
        self._order_changed: anyio.Event | None = None
        """Set (and dropped) when an order's state changes; made only while somebody waits."""
        self._decision_lock = anyio.Lock()
        self._decision_scope: anyio.CancelScope | None = None
        self.shutdown_report: RemoteShutdownReport | None = None
        """What the last Ctrl-C / ``SIGTERM`` during :meth:`run` did (``None``: none came)."""

    @property
    def last_event_sequence(self) -> int:
        """Event-stream sequence of the last event applied (a restart can replay from here)."""
        if self._last_event is not None:  # parsed here, not for every event (most are never asked)
            self._last_event_sequence = int(self._last_event.metadata.sequence.stream)
            self._last_event = None
        return self._last_event_sequence

    @last_event_sequence.setter
    def last_event_sequence(self, sequence: int) -> None:
        self._last_event, self._last_event_sequence = None, sequence

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect, load the snapshot (instruments, balances, positions, own open orders), subscribe."""
        self._nc = await connect_nats(
            self.nats_settings,
            role=f"strategy-{self.owner}",
            reconnected_cb=self._on_reconnected,
            inbox_prefix=self.names.inbox_prefix(self.owner),
        )
        self._js = self._nc.jetstream()
        self._inbox = self._nc.new_inbox()
        await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        await self._nc.subscribe(self.names.quotes, cb=self._on_quotes)
        # Balances as they are published (the snapshot below has the ones before), not through
        # a consumer of the event stream: a strategy needs no right to read that stream beyond
        # its own order events (docs: deployment-nats, "Security"). Missed ones while the
        # connection was down are read again from a snapshot (_on_reconnected).
        await self._nc.subscribe(self.names.account_events, cb=self._on_account_event)
        for symbol in self.symbols:  # before the snapshot: no quote falls between the two
            await self._nc.subscribe(self.names.market_data(symbol), cb=self._on_market_data)
        await self._load_snapshot()
        await self._subscribe_events()
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._new_event = event_factory()
        self._running = True
        self._watching = True
        self._task_group.start_soon(self._watch_replies)
        if self.cancel_on_disconnect:
            await self._heartbeat_once()  # the gateway watches this strategy from now on
            self._task_group.start_soon(self._heartbeats)
        if self.strategy is not None:
            await self.strategy.on_start(self.context)
            self._task_group.start_soon(self._decision_loop)
        self._started.set()  # events that arrived meanwhile reach the strategy now, in order

    async def run(
        self, *, duration: float | None = None, handle_signals: bool | None = None, out: TextIO | None = None
    ) -> None:
        """Wait until :meth:`stop` is called, ``duration`` seconds pass, or Ctrl-C / ``SIGTERM``.

        On the first signal this strategy stops (:meth:`shut_down`: its decision loop
        stops, its own open orders are cancelled, positions stay, the account keeps
        trading), a summary goes to ``out`` (default stderr) and ``run()`` returns normally.
        ``handle_signals=False`` (or ``settings.handle_signals``) leaves signals to you, and
        so does a :func:`~autotrader_core.kill_switch.kill_on_signals` already listening.
        """
        handle = self.settings.handle_signals if handle_signals is None else handle_signals
        with anyio.move_on_after(math.inf if duration is None else duration):
            await anyio.lowlevel.checkpoint()  # a kill_on_signals task started just before owns them
            if not (handle and signals_supported()) or kill_on_signals_active():
                await self._stopped.wait()
                return
            done = anyio.Event()

            async def listen(*, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                    task_status.started()
                    async for signum in received:
                        with anyio.CancelScope(shield=True):
                            report = await self.shut_down(signal.Signals(signum).name)
                            print(report.describe(), file=out if out is not None else sys.stderr, flush=True)
                        break
                done.set()

            async def stopped() -> None:
                await self._stopped.wait()
                done.set()

            async with anyio.create_task_group() as tg:
                await tg.start(listen)
                tg.start_soon(stopped)
                await done.wait()
                tg.cancel_scope.cancel()

    async def shut_down(self, signal_name: str = "shutdown") -> RemoteShutdownReport:
        """Stop this strategy safely: no more decisions, its own open orders cancelled, positions left.

        Never halts the account nor engages its kill switch (other strategies share it).
        A decision cycle in flight finishes first, so no order is left with an unknown
        outcome. Returns (and keeps in ``shutdown_report``) what was done; logs it too.
        """
        await self._stop_deciding()
        try:  # the gateway's word on which of our orders are open, not only our cache
            await self._load_snapshot()
        except (nats.errors.Error, TimeoutError, ValueError) as exc:
            logger.warning("snapshot at shutdown failed (%s); cancelling the orders known here", exc)
        mine = [o.client_order_id for o in self.context.open_orders()]
        for cid in mine:
            try:
                await self.cancel_order(cid)
            except AutotraderError as exc:
                logger.warning("cancel of %s at shutdown failed: %s", cid, exc)
        with anyio.move_on_after(self.nats_settings.request_timeout):
            while any(self.orders[cid].is_open for cid in mine):  # confirmed by the gateway's events
                if self._order_changed is None:
                    self._order_changed = anyio.Event()
                await self._order_changed.wait()
        report = RemoteShutdownReport(
            signal=signal_name,
            owner=self.owner,
            account=str(self.account),
            canceled=[cid for cid in mine if self.orders[cid].status is OrderStatus.CANCELED],
            still_open=[cid for cid in mine if self.orders[cid].is_open],
            positions={s: p.quantity for s, p in sorted(self.positions.items()) if not p.is_flat},
        )
        self.shutdown_report = report
        logger.info("%s", report.describe())
        return report

    async def _stop_deciding(self) -> None:
        self._halt_decisions = True
        # Let a cycle in flight finish (its orders' outcomes become known), then end the loop.
        with anyio.move_on_after(self.nats_settings.request_timeout + 1.0) as waited:
            async with self._decision_lock:
                pass
        if waited.cancelled_caught:
            logger.warning("decision cycle still running at shutdown; cancelled")
        if self._decision_scope is not None:
            self._decision_scope.cancel()

    async def stop(self) -> None:
        """Stop the decision cycle, call ``on_stop``, disconnect (orders stay at the gateway's broker)."""
        if not self._running:
            if self._nc is not None:
                await self._nc.close()
                self._nc = None
            return
        self._running = False
        if self.strategy is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await self.strategy.on_stop(self.context)
                except Exception:
                    logger.exception("strategy on_stop failed")
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None
        with anyio.CancelScope(shield=True):
            if self._nc is not None and self.cancel_on_disconnect:
                try:  # leaving: the gateway cancels this strategy's orders now, not after a timeout
                    await self._heartbeat_once(leaving=True)
                except Exception:
                    logger.warning(
                        "leave notice not sent; the gateway cancels after the timeout", exc_info=True
                    )
            if self._nc is not None:
                try:  # acknowledgements of events already handled leave first
                    await self._nc.flush(timeout=2)
                except Exception:
                    logger.warning("NATS flush at stop failed", exc_info=True)
                await self._nc.close()
                self._nc = None
        self._stopped.set()

    async def _heartbeat_once(self, *, leaving: bool = False) -> None:
        body = {"owner": self.owner, "timeout": 3 * self.heartbeat_interval, "leaving": leaving}
        await self._nc.publish(self.names.heartbeats(self.owner), dumps(body))

    async def _heartbeats(self) -> None:
        while True:
            await anyio.sleep(self.heartbeat_interval)
            try:
                await self._heartbeat_once()
            except Exception as exc:  # reconnecting: the next one goes when NATS is back
                logger.debug("heartbeat not sent: %s", exc)

    async def _request_snapshot(self, symbols: list[str]) -> dict[str, Any]:
        reply = await self._nc.request(
            self.names.service("snapshot", self.owner),
            dumps({"owner": self.owner, "symbols": symbols}),
            timeout=self.nats_settings.request_timeout,
        )
        body = loads(reply.data)
        if "error" in body:  # e.g. a declared symbol the venue doesn't list
            raise decode_error(body["error"])
        return body

    async def _load_snapshot(self) -> None:
        body = await self._request_snapshot(self.symbols)
        for raw in body.get("quotes", []):
            quote = decode_market_data(raw)
            if isinstance(quote, Quote) and self.market.quote(quote.symbol) is None:
                self.market.update(quote)  # only if no relayed one (newer) arrived meanwhile
        for symbol, reason in (body.get("stale") or {}).items():
            self.market.mark_stale(str(symbol), str(reason))
        self.trading_state = str(body.get("trading_state", "active"))
        self.instruments = {i.symbol: i for i in (decode_instrument(x) for x in body.get("instruments", []))}
        self.balances = [decode_balance(b) for b in body.get("balances", [])]
        self.positions = {p.symbol: p for p in (decode_position(x) for x in body.get("positions", []))}
        for raw in body.get("orders", []):
            self._remember(codec.decode_order(raw))

    async def _subscribe_events(self) -> None:
        # Consumers are made by name, so the subject that makes one carries its name and its
        # filter ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>): a permission can then
        # allow a strategy its own and no other (docs: deployment-nats, "Security").
        durable = self.names.event_consumer(self.owner)
        if self.replay_from is not None:
            name = self.names.replay_consumer(self.owner)
            with contextlib.suppress(nats.js.errors.NotFoundError):  # an earlier replay's, if still there
                await self._js.delete_consumer(self.names.event_stream, name)
            config = api.ConsumerConfig(
                name=name,
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.replay_from,
                inactive_threshold=_REPLAY_INACTIVE,
            )
            await self._js.subscribe(
                self.names.order_events(self.owner),
                stream=self.names.event_stream,
                cb=self._on_event,
                config=config,
                manual_ack=True,
            )
        else:
            # A short ack wait: an event lost in flight (a NATS node restarting) comes again
            # within seconds; repeats are harmless (fills are de-duplicated on trade id).
            # Ack policy "all": one ack covers every event before it, so a burst costs one
            # ack (sent when no more events wait, every _ACK_EVERY or every second), not one per event.
            self._event_sub = await self._js.subscribe(
                self.names.order_events(self.owner),
                durable=durable,
                stream=self.names.event_stream,
                cb=self._on_event,
                manual_ack=True,
                config=api.ConsumerConfig(
                    name=durable, ack_wait=_EVENT_ACK_WAIT, ack_policy=api.AckPolicy.ALL
                ),
            )
            # A durable made by an earlier version keeps its explicit policy: ack each event then.
            info = await self._event_sub.consumer_info()
            self._ack_all = info.config.ack_policy == api.AckPolicy.ALL

    # -- commands ---------------------------------------------------------------------------
    async def submit_order(
        self,
        symbol: str,
        side: OrderSide | str,
        quantity: Decimal | int | str,
        *,
        order_type: OrderType | str = OrderType.MARKET,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Send one order through the gateway (same arguments, outcome and errors as in process).

        Floats are refused here, before anything is sent (``InvalidOrder``).
        """
        return await self._submit(
            symbol,
            side,
            quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            tag=tag,
            client_order_id=client_order_id,
        )

    async def _submit(
        self,
        symbol: str,
        side: OrderSide | str,
        quantity: Decimal | int | str,
        *,
        order_type: OrderType | str = OrderType.MARKET,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str | None = None,
        client_order_id: str | None = None,
        close: bool = False,
    ) -> Order:
        order = build_order(  # validates here: bad input never leaves this process
            client_order_id=client_order_id or self.ids.next_id(),
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            broker=self.account.broker,
            tag=tag,
        )
        args = {
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "order_type": order.order_type.value,
            "limit_price": None if order.limit_price is None else str(order.limit_price),
            "stop_price": None if order.stop_price is None else str(order.stop_price),
            "time_in_force": order.time_in_force.value,
            "post_only": order.post_only,
            "reduce_only": order.reduce_only,
            "tag": tag,
            "close": close,
        }
        # An id made here has never been sent: no earlier copy can be in the de-dup window.
        body = await self._command("submit", args, order.client_order_id, fresh=client_order_id is None)
        return self._remember(self._decode_order(body["order"]))

    async def cancel_order(self, order: Order | str) -> Order:
        """Ask the gateway to cancel one of this strategy's orders."""
        cid = order.client_order_id if isinstance(order, Order) else order
        body = await self.command("cancel", {"client_order_id": cid})
        return self._remember(self._decode_order(body["order"]))

    async def modify_order(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Change a working order's quantity and/or prices."""
        cid = order.client_order_id if isinstance(order, Order) else order
        args = {
            "client_order_id": cid,
            "quantity": None if quantity is None else str(quantity),
            "limit_price": None if limit_price is None else str(limit_price),
            "stop_price": None if stop_price is None else str(stop_price),
        }
        body = await self.command("modify", args)
        return self._remember(self._decode_order(body["order"]))

    async def execute(self, decision: ExecutionDecision) -> Order | None:
        """Turn a strategy decision into an order (``None`` for HOLD or a flat CLOSE)."""
        target = decision_target(decision, self.context.position(decision.symbol))
        if target is None:
            return None
        if target.closes:  # reduce-only where the gateway's adapter supports it, as in process
            return await self._submit(
                decision.symbol, target.side, target.quantity, tag=decision.tag, close=True
            )
        return await self.submit_order(
            decision.symbol,
            target.side,
            target.quantity,
            order_type=decision.order_type,
            limit_price=decision.limit_price,
            stop_price=decision.stop_price,
            time_in_force=decision.time_in_force,
            post_only=decision.post_only,
            tag=decision.tag,
        )

    async def command(
        self, kind: str, args: dict[str, Any], *, command_id: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its outcome; the gateway's typed error is raised as itself.

        The command is published with ``Nats-Msg-Id`` = its id, and re-published with the
        same id whenever it may not have been stored: the gateway executes it once whatever
        happens. A reply that does not come is asked for (``svc.result``) before giving up
        with ``RequestTimeout`` (outcome unknown, never guessed).

        Args:
            kind: One of :data:`~autotrader_nats.wire.COMMAND_KINDS`.
            args: The command's arguments.
            command_id: Its id (default: a new one). An id given here may have been sent
                before (a re-send after a timeout), so its publish waits for JetStream's
                acknowledgement, which tells a duplicate at once.
        """
        if command_id is None:
            return await self._command(kind, args, f"c{self.ids.next_id()}", fresh=True)
        return await self._command(kind, args, command_id, fresh=False)

    async def _command(
        self, kind: str, args: dict[str, Any], command_id: str, *, fresh: bool
    ) -> dict[str, Any]:
        # A fresh command goes out as a plain publish to the stream's subject: no per-command
        # acknowledgement from JetStream (the costliest message of a round trip); the reply is
        # the confirmation. Should it not have been stored (the connection dropped under it),
        # the silence is asked about, and "the gateway never saw it" is answered by publishing
        # it again under the same id: stored at most once (de-dup window), executed at most
        # once (the gateway's command log), so the re-send can never make a second order.
        command: dict[str, Any] = {"id": command_id, "kind": kind, "owner": self.owner, "args": args}
        # "once": this id was made for this command now, and this copy is published once (a
        # re-publish below goes without the mark): the gateway may then execute it unclaimed.
        payload = dumps({**command, "once": True} if fresh else command)
        # This strategy's own subject, unless it asks for more than its own orders (the
        # account's subject: the operator grants it, or the gateway never sees the command).
        subject = self.names.commands if needs_account_subject(kind, args) else self._commands_subject
        reply_to = f"{self._inbox}.{command_id}"
        waiter = self._waiters[command_id] = _Waiter(self._new_event)
        deadline = time.monotonic() + self.nats_settings.request_timeout
        try:
            duplicate = await self._publish(subject, command_id, payload, reply_to, deadline, acked=not fresh)
            # A reply is lost only with a connection (ours, the server's) going down: a
            # restarted gateway answers a redelivered command itself. So ask svc.result
            # every second after a reconnect; otherwise at 5, 15, 35 s and at the deadline —
            # a slow reply under load is not a lost one, and asking adds load where there is most.
            # A duplicate (re-sent within the de-dup window) is not delivered again: ask at once.
            reconnects, every = self._reconnects, _QUIET_ASK
            ask_at = time.monotonic() + (0.0 if duplicate else every)
            while True:
                reply = await self._wait_reply(waiter, max(0.05, min(1.0, deadline - time.monotonic())))
                if reply is not None:
                    break
                now = time.monotonic()
                if self._reconnects == reconnects and now < ask_at and now < deadline:
                    continue
                every *= 2
                ask_at = now + every
                state, found = await self._ask_result(command_id)
                if found is not None:
                    reply = found
                    break
                if time.monotonic() >= deadline:
                    raise RequestTimeout(
                        f"no outcome for {kind} {command_id} within {self.nats_settings.request_timeout:g}s; "
                        "it may still execute once at the gateway (look it up, do not re-send a new one)"
                    )
                if state == "unknown" and fresh:  # never reached the gateway: the same id again
                    await self._publish(subject, command_id, dumps(command), reply_to, deadline, acked=False)
        finally:
            self._waiters.pop(command_id, None)
        body = loads_from_gateway(reply)
        if not body.get("ok"):
            raise decode_error(body.get("error") or {})
        return body

    async def _wait_reply(self, waiter: _Waiter, seconds: float) -> bytes | None:
        # The reply, once it came; None after ``seconds`` (a little later: the watchdog's tick).
        # The watchdog wakes overdue waiters, so a command in flight costs no timer of its own;
        # without it (not started, or stopping) the wait has its own.
        if self._watching:
            waiter.wake_at = time.monotonic() + seconds
            await waiter.event.wait()
        else:
            with anyio.move_on_after(seconds):
                await waiter.event.wait()
        if waiter.reply is None and waiter.event.is_set():  # woken without a reply: wait anew next time
            waiter.event, waiter.wake_at = waiter.new_event(), math.inf
        return waiter.reply

    async def _watch_replies(self) -> None:
        # One timer for every waiting command (see _wait_reply), not a cancel scope each.
        try:
            while True:
                await anyio.sleep(_WATCH_TICK)
                if self._waiters:
                    now = time.monotonic()
                    for waiter in self._waiters.values():
                        if waiter.wake_at <= now:
                            waiter.event.set()
        finally:
            self._watching = False
            for waiter in self._waiters.values():  # they wait with a timer of their own from now
                waiter.event.set()

    async def _publish(
        self, subject: str, command_id: str, payload: bytes, reply_to: str, deadline: float, *, acked: bool
    ) -> bool:
        # acked=False: a plain publish of a fresh command (see _command), refused only with the
        # connection closed. acked=True: JetStream confirms the store; True when it already held
        # this command id (a re-send inside its de-dup window). Either way, the same id again
        # is safe (de-duplicated).
        headers = {"Nats-Msg-Id": command_id, REPLY_HEADER: reply_to}
        delay = 0.05
        while True:
            try:
                if not acked:
                    await self._nc.publish(subject, payload, headers=headers)
                    return False
                ack = await self._js.publish(
                    subject,
                    payload,
                    stream=self.names.command_stream,
                    headers=headers,
                    timeout=max(0.5, min(2.0, deadline - time.monotonic())),
                )
                return bool(ack.duplicate)
            except (nats.errors.Error, TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    what = "store" if acked else "take"
                    raise BrokerUnavailable(f"NATS did not {what} command {command_id}: {exc!r}") from None
                await anyio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _on_reconnected(self) -> None:
        self._reconnects += 1  # replies sent meanwhile may be lost: waiting commands ask for them
        if self._task_group is not None:  # so may balances: read again (not in nats-py's callback task)
            self._task_group.start_soon(self._refresh_balances)

    async def _refresh_balances(self) -> None:
        try:
            body = await self._request_snapshot([])
            self.balances = [decode_balance(b) for b in body.get("balances", [])]
        except Exception as exc:  # the gateway is away too: the next balances event will do
            logger.warning("balances not read again after a reconnect: %s", exc)

    async def _ask_result(self, command_id: str) -> tuple[str, bytes | None]:
        # ("done", reply), ("pending", None), ("unknown", None): the gateway has no record of
        # it, or ("silent", None): no gateway answered.
        try:
            reply = await self._nc.request(
                self.names.service("result", self.owner), dumps({"id": command_id}), timeout=1.0
            )
        except (nats.errors.Error, TimeoutError):
            return "silent", None
        body = loads(reply.data)
        if body.get("pending"):
            return "pending", None
        if body.get("unknown"):
            return "unknown", None
        return "done", bytes(reply.data)

    async def _on_reply(self, msg: Any) -> None:
        command_id = msg.subject.rsplit(".", 1)[-1]
        waiter = self._waiters.get(command_id)
        if waiter is not None and waiter.reply is None:
            waiter.reply = bytes(msg.data)
            waiter.event.set()

    # -- events ------------------------------------------------------------------------------
    def _decode_order(self, raw: dict[str, Any]) -> Order:
        # A market order's body comes three times: its reply and its fill event carry the same
        # filled order, the accept event between them the accepted one. A body equal to one of
        # the last two decoded for that id is that same Order (exact equality, nothing else).
        cid = raw.get("client_order_id")
        recent = self._decoded.get(cid) if type(cid) is str else None
        if recent is not None:
            for known_raw, known in recent:
                if known_raw == raw:
                    return known
        order = codec.decode_order(raw)
        if recent is None:
            decoded = self._decoded
            decoded[order.client_order_id] = [(raw, order)]
            if len(decoded) > _DECODED_ORDERS:  # the oldest id goes first
                del decoded[next(iter(decoded))]
        else:
            recent.append((raw, order))
            if len(recent) > 2:
                del recent[0]
        return order

    def _remember(self, order: Order) -> Order:
        known = self.orders.get(order.client_order_id)
        if known is None or order.updated_at >= known.updated_at:
            self.orders[order.client_order_id] = order
            changed, self._order_changed = self._order_changed, None
            if changed is not None:  # wakes whoever waits for an order's state
                changed.set()
            return order
        return known

    async def _on_event(self, msg: Any) -> None:
        try:
            bodies = event_bodies(loads_from_gateway(msg.data))
        except (ValueError, TypeError) as exc:
            logger.error("unreadable event message skipped: %s", exc)
            bodies = []
        for body in bodies:  # one bad event never costs the others of its message
            await self._apply_event(body)
        self._last_event = msg
        if self._ack_all:
            self._unacked += 1
            now = time.monotonic()
            if self._event_sub.pending_msgs and self._unacked < _ACK_EVERY and now - self._acked_at < 1.0:
                return  # the ack of a later event (moments away, well within the ack wait) covers this one
            self._unacked, self._acked_at = 0, now
        try:
            await msg.ack()
        except nats.errors.ConnectionClosedError:
            # Stopping while this event was handled: unacknowledged, it comes again at the next
            # start (fills are de-duplicated); not an error worth a traceback at Ctrl-C.
            logger.debug("event not acknowledged: the connection closed meanwhile")

    def _order_as_of(self, raw: dict[str, Any]) -> Order:
        # The order an event carries, or the newer state already known: a market order's
        # accept event is read after its reply brought the filled order, and _remember would
        # keep that anyway, so an older body is not decoded at all (~6 µs each).
        cid = raw.get("client_order_id")
        known = self.orders.get(cid) if type(cid) is str else None
        updated = raw.get("updated_at")
        if known is not None and type(updated) is str:
            try:
                if datetime.fromisoformat(updated) < known.updated_at:
                    return known
            except (ValueError, TypeError):  # not a time, or a naive one: decoding says why
                pass
        return self._remember(self._decode_order(raw))

    async def _apply_event(self, body: dict[str, Any]) -> None:
        try:
            order = self._order_as_of(body["order"])
            event = codec.decode_event(body["event"])
            position = None
            if "position" in body:
                position = decode_position(body["position"])
                self.positions[position.symbol] = position
            if not self._started.is_set():  # (a set event's wait still yields to the loop)
                await self._started.wait()
            fresh_fill = isinstance(event, OrderFilled) and self._first_time(event)
            if self.strategy is not None and self._running:
                try:
                    if isinstance(event, OrderFilled) and position is not None and fresh_fill:
                        await self.strategy.on_fill(event.fill, position, self.context)
                    await self.strategy.on_order_update(order, self.context)
                except Exception:
                    logger.exception("strategy callback failed for order %s", order.client_order_id)
        except (ValueError, KeyError, TypeError, AutotraderError) as exc:
            logger.error("unreadable event skipped: %s", exc)

    def _first_time(self, event: OrderFilled) -> bool:
        # A redelivered fill (at-least-once delivery) reaches on_fill once, as in process.
        key = (event.fill.client_order_id, event.fill.trade_id)
        if key in self._seen_fills:
            return False
        self._seen_fills.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > _SEEN_FILLS:
            self._seen_fills.discard(self._seen_order.popleft())
        return True

    async def _on_account_event(self, msg: Any) -> None:
        try:
            body = loads(msg.data)
            if body.get("type") == "balances":
                self.balances = [decode_balance(b) for b in body.get("balances", [])]
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("unreadable account event skipped: %s", exc)

    async def _on_quotes(self, msg: Any) -> None:
        try:
            received = loads(msg.data)
            self.prices.update({s: Decimal(p) for s, p in received.items()})
            now = time.monotonic()
            self.price_times.update(dict.fromkeys(received, now))
        except (ValueError, ArithmeticError) as exc:
            logger.error("unreadable quotes skipped: %s", exc)

    async def _on_market_data(self, msg: Any) -> None:
        try:
            item = decode_market_data(loads(msg.data))
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            logger.error("unreadable market data skipped: %s", exc)
            return
        if not self.market.update(item) or not isinstance(item, Quote):
            return
        if self.strategy is not None and self._running:
            try:
                await self.strategy.on_quote(item, self.context)
            except Exception:
                logger.exception("strategy on_quote failed for %s", item.symbol)

    async def _decision_loop(self) -> None:
        strategy = self.strategy
        assert strategy is not None
        interval = self.settings.decision_interval
        with anyio.CancelScope() as scope:
            self._decision_scope = scope
            while not self._halt_decisions:
                started = time.monotonic()
                async with self._decision_lock:  # a shutdown waits for the cycle in flight
                    await self._decide_once(strategy)
                await anyio.sleep(max(0.0, interval - (time.monotonic() - started)))

    def _decisions_halted(self) -> bool:
        # A method, not the attribute: the flag changes while this task awaits.
        return self._halt_decisions

    async def _decide_once(self, strategy: Strategy) -> None:
        if self._decisions_halted():  # a shutdown came while this cycle waited for the lock
            return
        decisions: Sequence[ExecutionDecision]
        try:
            decisions = await strategy.decide(self.context)
        except Exception:
            logger.exception("strategy %s decide() failed", strategy.name)
            decisions = ()
        for decision in decisions:
            if self._decisions_halted():  # decide() may have taken long; send nothing new
                return
            try:
                await self.execute(decision)
            except RateLimited as exc:
                logger.warning("decision %s not sent: %s", decision, exc)
            except AutotraderError as exc:
                logger.warning("decision %s failed: %s", decision, exc)

    def __repr__(self) -> str:
        return f"<RemoteEngine account={self.account} owner={self.owner!r} orders={len(self.orders)}>"
