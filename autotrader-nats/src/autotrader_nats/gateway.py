"""The account gateway: one engine per broker account, served over NATS JetStream.

The gateway is the only process that holds the account's keys, journal, rate limiter,
reconciliation and kill switch. Strategies anywhere talk to it through NATS:

* **commands in** — JetStream stream ``AT_CMD_<account>``, one message per command with
  ``Nats-Msg-Id`` = the command id (a submit's id is its client order id), consumed by
  a durable push consumer, claimed in the command log before it runs
  (:class:`~autotrader_nats.command_log.CommandLog`, written by one thread:
  :mod:`~autotrader_nats.command_writer`) and acknowledged once it finished, by runs
  (:mod:`~autotrader_nats.acks`, never past one still executing), so a command is executed
  at most once and, after a crash, resumed from the last acknowledged one. A submit known to
  be new (marked ``once`` by its client, delivered for the first time, stored after this
  gateway started) runs without the claim; its record is written behind it and it is
  acknowledged once that is durable (docs: deployment-nats, "Performance");
* **replies** — the outcome (the order) or a typed error, on the subject the command
  named (``At-Reply-To``), and kept for ``svc.result`` queries after a lost reply;
* **events out** — order events, fills with the position after them, balances, on the
  stream ``AT_EVT_<account>`` that any number of consumers replay from any sequence; the
  events of one strategy that are ready together go in one message (see
  :func:`~autotrader_nats.wire.event_bodies`), so a market order's accept and fill cost one
  stored message, one acknowledgement and one delivery, not two; each names its journal
  record, so what a killed gateway had not stored goes out at the next start
  (:mod:`~autotrader_nats._catch_up`);
* **market data** — the symbols remote strategies declare (``Strategy.symbols``) are
  subscribed on the engine's market feed; every fresh quote goes out on ``md.<symbol>``
  as it arrives, and a stale marker whenever the engine's price cache stops trusting it;
* **trading state** — KV bucket ``AT_STATE_<account>``: ``trading_state`` (active /
  reducing / halted) and ``kill``, watched by its own task so a halt takes effect at
  once, never behind queued submits;
* **bounded restart** — the journal is compacted into a snapshot whenever its tail grows
  past the :class:`~autotrader_core.snapshots.CompactionPolicy` (by rows or age), so a
  gateway that ran for months restarts by replaying the snapshot and a short tail.

It uses only the engine's public API and its control seam
(:class:`~autotrader_core.control.EngineControl`). Runs on the asyncio backend (nats-py).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import nats
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.control import AccountId, EngineControl
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, TradingState
from autotrader_core.errors import AutotraderError, InvalidOrder, RequestTimeout
from autotrader_core.events import OrderEvent, OrderFilled
from autotrader_core.journal import Journal, SqliteJournal, SqliteStorage, codec, default_journal_path
from autotrader_core.kill_switch import KillReport
from autotrader_core.market_data import Quote, Stale
from autotrader_core.models import Fill, Instrument, Order
from autotrader_core.plugins import PluginManager
from autotrader_core.risk import RiskChecks
from autotrader_core.settings import EngineSettings
from autotrader_core.snapshots import CompactionPolicy, run_compactor
from autotrader_core.strategy import Strategy, StrategyContext
from nats.js import JetStreamContext, api
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from autotrader_nats._catch_up import event_of_entry, missed_entries, stored_event_seqs
from autotrader_nats._events import event_factory
from autotrader_nats._outgoing import PendingOrderEvent
from autotrader_nats.acks import AckFloor, delivery
from autotrader_nats.budgets import BudgetBook, StrategyBudget
from autotrader_nats.command_log import CommandLog, CommandRecord
from autotrader_nats.command_writer import CommandLogWriter
from autotrader_nats.connection import connect_nats
from autotrader_nats.settings import NatsSettings
from autotrader_nats.wire import (
    ACCOUNT_WIDE_KINDS,
    REPLY_HEADER,
    AccountNames,
    dumps,
    encode_balance,
    encode_error,
    encode_instrument,
    encode_position,
    encode_quote,
    encode_stale,
    join_events,
    loads,
    needs_account_subject,
)
from autotrader_nats.workers import WorkerPool

__all__ = ["UNOWNED", "AccountGateway"]

logger = logging.getLogger(__name__)

UNOWNED = "_unowned"
"""Owner of orders no strategy sent through the gateway (adopted by reconciliation, flattens)."""
_EVENT_BATCH = 512
_EVENTS_PER_MESSAGE = 64
_BALANCES_EVERY = 0.1
_HELD_AT_MOST = 1.0
"""Seconds an order's events wait for a slow submit's reply before the publisher sends them anyway."""
_CONSUMER = "gateway"
_EVENT_ACK_TIMEOUT = 5.0
_COMMAND_ACK_WAIT = 5.0
_DEFAULT_COMPACTION = CompactionPolicy()
_MAX_RUNNING_COMMANDS = 512
_FINISHED_OWNERS_KEPT = 100_000
"""Finished orders whose owner stays in memory; older ones are read back from the command log."""
_CAUGHT_UP_KINDS = ("event", "report")
"""The journal records an order event published again at start comes from (:mod:`._catch_up`)."""


_Outgoing = tuple[str | None, str, bytes | PendingOrderEvent, Fill | None]
"""An event message waiting to be published: client order id (``None``: an account event), subject
(for account events), body (an order event's: encoded when published), and a fill not yet counted
in its owner's budget (owner forgotten)."""


class _Turn:
    """A command's place in its order's queue; ``done`` is made when a later command waits for it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: anyio.Event | None = None


class _QuoteRelay(Strategy):
    """The gateway engine's strategy: it decides nothing; it relays every fresh quote.

    The engine calls ``on_quote`` with each fresh quote of a subscribed symbol as the feed
    delivers it (its public contract for strategies); the gateway has no other push of quotes.
    """

    name = "gateway-quotes"

    def __init__(self, gateway: AccountGateway) -> None:
        self._gateway = gateway

    async def on_quote(self, quote: Quote, ctx: StrategyContext) -> None:
        await self._gateway._relay_quote(quote)


class AccountGateway:
    """Serve one broker account's engine over NATS.

    Args:
        adapter: The account's broker adapter (its settings hold the keys).
        nats_settings: How to reach NATS.
        settings: Engine settings (``data_dir`` holds the journal and the command log).
        account: The account label (two accounts on one broker and environment differ here).
        risk: The account's risk checks (shared by every strategy).
        plugins: Plugin manager (observers such as the metrics exporter).
        journal: The journal (default: ``journal_from_settings``-style file for this account).
        quote_interval: Seconds between last-price broadcasts and stale checks of the
            market-data symbols (``0``: none; quotes themselves go out as they arrive).
        compaction: When to fold the journal into a snapshot (default: every 100,000 rows
            or once a day); ``None``: never (a restart then replays the whole journal).
        budgets: Per-strategy risk budgets by strategy (ownership) name
            (:mod:`autotrader_nats.budgets`); strategies not named have none.
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        *,
        nats_settings: NatsSettings | None = None,
        settings: EngineSettings | None = None,
        account: str = "default",
        risk: RiskChecks | None = None,
        plugins: PluginManager | None = None,
        journal: Journal | None = None,
        quote_interval: float = 0.1,
        compaction: CompactionPolicy | None = _DEFAULT_COMPACTION,
        budgets: Mapping[str, StrategyBudget] | None = None,
    ) -> None:
        self.nats_settings = nats_settings or NatsSettings()
        self.settings = settings or EngineSettings()
        self.plugins = plugins or PluginManager()
        environment = getattr(getattr(adapter, "settings", None), "environment", None) or "unknown"
        folder = self.settings.data_dir if account == "default" else self.settings.data_dir / account
        self.journal = journal or SqliteJournal(
            default_journal_path(folder, adapter.name, environment),
            sync=self.settings.journal_sync,
            fsync=self.settings.journal_fsync,
        )
        self.engine = ExecutionEngine(
            adapter,
            strategy=_QuoteRelay(self),
            risk=risk,
            settings=self.settings,
            plugins=self.plugins,
            journal=self.journal,
        )
        self.control = EngineControl(self.engine, account=account)
        self.account: AccountId = self.control.account
        self._account_label = str(self.account)
        self.names = AccountNames(self.account)
        self._commands_subject = self.names.commands
        self._command_head = self._commands_subject + "."  # cmd.<owner> (a prefix built once: hot path)
        # As durable as the journal: a power cut must not keep an intent and lose the claim of
        # the command that made it (a flatten claimed "started" is never run again).
        self.command_log = CommandLog(
            Path(str(getattr(self.journal, "path", folder / "journal"))).with_suffix(".commands.sqlite3"),
            fsync=self.settings.journal_fsync,
        )
        self._log_writer = CommandLogWriter(self.command_log)
        self._workers = WorkerPool(_MAX_RUNNING_COMMANDS)
        self.quote_interval = quote_interval
        self.compaction = compaction
        self.budgets = BudgetBook(budgets or {})
        self._liveness: dict[str, float] = {}
        """Strategies that asked for cancel-on-disconnect → monotonic deadline of their next heartbeat."""
        self._budget_locks: dict[str, anyio.Lock] = {}
        self.commands_executed = 0
        """Commands executed by this gateway run (not replayed ones)."""
        self.submits_unclaimed = 0
        """Of those, submits known to be new and so executed without a claim first (the fast path)."""
        self._resume_mark = 0
        """The command stream's last sequence when this run's consumer was made (see _resume_point)."""
        self._owners: dict[str, str] = {}
        """Owner by client order id: every open order's, and the last finished ones' (a cache of
        the command log, bounded so a gateway that runs for months does not grow with every order)."""
        self._finished_owners: collections.deque[str] = collections.deque()
        self._inflight: set[str] = set()
        self._tails: dict[str, _Turn] = {}
        """The last command queued per order (client order id): the next one about it waits for it."""
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._publishing: list[_Outgoing] = []
        """The batch being stored in the event stream (out of the outbox, not yet acknowledged)."""
        self._outbox_ready = anyio.Event()
        self._published_all = anyio.Event()
        self._acks = AckFloor()
        self._new_event: Callable[[], anyio.Event] = anyio.Event
        """Makes an event (the running backend's class once serving: no backend lookup per command)."""
        self._run_id = secrets.token_hex(4)
        self._event_count = 0
        self._nc: Any = None
        self._kv: KeyValue | None = None
        self._instruments: list[Instrument] = []
        self._stale_sent: dict[str, str] = {}
        self._subjects: dict[str, str] = {}
        self._draining = False
        # Every applied order event goes to the publisher's outbox: an engine listener, a plain
        # call (as an observer plugin it went through pluggy's hook machinery, ~2.5 µs an event).
        self.engine.add_order_listener(self._queue_order_event)

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self, *, ready: Callable[[], None] | None = None) -> None:
        """Start the engine (journal lock, replay, reconciliation), serve until it stops.

        Args:
            ready: Called once everything is subscribed (tests and the CLI print "ready").

        Raises:
            ConfigurationError: another gateway (or engine) holds this account's journal;
                the message names its pid.
        """
        async with self.engine:
            await anyio.to_thread.run_sync(self.command_log.open)
            self._log_writer.start()
            try:
                await self._serve(ready)
            finally:
                with anyio.CancelScope(shield=True):  # the replies recorded behind are written first
                    await self._log_writer.stop()
                await anyio.to_thread.run_sync(self.command_log.close)

    async def stop(self) -> None:
        """Stop serving: the engine stops (open orders stay at the broker)."""
        await self.engine.stop()

    async def _serve(self, ready: Callable[[], None] | None) -> None:
        nc = await connect_nats(self.nats_settings, role=f"gateway-{self.account}")
        self._nc = nc
        self._new_event = event_factory()
        try:
            js = nc.jetstream()
            await self._ensure_streams(js)
            self._kv = await self._ensure_bucket(js)
            resume = await self._resume_point(js)
            await self._queue_missed_events(js)
            await self._adopt_owners(js, resume.opt_start_seq or 1)
            if self.budgets.budgets:  # each budgeted strategy's position, from the orders recovered
                orders = list(self.engine.oms)
                owners = await anyio.to_thread.run_sync(
                    lambda: [self.command_log.owner_of(o.client_order_id) for o in orders]
                )
                self.budgets.load((owner or UNOWNED, o) for owner, o in zip(owners, orders, strict=True))
            # The same rules the engine loaded, for remote strategies' ctx.instrument().
            self._instruments = list(await self.engine.adapter.get_instruments())
            revision = await self._sync_state(self._kv)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._publish_events, js)
                tg.start_soon(self._watch_state, self._kv, revision)
                for owner in (None, "*"):  # the account's, and each strategy's own
                    await nc.subscribe(self.names.service("snapshot", owner), cb=self._on_snapshot)
                    await nc.subscribe(self.names.service("result", owner), cb=self._on_result)
                await nc.subscribe(self.names.heartbeats(), cb=self._on_heartbeat)
                tg.start_soon(self._watch_liveness)
                if self.quote_interval > 0:
                    tg.start_soon(self._publish_quotes, nc)
                if self.compaction is not None:
                    tg.start_soon(self._compact_journal, self.compaction)
                # A push consumer: a command is handed over the moment it is stored (a pull
                # fetch added milliseconds), taken in its subscription's task (_on_command).
                self._workers.start(tg)
                tg.start_soon(self._acks.run)
                await js.subscribe(
                    self.names.commands,
                    durable=_CONSUMER,
                    stream=self.names.command_stream,
                    cb=self._on_command,
                    manual_ack=True,
                    config=resume,
                    pending_msgs_limit=-1,
                )
                if ready is not None:
                    ready()
                logger.info("gateway for %s serving on %s", self.account, self.names.prefix)
                await self.engine.run()
                await self._drain_outbox()
                await self._acks.flush()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                try:  # replies already published leave before the connection closes
                    await nc.flush(timeout=2)
                except Exception:  # the server is gone: nothing more can leave
                    logger.warning("NATS flush at stop failed", exc_info=True)
                await nc.close()

    async def _ensure_streams(self, js: JetStreamContext) -> None:
        s = self.nats_settings
        await _add_or_update_stream(
            js,
            api.StreamConfig(
                name=self.names.command_stream,
                subjects=[self.names.commands, self.names.commands_of("*")],
                storage=api.StorageType.FILE,
                duplicate_window=s.duplicate_window,
                max_age=s.events_max_age,
                num_replicas=s.replicas,
            ),
        )
        await _add_or_update_stream(
            js,
            api.StreamConfig(
                name=self.names.event_stream,
                subjects=[self.names.events],
                storage=api.StorageType.FILE,
                duplicate_window=s.duplicate_window,
                max_age=s.events_max_age,
                num_replicas=s.replicas,
            ),
        )

    async def _resume_point(self, js: JetStreamContext) -> api.ConsumerConfig:
        # Commands a dead gateway fetched but never acknowledged would wait for the ack
        # timeout before redelivery. We hold the account's journal lock, so no other
        # gateway lives: restart the consumer right after its acknowledged floor. Commands
        # acknowledged above the floor come again and are answered from the command log.
        config = api.ConsumerConfig(
            durable_name=_CONSUMER,
            # "All": one acknowledgement covers every command up to it (see autotrader_nats.acks);
            # acknowledging each one was a message per command for the gateway and the server.
            ack_policy=api.AckPolicy.ALL,
            # Short: a delivery lost with a server restart comes again within seconds; a
            # redelivery of a command still executing here is skipped (self._inflight).
            ack_wait=_COMMAND_ACK_WAIT,
            max_ack_pending=20_000,
            max_deliver=-1,
            flow_control=True,
            idle_heartbeat=5.0,
            # The account's commands and each strategy's (cmd, cmd.<owner>).
            filter_subjects=[self.names.commands, self.names.commands_of("*")],
        )
        # Everything stored until now may have been delivered to (and executed by) an earlier
        # gateway: only commands stored after this point can run unclaimed (_on_command).
        stream = await js.stream_info(self.names.command_stream)
        self._resume_mark = stream.state.last_seq
        try:
            info = await js.consumer_info(self.names.command_stream, _CONSUMER)
        except nats.js.errors.NotFoundError:
            return config
        floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
        await js.delete_consumer(self.names.command_stream, _CONSUMER)
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = (floor or 0) + 1
        logger.info("resuming the command stream at sequence %s", config.opt_start_seq)
        return config

    async def _ensure_bucket(self, js: JetStreamContext) -> KeyValue:
        try:
            return await js.key_value(self.names.state_bucket)
        except Exception:  # not there yet
            return await js.create_key_value(
                bucket=self.names.state_bucket,
                history=16,
                storage=api.StorageType.FILE,
                replicas=self.nats_settings.replicas,
            )

    async def _queue_missed_events(self, js: JetStreamContext) -> None:
        # Order events journaled before a crash that the event stream never stored (_catch_up),
        # queued ahead of this run's own (newer) ones; their owners are adopted next.
        floor, stored = await stored_event_seqs(
            js, self.names.event_stream, self.names.order_events("*")[:-1]
        )
        if floor is None:
            logger.info("the event stream's last order events name no journal record: none published again")
            return
        queued = (item[2].seq for item in self._outbox if isinstance(item[2], PendingOrderEvent))
        # The engine replayed these same records at start: one that cannot be decoded ended it there.
        entries = self.journal.entries(after_seq=floor, kinds=_CAUGHT_UP_KINDS)
        missed: list[_Outgoing] = []
        for entry in await missed_entries(entries, stored, (seq for seq in queued if seq is not None)):
            cid = entry.client_order_id
            order = (
                None if cid is None else self.control.order(cid) or await self.journal.compacted_order(cid)
            )
            event = None if order is None else event_of_entry(entry, order)
            if order is None or event is None:
                continue
            position = None
            if isinstance(event, OrderFilled):
                position = encode_position(self.engine.oms.position(event.fill.symbol))
            pending = PendingOrderEvent(self._account_label, order, event, position, entry.seq)
            missed.append((order.client_order_id, "", pending, None))
        if missed:
            logger.warning(
                "publishing %d order events again: journaled before the restart, never stored in the event stream",
                len(missed),
            )
            self._outbox.extendleft(reversed(missed))
            if self._published_all.is_set():
                self._published_all = self._new_event()
            self._outbox_ready.set()

    async def _adopt_owners(self, js: JetStreamContext, first_unacked: int) -> None:
        # Orders recovered from the journal keep the owner their submit command recorded. A
        # submit executed on the fast path is recorded behind its send: a gateway killed in
        # between left no record, but the command was not acknowledged either (that waits for
        # its record), so it is still in the stream's unacknowledged tail: read it there before
        # any event is published under the wrong owner (its redelivery records it again). Not
        # only the open orders: one the engine settled while it started (its request had landed
        # while no gateway ran: filled) has events waiting to go out, to its strategy.
        waiting = [cid for cid, *_ in self._outbox if cid is not None]
        missing: list[str] = []
        for cid in dict.fromkeys([*(o.client_order_id for o in self.control.open_orders()), *waiting]):
            owner = await anyio.to_thread.run_sync(self.command_log.owner_of, cid)
            if owner is None:
                missing.append(cid)
            self._owners[cid] = owner or UNOWNED
        if missing:
            found = await self._owners_in_stream(js, set(missing), first_unacked)
            self._owners.update(found)
            for cid in set(missing) - set(found):
                logger.warning("order %s has no owner on record; its events go to %r", cid, UNOWNED)

    async def _owners_in_stream(self, js: JetStreamContext, wanted: set[str], first: int) -> dict[str, str]:
        found: dict[str, str] = {}
        seq = first
        while seq <= self._resume_mark and len(found) < len(wanted):
            try:
                msg = await js.get_msg(self.names.command_stream, seq)
            except nats.js.errors.NotFoundError:  # deleted or expired
                seq += 1
                continue
            seq += 1
            try:
                command = loads(msg.data or b"")
                owner = str(command.get("owner") or UNOWNED)
                subject_owner = self.names.owner_in(msg.subject or "", "cmd")
                if (
                    command.get("kind") == "submit"
                    and command.get("id") in wanted
                    and self.names.may_speak_for(subject_owner, owner)  # not one the gateway refused
                ):
                    found[str(command["id"])] = owner
            except (ValueError, AttributeError):
                continue
        return found

    # -- commands --------------------------------------------------------------------------
    async def _on_command(self, msg: Any) -> None:
        # Dispatched here, in the subscription's own task: nats-py hands messages over one by
        # one in delivery order, and nothing below awaits, so each is taken (its place in the
        # acknowledgement order, its turn about its order) before the next. A queue to a
        # consumer task of our own cost a turn of the event loop per command at light load
        # (README "Performance"); claims still go to the command log's writer together, as
        # it takes whatever is queued in one transaction.
        try:
            command = loads(msg.data)
            command_id = str(command["id"])
            kind = str(command["kind"])
            args = command.get("args") or {}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.error("unreadable command dropped (seq %s): %s", msg.metadata.sequence.stream, exc)
            self._acks.finished(msg)
            return
        if command_id in self._inflight:
            return  # redelivered while still executing: its reply is on the way
        seq, delivered = delivery(msg)
        self._acks.taken(msg, seq)
        if msg.subject != self._commands_subject:  # a strategy's own subject: it speaks for itself only
            refusal = self._refusal(msg.subject, command, kind, args)
            if refusal is not None:
                self._workers.submit(partial(self._refuse, msg, seq, command_id, refusal))
                return
        self._inflight.add(command_id)
        key = command_id if kind == "submit" else str(args.get("client_order_id") or command_id)
        # Delivered before, or stored before this gateway started: an earlier run may have
        # executed it (its record lost with a crash).
        seen = seq <= self._resume_mark or delivered > 1
        # Known new: a submit whose client made its id for it and published this copy once
        # ("once"; a re-publish of it comes unmarked, stored later or de-duplicated), delivered
        # for the first time since this gateway started. It runs unclaimed: the fast path (_handle).
        known_new = not seen and kind == "submit" and command.get("once") is True
        owner = str(command.get("owner") or UNOWNED)
        if kind == "submit":
            self._owners.setdefault(command_id, owner)
        claim = None
        if not known_new:
            # Recorded as started before it runs; its worker waits for the record (a log that
            # cannot be written fails it: the worker ends the gateway), and the next command is
            # taken meanwhile (claims pipelined, group-committed by the writer).
            target = command_id if kind == "submit" else args.get("client_order_id")
            claim = self._log_writer.claim_many_soon([(command_id, kind, owner, target)])
            claim.add_done_callback(_retrieved)
        # Commands about one order run in arrival order: each waits for the one before it (an
        # event is made only then: most commands have none).
        previous = self._tails.get(key)
        if previous is not None and previous.done is None:
            previous.done = self._new_event()
        turn = self._tails[key] = _Turn()
        self._workers.submit(partial(self._run_command, msg, seq, command, claim, seen, previous, turn, key))

    def _refusal(self, subject: str, command: dict[str, Any], kind: str, args: dict[str, Any]) -> str | None:
        # What a strategy's own subject may not ask (None: nothing). NATS permissions decide
        # who may publish on cmd.<name>; the owner a command names is only its word.
        head = self._command_head
        subject_owner = subject[len(head) :] if subject.startswith(head) else None
        owner = str(command.get("owner") or UNOWNED)
        if not self.names.may_speak_for(subject_owner, owner):
            return f"a command on {subject} acts for strategy {subject_owner!r} only, not for {owner!r}"
        if needs_account_subject(kind, args):
            what = (
                "another strategy's order" if kind not in ACCOUNT_WIDE_KINDS else f"a {kind} of the account"
            )
            return f"{what} is asked on the account's subject {self.names.commands}, not on {subject}"
        return None

    async def _refuse(self, msg: Any, seq: int, command_id: str, refusal: str) -> None:
        # Never executed, so nothing to record: the same message is refused the same way again.
        logger.warning("command %s refused: %s", command_id, refusal)
        try:
            reply_to = (msg.headers or {}).get(REPLY_HEADER)
            if reply_to and self._nc is not None:
                await self._nc.publish(reply_to, _reply(command_id, error=InvalidOrder(refusal)))
        finally:
            self._acks.finished(msg, seq)

    async def _run_command(
        self,
        msg: Any,
        seq: int,
        command: dict[str, Any],
        claim: asyncio.Future[list[CommandRecord | None]] | None,
        seen: bool,
        previous: _Turn | None,
        turn: _Turn,
        key: str,
    ) -> None:
        # Commands about one order run in arrival order; others run concurrently.
        command_id = str(command["id"])
        # A command log that cannot be written ends the gateway here (nothing may execute
        # unrecorded).
        earlier = None if claim is None else (await claim)[0]
        try:
            if previous is not None and previous.done is not None:
                await previous.done.wait()
            acknowledge = partial(self._acks.finished, msg, seq)
            reply, acknowledged_later = await self._handle(
                command, earlier, claimed=claim is not None, seen=seen, acknowledge=acknowledge
            )
            reply_to = (msg.headers or {}).get(REPLY_HEADER)
            if reply_to and self._nc is not None:
                await self._nc.publish(reply_to, reply)
            if not acknowledged_later:
                acknowledge()
        except Exception:
            logger.exception("command %s failed in the gateway; left unacknowledged", command_id)
        finally:
            self._inflight.discard(command_id)
            if self._outbox:  # its order's events, held until its reply was out (_queue_order_event)
                self._outbox_ready.set()
            if turn.done is not None:
                turn.done.set()
            if self._tails.get(key) is turn:
                del self._tails[key]

    async def _handle(
        self,
        command: dict[str, Any],
        earlier: CommandRecord | None,
        *,
        claimed: bool,
        seen: bool,
        acknowledge: Callable[[], None],
    ) -> tuple[bytes, bool]:
        """Execute ``command`` once, or answer it from what is known of it.

        Returns:
            The reply, and whether the command is acknowledged by its record's durability
            (``acknowledge`` is called then) rather than by the caller now.
        """
        command_id, kind = str(command["id"]), str(command["kind"])
        owner = str(command.get("owner") or UNOWNED)
        args: dict[str, Any] = command.get("args") or {}
        if earlier is not None:
            answer = await self._answer_again(command_id, kind, earlier)
            if answer is not None:
                return answer, False
        elif kind == "submit":
            # No record: new, or executed unclaimed (the fast path) and its record lost with a
            # crash. The order, if there is one, is the answer: never a second order.
            known = self.control.order(command_id)
            if known is None and seen and await self.journal.has_client_order_id(command_id):
                known = await self.journal.compacted_order(command_id)
                if known is None:
                    return _journaled_but_unknown(command_id), False
            if known is not None:
                if self._owners.get(command_id) == UNOWNED:  # its record was lost: the command names it
                    self._owners[command_id] = owner
                return self._record(command_id, kind, owner, command_id, _order_reply(known), acknowledge)
        reply = await self._execute(command_id, kind, owner, args, str(command.get("actor") or owner))
        self.commands_executed += 1
        if not claimed:
            self.submits_unclaimed += 1
            target = command_id if kind == "submit" else args.get("client_order_id")
            return self._record(command_id, kind, owner, target, reply, acknowledge)
        self._log_writer.finish(command_id, reply)
        return reply, False

    def _record(
        self,
        command_id: str,
        kind: str,
        owner: str,
        target: str | None,
        reply: bytes,
        acknowledge: Callable[[], None],
    ) -> tuple[bytes, bool]:
        # A command with no record yet: recorded done, with its reply, and acknowledged once
        # that is durable (a crash before then leaves it in the stream, to be answered again).
        self._log_writer.record((command_id, kind, owner, target, reply), acknowledge)
        return reply, True

    async def _answer_again(self, command_id: str, kind: str, earlier: CommandRecord) -> bytes | None:
        # A command the log has seen: never executed again (``None``: it may be, see the end).
        known = self.control.order(command_id) if kind == "submit" else None
        if known is None and kind == "submit":  # finished, and compacted from the journal since
            known = await self.journal.compacted_order(command_id)
        if known is not None:
            return _order_reply(known)
        if earlier.state == "done" and earlier.reply is not None:
            return earlier.reply
        if kind != "submit":
            return _reply(
                command_id,
                error=RequestTimeout(
                    f"command {command_id} ({kind}) was executing when the gateway stopped; its "
                    "outcome is unknown and it is not executed again (the order settles by reconciliation)"
                ),
            )
        if await self.journal.has_client_order_id(command_id):  # journaled: it may have been sent
            return _journaled_but_unknown(command_id)
        # A submit claimed but never journaled was never sent: executing it now is safe.
        return None

    async def _execute(
        self, command_id: str, kind: str, owner: str, args: dict[str, Any], actor: str
    ) -> bytes:
        try:
            result: dict[str, Any]
            if kind == "submit":
                submit = partial(
                    self.engine.submit_order,
                    args["symbol"],
                    args["side"],
                    args["quantity"],
                    order_type=args.get("order_type", "market"),
                    limit_price=args.get("limit_price"),
                    stop_price=args.get("stop_price"),
                    time_in_force=args.get("time_in_force", "gtc"),
                    post_only=bool(args.get("post_only", False)),
                    reduce_only=bool(args.get("reduce_only"))
                    or (bool(args.get("close")) and self.engine.adapter.capabilities.reduce_only),
                    tag=args.get("tag"),
                    client_order_id=command_id,
                )
                if owner in self.budgets.budgets:
                    # One budgeted submit of a strategy at a time: each sees the ones before it.
                    async with self._budget_locks.setdefault(owner, anyio.Lock()):
                        self._check_budget(owner, args)
                        order = await submit()
                else:
                    order = await submit()
                result = {"order": _order_body(order)}
            elif kind in ("cancel", "modify"):
                target = str(args.get("client_order_id"))
                self._check_owner(target, owner, args)
                if kind == "cancel":
                    order = await self.control.cancel(target, actor=actor)
                else:
                    order = await self.engine.modify_order(
                        target,
                        quantity=args.get("quantity"),
                        limit_price=args.get("limit_price"),
                        stop_price=args.get("stop_price"),
                    )
                result = {"order": _order_body(order)}
            elif kind == "flatten":
                orders = await self.control.flatten(actor=actor, symbol=args.get("symbol"))
                result = {"orders": [codec.encode_order(o) for o in orders]}
            elif kind in ("halt", "reducing", "resume"):
                state = {"halt": "halted", "reducing": "reducing", "resume": "active"}[kind]
                await self.set_trading_state(state, actor=actor, reason=str(args.get("reason", "")))
                result = {"trading_state": self.control.trading_state.value}
            else:
                raise InvalidOrder(f"unknown command kind {kind!r}")
        except AutotraderError as exc:
            return _reply(command_id, error=exc)
        except (KeyError, TypeError, ValueError) as exc:
            return _reply(command_id, error=InvalidOrder(f"malformed {kind} command: {exc!r}"))
        return _reply(command_id, result)

    def _check_budget(self, owner: str, args: dict[str, Any]) -> None:
        try:
            quantity = Decimal(str(args["quantity"]))
            price = args.get("limit_price") or args.get("stop_price")
            self.budgets.check(
                owner,
                symbol=str(args["symbol"]),
                side=OrderSide(args["side"]),
                quantity=quantity,
                price=None if price is None else Decimal(str(price)),
                open_orders=[
                    o for o in self.control.open_orders() if self._owners.get(o.client_order_id) == owner
                ],
                last_price=self.engine.adapter.last_price,
            )
        except ArithmeticError as exc:  # Decimal("abc"): refused like any malformed number
            raise InvalidOrder(f"malformed submit command: {exc!r}") from None

    async def _compact_journal(self, policy: CompactionPolicy) -> None:
        await run_compactor(
            self.journal,
            policy,
            instruments=self.engine.oms.instruments,
            trading_state=lambda: self.control.trading_state.value,
            # The fold's CPU (~20 µs per row) in a child process, not on the interpreter that
            # serves the commands (a SQLite journal; any other folds in a thread).
            separate_process=isinstance(self.journal.storage, SqliteStorage),
            up_to_seq=self.compaction_ceiling,
        )

    def compaction_ceiling(self) -> int:
        """The last journal record a compaction may fold: every order event up to it is stored.

        A record folded into a snapshot is gone from the journal's tail, where a restarted
        gateway looks for the events a SIGKILL kept from the stream (:mod:`._catch_up`); so a
        record whose event is still waiting (in the outbox, or sent and not acknowledged)
        stays in the tail, and with it every later one.
        """
        waiting = [
            outgoing.seq
            for _, _, outgoing, _ in itertools.chain(self._outbox, self._publishing)
            if isinstance(outgoing, PendingOrderEvent) and outgoing.seq is not None
        ]
        # Nothing waiting: every event recorded so far is stored (a listener queues its event in
        # the turn its record is made), so the ceiling is the last record made.
        return min(waiting) - 1 if waiting else self.journal.last_seq

    def _check_owner(self, target: str, owner: str, args: dict[str, Any]) -> None:
        holder = self._owners.get(target)
        if holder is not None and holder != owner and not args.get("any_owner"):
            raise InvalidOrder(f"order {target} belongs to strategy {holder!r}, not {owner!r}")

    # -- trading state (KV) -------------------------------------------------------------------
    def owner_of(self, client_order_id: str) -> str | None:
        """The strategy that sent this order (:data:`UNOWNED` for orders no strategy sent), or ``None``
        when this gateway run has not seen it (an order finished before the last restart) or
        forgot it (it finished more than 100,000 finished orders ago; the command log keeps it:
        :meth:`CommandLog.owner_of <autotrader_nats.command_log.CommandLog.owner_of>`)."""
        return self._owners.get(client_order_id)

    async def kill(self, *, actor: str, reason: str = "operator") -> KillReport:
        """Engage the account's kill switch here, then record it in the KV bucket.

        The kill runs first and does not wait for NATS (a kill must work with the server
        down); the ``kill`` key then tells every process, and a restarted gateway starts halted.
        """
        report = await self.control.kill(actor=actor, reason=reason)
        if self._kv is not None:
            try:
                await self._kv.put("kill", dumps({"actor": actor, "reason": reason}))
            except Exception as exc:  # the kill has run; only its record in the bucket is missing
                logger.error("kill switch engaged, but not recorded in the state bucket: %s", exc)
        return report

    async def set_trading_state(self, state: str, *, actor: str, reason: str = "") -> None:
        """Apply ``active`` / ``reducing`` / ``halted`` now and publish it in the KV bucket."""
        await self._apply_state(state, actor=actor, reason=reason)
        if self._kv is not None:
            await self._kv.put("trading_state", dumps({"state": state, "actor": actor, "reason": reason}))

    async def _apply_state(self, state: str, *, actor: str, reason: str) -> None:
        if self.control.trading_state.value == state:
            return
        if state == TradingState.HALTED.value:
            await self.control.halt(actor=actor, reason=reason)
        elif state == TradingState.REDUCING.value:
            await self.control.reducing_only(actor=actor, reason=reason)
        elif state == TradingState.ACTIVE.value:
            await self.control.resume(actor=actor)
        else:
            logger.error("unknown trading state %r in the KV bucket (by %s); ignored", state, actor)

    async def _sync_state(self, kv: KeyValue) -> int:
        # A halt from recovery wins over a stale "active" in the bucket; otherwise the bucket wins.
        revision = 0
        try:
            entry = await kv.get("kill")
            revision = max(revision, entry.revision or 0)
            if entry.value:
                killed = loads(entry.value)
                await self.control.halt(
                    actor=str(killed.get("actor", "kv")), reason="kill switch engaged earlier"
                )
        except KeyNotFoundError:
            pass
        try:
            entry = await kv.get("trading_state")
            revision = max(revision, entry.revision or 0)
            body = loads(entry.value or b"{}")
        except KeyNotFoundError:
            body = {}
        if self.control.trading_state is not TradingState.ACTIVE or not body:
            state = self.control.trading_state.value
            revision = await kv.put(
                "trading_state", dumps({"state": state, "actor": "gateway", "reason": "start"})
            )
        else:
            await self._apply_state(
                str(body.get("state")), actor=str(body.get("actor", "kv")), reason=str(body.get("reason", ""))
            )
        return revision

    async def _watch_state(self, kv: KeyValue, after_revision: int) -> None:
        # Re-opened whenever it fails (e.g. the server restarted): a halt must never go unheard.
        while True:
            try:
                after_revision = await self._watch_state_once(kv, after_revision)
            except Exception as exc:
                logger.warning("trading-state watch failed (%s); re-opening", exc)
                await anyio.sleep(0.5)

    async def _watch_state_once(self, kv: KeyValue, after_revision: int) -> int:
        watcher = await kv.watchall()
        async for entry in watcher:
            if entry is None or (entry.revision or 0) <= after_revision or not entry.value:
                continue
            after_revision = entry.revision or after_revision
            try:
                body = loads(entry.value)
                actor, reason = str(body.get("actor", "kv")), str(body.get("reason", ""))
                if entry.key == "kill" and self.control.kill_report is None:  # not ours (see kill)
                    await self.control.kill(actor=actor, reason=reason or "kill from the state bucket")
                elif entry.key == "trading_state":
                    await self._apply_state(str(body.get("state")), actor=actor, reason=reason)
            except (ValueError, AutotraderError) as exc:
                logger.error("state update %s=%r refused: %s", entry.key, entry.value, exc)
        return after_revision

    # -- events out ----------------------------------------------------------------------------
    def _queue_order_event(self, order: Order, event: OrderEvent) -> None:
        cid = order.client_order_id
        unbudgeted = None
        position = None
        if isinstance(event, OrderFilled):
            owner = self._owners.get(cid)
            if owner is not None:
                self.budgets.on_fill(owner, event.fill)
            elif self.budgets.budgets:  # owner forgotten (a late fill): counted once it is read back
                unbudgeted = event.fill
            position = encode_position(self.engine.oms.position(event.fill.symbol))
        # Encoded by the publisher, after the reply the strategy waits for (_outgoing).
        pending = PendingOrderEvent(
            self._account_label, order, event, position, self.engine.order_event_journal_seq
        )
        self._outbox.append((cid, "", pending, unbudgeted))
        if not order.is_open:
            self._forget_owner_later(cid)
        if self._published_all.is_set():
            self._published_all = self._new_event()
        # An order's events made by its own submit, still running, wait until its reply is out:
        # that command wakes the publisher then (_run_command; a slow one: _HELD_AT_MOST). Any
        # other event wakes it now.
        if cid not in self._inflight:
            self._outbox_ready.set()

    async def _publish_events(self, js: JetStreamContext) -> None:
        # Balances are a state (consumers read the latest): looked at and sent when changed at
        # most every _BALANCES_EVERY, not encoded again after every batch of events.
        balances_sent: bytes = b""
        balances_at = -math.inf
        while True:
            with anyio.move_on_after(_BALANCES_EVERY):
                await self._outbox_ready.wait()
            woken = self._outbox_ready.is_set()
            self._outbox_ready = self._new_event()
            # Replies first: a command's task publishes its reply in the turn that made its
            # events, and nats-py writes it from its flusher task, queued behind this one. One
            # turn of the loop lets it go out alone before these events are encoded, published
            # and stored (0.3–0.4 ms of a light-load round trip, traced; README "Performance").
            await asyncio.sleep(0)
            # Looked at after that turn, in which a submit may have queued its events.
            if (
                not woken
                and not self._draining
                and self._outbox
                and time.monotonic() - balances_at < _HELD_AT_MOST
            ):
                # The balances timer, with events held for a submit still running: its end
                # wakes us once its reply is out (_queue_order_event); balances go then too.
                continue
            now = time.monotonic()
            if now - balances_at >= _BALANCES_EVERY or self._draining:
                balances_at = now
                balances = dumps(
                    {
                        "account": self._account_label,
                        "type": "balances",
                        "balances": [encode_balance(b) for b in self.control.balances()],
                    }
                )
                if balances != balances_sent:
                    self._outbox.append((None, self.names.account_events, balances, None))
                    balances_sent = balances
            # What is queued now, and no more: one queued while these are published has woken
            # us again, or is held for its submit's reply (a timer wake here would send it first).
            ready = len(self._outbox)
            while ready:
                batch = self._publishing = [self._outbox.popleft() for _ in range(min(_EVENT_BATCH, ready))]
                await self._publish_batch(js, batch)
                self._publishing = []
                ready = len(self._outbox) if self._draining else ready - len(batch)
            if not self._outbox:
                self._published_all.set()

    def _forget_owner_later(self, cid: str) -> None:
        # The owners of the last _FINISHED_OWNERS_KEPT finished orders stay; an older one's late
        # event reads its owner back from the command log (see _publish_batch).
        finished = self._finished_owners
        finished.append(cid)
        if len(finished) > _FINISHED_OWNERS_KEPT:
            old = finished.popleft()
            known = self.control.order(old)
            if known is None or not known.is_open:
                self._owners.pop(old, None)

    async def _publish_batch(self, js: JetStreamContext, batch: list[_Outgoing]) -> None:
        # One message per strategy subject for the events ready together (in their order);
        # the id is fixed before the first attempt, so a re-send is de-duplicated.
        grouped: dict[str, list[bytes]] = {}
        items: list[tuple[str, bytes, str]] = []
        for cid, subject, outgoing, unbudgeted in batch:
            if isinstance(outgoing, PendingOrderEvent):
                try:
                    payload = outgoing.encode()
                except Exception as exc:  # never the others' events; this one raises an alert
                    logger.exception("order event of %s could not be encoded; not published", cid)
                    self.engine.notifier.alert(
                        "critical", f"order event of {cid} not published to the strategies: {exc!r}"
                    )
                    continue
            else:
                payload = outgoing
            if cid is None:  # balances: one message each, as consumers of evt.account read them
                self._event_count += 1
                items.append((subject, payload, f"{self._run_id}-{self._event_count}"))
                continue
            owner = self._owners.get(cid)
            if owner is None:
                owner = await anyio.to_thread.run_sync(self.command_log.owner_of, cid) or UNOWNED
                self._owners[cid] = owner
                self._forget_owner_later(cid)  # read back for a late event: forgotten again in turn
            if unbudgeted is not None:
                self.budgets.on_fill(owner, unbudgeted)
            owner_subject = self._subjects.get(owner)
            if owner_subject is None:  # built once per owner
                owner_subject = self._subjects[owner] = self.names.order_events(owner)
            grouped.setdefault(owner_subject, []).append(payload)
        for subject, payloads in grouped.items():
            for start in range(0, len(payloads), _EVENTS_PER_MESSAGE):
                self._event_count += 1
                chunk = payloads[start : start + _EVENTS_PER_MESSAGE]
                payload = chunk[0] if len(chunk) == 1 else join_events(self.account, chunk)
                items.append((subject, payload, f"{self._run_id}-{self._event_count}"))
        delay = 0.05
        while items:
            failed: list[tuple[str, bytes, str]] = []
            futures: list[tuple[tuple[str, bytes, str], Any]] = []
            for item in items:
                subject, payload, msg_id = item
                try:
                    futures.append(
                        (item, await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id}))
                    )
                except Exception as exc:  # disconnected: re-send below, same id (de-duplicated)
                    logger.warning("event publish failed (%s); retrying", exc)
                    failed.append(item)
            with anyio.move_on_after(_EVENT_ACK_TIMEOUT) as waited:
                for item, future in futures:
                    try:
                        await future
                    except Exception as exc:  # not stored (server restarting): re-send, same id
                        logger.warning("event publish failed (%s); retrying", exc)
                        failed.append(item)
            if waited.cancelled_caught:  # no ack in time: every unconfirmed one goes again (same ids)
                failed += [item for item, future in futures if not _confirmed(future) and item not in failed]
                for _, future in futures:
                    future.cancel()
            items = failed
            if items:
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _drain_outbox(self) -> None:
        # At stop: the last events (e.g. the kill switch's cancels) and balances are stored before we leave.
        self._draining = True
        self._published_all = anyio.Event()
        self._outbox_ready.set()
        with anyio.move_on_after(5.0):
            await self._published_all.wait()

    async def _publish_quotes(self, nc: Any) -> None:
        # The engine's own reading (the feed's price cache where the symbol is on it, stale:
        # none; else the adapter's price, e.g. paper's), never the adapter's alone: a live
        # venue's adapter knows no price without its market data.
        context = self.engine.context
        while True:
            prices = {}
            for symbol in self._symbols():
                price = context.last_price(symbol)
                if price is not None:
                    prices[symbol] = str(price)
            if prices:
                try:
                    await nc.publish(self.names.quotes, dumps(prices))
                except Exception as exc:  # quotes are not stored: the next ones will do
                    logger.debug("quotes not published: %s", exc)
            await self._publish_stale(nc)
            await anyio.sleep(self.quote_interval)

    async def _publish_stale(self, nc: Any) -> None:
        # The cache marks a symbol stale without a callback (feed dropped, gap, bad book):
        # looked at every quote_interval, sent once per new reason (and in every snapshot).
        for symbol, reason in self._stale_markers(self.engine.market.symbols).items():
            if self._stale_sent.get(symbol) == reason:
                continue
            self._stale_sent[symbol] = reason
            try:
                await nc.publish(self.names.market_data(symbol), dumps(encode_stale(Stale(symbol, reason))))
            except Exception as exc:
                logger.debug("stale marker not published: %s", exc)

    def _stale_markers(self, symbols: Any) -> dict[str, str]:
        # Stale markers only: an old quote's age is judged by each strategy from the quote's age.
        prices = self.engine.prices
        markers = {}
        for symbol in symbols:
            if symbol in prices.known:
                reason = prices.stale_reason(symbol, max_age=math.inf)
                if reason is not None:
                    markers[symbol] = reason
        return markers

    async def _relay_quote(self, quote: Quote) -> None:
        self._stale_sent.pop(quote.symbol, None)
        if self._nc is None:
            return
        try:
            await self._nc.publish(self.names.market_data(quote.symbol), dumps(encode_quote(quote)))
        except Exception as exc:  # not stored: the next quote will do
            logger.debug("quote not published: %s", exc)

    def _symbols(self) -> list[str]:
        return list(dict.fromkeys([*(i.symbol for i in self._instruments), *self.engine.market.symbols]))

    # -- cancel-on-disconnect -------------------------------------------------------------------
    async def _on_heartbeat(self, msg: Any) -> None:
        try:
            body = loads(msg.data)
            owner, timeout = str(body["owner"]), float(body["timeout"])
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("unreadable heartbeat on %s ignored: %s", msg.subject, exc)
            return
        if not self.names.may_speak_for(self.names.owner_in(msg.subject, "hb"), owner):
            logger.warning(
                "heartbeat for strategy %r on %s ignored: not that strategy's subject", owner, msg.subject
            )
            return
        if body.get("leaving"):
            self._liveness.pop(owner, None)
            await self._cancel_owned(owner, "it disconnected")
        else:
            self._liveness[owner] = time.monotonic() + timeout

    async def _watch_liveness(self) -> None:
        while True:
            await anyio.sleep(0.2)
            now = time.monotonic()
            for owner in [o for o, deadline in self._liveness.items() if deadline < now]:
                del self._liveness[owner]
                await self._cancel_owned(owner, "its heartbeats stopped")

    async def _cancel_owned(self, owner: str, why: str) -> None:
        orders = [o for o in self.control.open_orders() if self._owners.get(o.client_order_id) == owner]
        if orders:
            logger.warning(
                "cancel-on-disconnect: strategy %r: %s; cancelling its %d open orders",
                owner,
                why,
                len(orders),
            )
        for order in orders:
            try:
                await self.control.cancel(order.client_order_id, actor=f"cancel-on-disconnect:{owner}")
            except AutotraderError as exc:  # already finished, or the broker refused: logged, others go on
                logger.warning("cancel-on-disconnect of %s failed: %s", order.client_order_id, exc)

    # -- services ---------------------------------------------------------------------------------
    async def _on_snapshot(self, msg: Any) -> None:
        try:
            request = loads(msg.data) if msg.data else {}
            owner = str(request.get("owner") or "*")
            subject_owner = self.names.owner_in(msg.subject, "svc.snapshot")
            if (owner == "*" and subject_owner is not None) or not self.names.may_speak_for(
                subject_owner, owner
            ):
                refused = InvalidOrder(f"a snapshot on {msg.subject} is of strategy {subject_owner!r} only")
                await msg.respond(dumps({"error": encode_error(refused)}))
                return
            symbols = [str(s) for s in request.get("symbols") or ()]
            if symbols:  # a remote strategy's Strategy.symbols: on the engine's market feed
                try:
                    await self.engine.subscribe(symbols)
                except AutotraderError as exc:
                    await msg.respond(dumps({"error": encode_error(exc)}))
                    return
            orders = [
                o
                for o in self.control.open_orders()
                if owner == "*" or self._owners.get(o.client_order_id) == owner
            ]
            instruments = self._instruments
            body = {
                "account": self._account_label,
                "trading_state": self.control.trading_state.value,
                "instruments": [encode_instrument(i) for i in instruments],
                "balances": [encode_balance(b) for b in self.control.balances()],
                "positions": [encode_position(p) for p in self.control.positions().values()],
                "orders": [codec.encode_order(o) for o in orders],
                "quotes": [
                    encode_quote(q) for q in (self.engine.prices.quote(s) for s in symbols) if q is not None
                ],
                "stale": self._stale_markers(symbols),
            }
            await msg.respond(dumps(body))
        except Exception:
            logger.exception("snapshot request failed")

    async def _on_result(self, msg: Any) -> None:
        try:
            command_id = str(loads(msg.data)["id"])
            if command_id in self._inflight:
                await msg.respond(dumps({"pending": True}))
                return
            record = await anyio.to_thread.run_sync(self.command_log.get, command_id)
            subject_owner = self.names.owner_in(msg.subject, "svc.result")
            holder = record.owner if record is not None else self._owners.get(command_id)
            if subject_owner is not None and not self.names.may_speak_for(subject_owner, holder or ""):
                # Another strategy's command (or none known): nothing of it is told here.
                await msg.respond(dumps({"unknown": True}))
                return
            known = None
            if record is None:  # a submit executed unclaimed, its record not written yet
                known = self.control.order(command_id)
            elif record.kind == "submit":
                # The order itself answers, done or not: a gateway killed after executing a
                # submit but before recording its reply would otherwise say "pending" forever.
                known = self.control.order(command_id) or await self.journal.compacted_order(command_id)
            if known is not None:
                await msg.respond(_reply(command_id, {"order": _order_body(known)}))
            elif record is not None and record.state == "done" and record.reply is not None:
                await msg.respond(record.reply)
            elif record is not None:
                await msg.respond(dumps({"pending": True}))
            else:
                await msg.respond(dumps({"unknown": True}))
        except Exception:
            logger.exception("result request failed")


def _reply(
    command_id: str, result: dict[str, Any] | None = None, *, error: BaseException | None = None
) -> bytes:
    if error is not None:
        return dumps({"id": command_id, "ok": False, "error": encode_error(error)})
    return dumps({"id": command_id, "ok": True, **(result or {})})


def _order_body(order: Order) -> dict[str, Any]:
    # A reply's order: replies are dumped by orjson, which writes its times (see encode_order).
    return codec.encode_order(order, for_orjson=True)


def _order_reply(order: Order) -> bytes:
    return _reply(order.client_order_id, {"order": _order_body(order)})


def _journaled_but_unknown(command_id: str) -> bytes:
    return _reply(
        command_id,
        error=RequestTimeout(
            f"submit {command_id} was journaled before the gateway stopped but its order is "
            "no longer known; it is not executed again (see the event stream)"
        ),
    )


def _retrieved(future: asyncio.Future[Any]) -> None:
    # A failed claim is reported by the command waiting on it; one stopped before it waited
    # must not leave it unread (asyncio would log it as never retrieved).
    if not future.cancelled():
        future.exception()


def _confirmed(future: Any) -> bool:
    # Stored: acknowledged without error (a failure not awaited yet counts as unconfirmed).
    return bool(future.done() and not future.cancelled() and future.exception() is None)


async def _add_or_update_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        await js.update_stream(config)
