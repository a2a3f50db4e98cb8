"""Recovery after a restart: replay the journal, then reconcile with the broker.

1. **Replay.** Every journal record is applied to a fresh OMS in the order it was
   first applied (intents, cancel/modify requests, broker events, query reports),
   which rebuilds orders, fills, positions and PnL exactly. Replay calls no hook and
   no strategy: those events were already delivered before the crash.
2. **Reconcile.** The broker is the source of truth for what happened since:

   * recent fills are fetched (``get_fills``); a fill the journal does not hold is
     applied once (trade ids are the identity; the journal's own fills are never
     applied twice);
   * open orders are fetched (``get_open_orders``); one the OMS knows is settled
     from the broker's report; one the OMS does not know but that carries *our*
     client order id prefix is **adopted**; others are listed as foreign;
   * an order the OMS thinks open that the broker does not list as open is
     **queried** (``get_order``), never guessed: the report settles it (fetching its
     missing fills).
   * a submit or modify left pending (its outcome unknown: the request may still be
     held in the venue's gateway) goes to the engine's one resolver of unknown outcomes
     (:mod:`autotrader_core.resolver`), by the same rule as the live path: on a venue
     whose requests expire, a never-acknowledged order the broker does not know is
     closed as ``REJECTED`` with :data:`NEVER_SENT_REASON` only once the venue's clock
     proves its request expired (the stamp journaled when its outcome became unknown,
     else the restart itself bounds it), so a strategy may send it again; until then,
     and for good on a venue without a re-send guarantee, it stays **unknown**
     (:attr:`ReconciliationReport.unknown`), open, and is resolved after the start.
   * anything else that cannot be settled (a query failing, an acknowledged order
     the broker no longer knows, fills the broker reports but will not list) goes
     into :attr:`ReconciliationReport.unresolved`; trading then stays **HALTED**
     until the user calls :meth:`~autotrader_core.engine.ExecutionEngine.resume_trading`.

Recovery works on the engine's seams, not the engine: every broker request goes through
the :class:`~autotrader_core.broker_gateway.BrokerGateway` (breaker, retry, tracking),
every change through the :class:`~autotrader_core.order_flow.OrderFlow` (so it is
journaled and fanned out too), and a halt through the
:class:`~autotrader_core.trading_gate.TradingGate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from autotrader_core.adapter import OrderChange
from autotrader_core.broker_gateway import BrokerGateway, LookupResult
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import AutotraderError, IllegalTransition, InvalidOrder
from autotrader_core.events import (
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OutcomeResolved,
    OutcomeUnknown,
)
from autotrader_core.journal import snapshot as journal_snapshot
from autotrader_core.journal.base import Journal, JournalEntry
from autotrader_core.models import Fill, Order, OrderReport, utc_now
from autotrader_core.notifier import Notifier
from autotrader_core.oms import OrderManager
from autotrader_core.order_flow import OrderFlow
from autotrader_core.trading_gate import TradingGate

__all__ = [
    "DEFAULT_RESEND_MAX_AGE",
    "LOST_REQUEST_REASON",
    "NEVER_SENT_CODE",
    "NEVER_SENT_REASON",
    "ReconcileRun",
    "ReconciliationReport",
    "ReplaySummary",
    "UnresolvedOrder",
    "apply_entry",
    "reconcile",
    "recover",
    "replay_journal",
]

logger = logging.getLogger(__name__)

NEVER_SENT_REASON = "not known to the broker after a restart: the request never reached it"
"""Reject reason of an intent that was journaled but never reached the broker."""
NEVER_SENT_CODE = "NEVER_SENT"
"""Reject code that goes with :data:`NEVER_SENT_REASON`."""
DEFAULT_RESEND_MAX_AGE = 60.0
"""Seconds: the default of ``EngineSettings.resend_after_restart_max_age``."""

_ZERO = Decimal(0)


# -- replay -------------------------------------------------------------------------------------
@dataclass(slots=True)
class ReplaySummary:
    """What a journal replay found."""

    records: int = 0
    intents: int = 0
    events: int = 0
    reports: int = 0
    in_doubt: dict[str, OutcomeUnknown] = field(default_factory=dict)
    """Orders whose submit/modify outcome was unknown when the journal ended (the resolver's notes)."""
    modify_changes: dict[str, OrderChange] = field(default_factory=dict)
    """The terms of each order's last journaled modify request (a modify left pending is resolved with them)."""
    requested_at: dict[str, datetime] = field(default_factory=dict)
    """When each order's last submit (intent) or modify request was journaled (bounds a re-send's age)."""
    requests: int = 0
    skipped: int = 0
    """Records the OMS refused on replay (logged; the same ones it refused live)."""
    last_recorded_at: datetime | None = None
    fill_keys: set[tuple[str, str, str]] = field(default_factory=set)
    """Identity of every fill in the journal (kept even after the OMS evicts old orders)."""
    snapshot_seq: int = 0
    """The snapshot replay started from (0: none; the counts above are of the rows after it)."""
    last_seq: int = 0
    """The last row replayed (or the snapshot's, when no row follows it)."""


def apply_entry(oms: OrderManager, entry: JournalEntry) -> bool:
    """Apply one journal record to ``oms`` exactly as the engine did live.

    Returns ``False`` for records that change no order state (dead letters) and for
    records the OMS refuses (an illegal request it also refused live).
    """
    kind = entry.kind
    try:
        if kind == "intent":
            oms.add(entry.payload)
        elif kind == "event":
            oms.apply(entry.payload)
        elif kind == "report":
            oms.apply_report(entry.payload)
        elif kind == "cancel_request":
            oms.mark_pending_cancel(_cid(entry))
        elif kind == "modify_request":
            oms.mark_pending_modify(_cid(entry))
        else:
            return False
    except (InvalidOrder, IllegalTransition) as exc:
        logger.warning("journal record %d (%s) not applied on replay: %s", entry.seq, kind, exc)
        return False
    return True


def _cid(entry: JournalEntry) -> str:
    if entry.client_order_id is None:
        raise InvalidOrder(f"journal record {entry.seq} has no client order id")
    return entry.client_order_id


async def replay_journal(
    journal: Journal, oms: OrderManager, *, up_to_seq: int | None = None
) -> ReplaySummary:
    """Rebuild ``oms`` from the journal's snapshot, if any, and every record after it (call on a fresh OMS).

    ``up_to_seq``: stop after this record (a compaction that must leave the newer ones in the tail).
    """
    summary = ReplaySummary()
    base = await journal_snapshot.restore(journal, oms)
    if base is not None:
        summary.snapshot_seq = summary.last_seq = base.seq
        summary.last_recorded_at = base.recorded_at
        summary.fill_keys = base.fill_keys
    async for entry in journal.entries(after_seq=summary.snapshot_seq):
        if up_to_seq is not None and entry.seq > up_to_seq:
            break
        summary.last_seq = entry.seq
        summary.records += 1
        summary.last_recorded_at = entry.recorded_at
        kind = entry.kind
        if kind == "intent":
            summary.intents += 1
            if entry.client_order_id:
                summary.requested_at[entry.client_order_id] = entry.recorded_at
        elif kind == "event":
            summary.events += 1
            if isinstance(entry.payload, OrderFilled):
                summary.fill_keys.add(entry.payload.fill.key)
        elif kind == "report":
            summary.reports += 1
        elif kind in ("cancel_request", "modify_request"):
            summary.requests += 1
            if kind == "modify_request" and entry.client_order_id and isinstance(entry.payload, OrderChange):
                summary.modify_changes[entry.client_order_id] = entry.payload
                summary.requested_at[entry.client_order_id] = entry.recorded_at
        elif kind == "outcome":
            note = entry.payload
            if isinstance(note, OutcomeUnknown):
                summary.in_doubt[note.client_order_id] = note
            elif isinstance(note, OutcomeResolved):
                summary.in_doubt.pop(note.client_order_id, None)
            continue
        else:
            continue
        if not apply_entry(oms, entry):
            summary.skipped += 1
    return summary


# -- reconciliation --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UnresolvedOrder:
    """An order reconciliation could not settle: a human has to look at it."""

    client_order_id: str
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReconcileRun:
    """One open-order reconciliation during the run: when, and how many orders it looked up."""

    at: datetime
    looked_up: int


@dataclass(slots=True)
class ReconciliationReport:
    """What recovery did and what it could not settle."""

    replay: ReplaySummary = field(default_factory=ReplaySummary)
    open_after_replay: int = 0
    """Orders the journal left open (in flight when the process stopped)."""
    fills_applied: list[str] = field(default_factory=list)
    """Trade ids of broker fills the journal did not hold, applied once."""
    adopted: list[str] = field(default_factory=list)
    """Our client order ids the broker knows but the journal did not (now tracked)."""
    settled: list[str] = field(default_factory=list)
    """Orders whose state a broker report or query changed."""
    never_sent: list[str] = field(default_factory=list)
    """Journaled intents the broker never received (closed as rejected, safe to send again)."""
    unknown: list[str] = field(default_factory=list)
    """Orders whose submit/modify outcome is still unknown: open, in the resolver's hands."""
    foreign_orders: list[str] = field(default_factory=list)
    """Open orders at the broker under ids that are not ours (left alone)."""
    unresolved: list[UnresolvedOrder] = field(default_factory=list)
    position_differences: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Symbol → (OMS quantity, broker quantity) where they differ (informational: a broker
    position may include trades made outside autotrader)."""
    started_at: datetime = field(default_factory=utc_now)

    @property
    def clean(self) -> bool:
        """True when nothing needs a human decision."""
        return not self.unresolved

    def summary(self) -> str:
        """One line for logs and alerts."""
        return (
            f"replayed {self.replay.records} records ({self.open_after_replay} orders open), "
            f"{len(self.fills_applied)} missed fills applied, {len(self.adopted)} adopted, "
            f"{len(self.settled)} settled, {len(self.never_sent)} never sent, {len(self.unknown)} unknown, "
            f"{len(self.unresolved)} unresolved"
        )


def _find(oms: OrderManager, client_order_id: str | None, broker_order_id: str | None) -> Order | None:
    order = oms.get(client_order_id) if client_order_id else None
    if order is None and broker_order_id:
        order = oms.get_by_broker_id(broker_order_id)
    return order


async def _adopt(
    flow: OrderFlow, broker: str, report: OrderReport, report_out: ReconciliationReport
) -> Order:
    """Track a broker order placed under our id that the journal does not hold."""
    assert report.client_order_id is not None
    order = Order(
        client_order_id=report.client_order_id,
        symbol=report.symbol,
        side=report.side,
        order_type=report.order_type,
        quantity=report.quantity,
        time_in_force=report.time_in_force,
        limit_price=report.limit_price,
        stop_price=report.stop_price,
        broker=broker,
        tag="adopted",
    )
    flow.oms.add(order)
    if flow.journal is not None:
        await flow.journal.record_intent(order)
    report_out.adopted.append(order.client_order_id)
    logger.warning(
        "adopted broker order %s (%s) missing from the journal", order.client_order_id, order.symbol
    )
    return order


async def reconcile(
    gateway: BrokerGateway,
    flow: OrderFlow,
    *,
    replay: ReplaySummary | None = None,
    lookback: timedelta = timedelta(minutes=10),
    our_prefix: str = "at",
    resend_max_age: float = DEFAULT_RESEND_MAX_AGE,
) -> ReconciliationReport:
    """Compare the OMS with the broker and settle what differs (see the module docstring).

    Args:
        replay: The summary of the replay that preceded (its fills are never re-applied).
        lookback: How far before the last journal record (or the oldest open order) to
            fetch fills from; covers broker timestamps that lag our clock.
        our_prefix: Client order ids starting with it are ours (adopted when unknown):
            the engine passes its :class:`~autotrader_core.ids.ClientOrderIdGenerator`'s prefix.
        resend_max_age: Seconds: a submit/modify journaled longer ago than this is never
            re-sent (even where the venue makes a re-send safe); it stays unknown.
    """
    adapter = gateway.adapter
    in_doubt = partial(_resolve_in_doubt, gateway, max_age=timedelta(seconds=resend_max_age))
    oms = flow.oms
    report = ReconciliationReport(replay=replay or ReplaySummary())
    known_fills = report.replay.fill_keys
    report.open_after_replay = oms.open_order_count()

    # 0. A modify left pending whose new terms the broker shows took effect, whatever came
    #    after it: a fill while we were down would close the order in step 1, and nothing
    #    would read the broker's terms for it any more.
    for pending in [o for o in oms.open_orders() if o.status is OrderStatus.PENDING_MODIFY]:
        await _adopt_modified_terms(gateway, flow, pending)

    # 1. Fills the journal missed (the broker's history is the truth).
    if adapter.capabilities.fill_history:
        anchors = [o.created_at for o in oms.open_orders()]
        if report.replay.last_recorded_at is not None:
            anchors.append(report.replay.last_recorded_at)
        since = min(anchors, default=utc_now()) - lookback
        try:
            fills = await gateway.call("get_fills", lambda: adapter.get_fills(since=since))
        except AutotraderError as exc:
            report.unresolved.append(UnresolvedOrder("*", "*", f"cannot list recent fills: {exc}"))
            fills = []
        for fill in fills:
            await _apply_missed_fill(gateway, flow, fill, known_fills, report, our_prefix)

    # 2. Open orders at the broker: settle ours, adopt ours we lost, list foreign ones.
    broker_open: set[str] = set()
    try:
        open_reports = await gateway.call("get_open_orders", lambda: adapter.get_open_orders())
    except AutotraderError as exc:
        report.unresolved.append(UnresolvedOrder("*", "*", f"cannot list open orders: {exc}"))
        open_reports = []
    for broker_report in open_reports:
        order = _find(oms, broker_report.client_order_id, broker_report.broker_order_id)
        if order is None:
            cid = broker_report.client_order_id
            if cid and cid.startswith(our_prefix):
                order = await _adopt(flow, adapter.name, broker_report, report)
            else:
                report.foreign_orders.append(cid or broker_report.broker_order_id or "?")
                continue
        broker_open.add(order.client_order_id)
        if order.status is OrderStatus.PENDING_MODIFY:
            # The modify may still be held in flight: the resolver's rule, not a guess.
            await in_doubt(order, report)
            continue
        await _settle(gateway, flow, order, broker_report, report=report)

    # 3. Orders we think open that the broker does not list: ask about each one.
    for order in list(oms.open_orders()):
        if order.client_order_id in broker_open:
            continue
        if order.status in _IN_DOUBT:
            await in_doubt(order, report)
            continue
        try:
            result = await gateway.look_up_and_settle(
                order, settle=partial(_settle, gateway, flow, report=report)
            )
        except AutotraderError as exc:
            report.unresolved.append(
                UnresolvedOrder(order.client_order_id, order.symbol, f"broker query failed: {exc}")
            )
            continue
        if result is LookupResult.CLOSED_UNSENT:
            report.never_sent.append(order.client_order_id)
        elif result is LookupResult.UNKNOWN:
            report.unresolved.append(
                UnresolvedOrder(
                    order.client_order_id,
                    order.symbol,
                    f"the broker acknowledged this order ({order.status.value}) but no longer knows it",
                )
            )

    # 4. Positions, where the broker reports them (informational).
    if adapter.capabilities.broker_positions:
        try:
            broker_positions = {p.symbol: p.quantity for p in await adapter.get_positions()}
        except AutotraderError as exc:
            logger.warning("reconciliation: cannot read broker positions: %s", exc)
        else:
            ours = {s: p.quantity for s, p in oms.positions().items()}
            for symbol in sorted(set(ours) | set(broker_positions)):
                mine, theirs = ours.get(symbol, _ZERO), broker_positions.get(symbol, _ZERO)
                if mine != theirs:
                    report.position_differences[symbol] = (mine, theirs)
    return report


async def _adopt_modified_terms(gateway: BrokerGateway, flow: OrderFlow, order: Order) -> None:
    """Apply a pending modify the broker's report proves took effect (new terms); else leave it to the resolver."""
    try:
        found = await gateway.look_up(order)
    except AutotraderError:
        return  # not found or not answered: steps 2-3 and the resolver ask again
    terms = (found.quantity, found.limit_price, found.stop_price)
    if terms != (order.quantity, order.limit_price, order.stop_price):
        await flow.apply(
            OrderModified(
                order.client_order_id,
                quantity=found.quantity,
                limit_price=found.limit_price,
                stop_price=found.stop_price,
                broker_order_id=found.broker_order_id,
            )
        )


async def _apply_missed_fill(
    gateway: BrokerGateway,
    flow: OrderFlow,
    fill: Fill,
    known: set[tuple[str, str, str]],
    report: ReconciliationReport,
    our_prefix: str,
) -> None:
    oms = flow.oms
    if fill.key in known or oms.has_seen_fill(fill):
        return
    order = _find(oms, fill.client_order_id, fill.broker_order_id)
    if order is None:
        if not fill.client_order_id.startswith(our_prefix):
            return  # someone else's trade on this account
        try:
            broker_report = await gateway.call(
                "get_order",
                lambda: gateway.adapter.get_order(
                    symbol=fill.symbol,
                    client_order_id=fill.client_order_id,
                    broker_order_id=fill.broker_order_id,
                ),
            )
        except AutotraderError as exc:
            report.unresolved.append(
                UnresolvedOrder(
                    fill.client_order_id,
                    fill.symbol,
                    f"fill {fill.trade_id} for an order we cannot query: {exc}",
                )
            )
            return
        await _adopt(flow, gateway.adapter.name, broker_report, report)
    await flow.apply(OrderFilled(fill))
    known.add(fill.key)
    report.fills_applied.append(fill.trade_id)


async def _settle(
    gateway: BrokerGateway,
    flow: OrderFlow,
    order: Order,
    broker_report: OrderReport,
    *,
    report: ReconciliationReport,
) -> None:
    before = (order.status, order.filled_quantity)
    try:
        await gateway.settle_from_report(order, broker_report)
    except AutotraderError as exc:
        report.unresolved.append(
            UnresolvedOrder(order.client_order_id, order.symbol, f"cannot fetch its fills: {exc}")
        )
        return
    if order.status in _PENDING_REQUEST and broker_report.status in _WORKING:
        # After a restart no request of ours is still on its way: the broker's report that
        # the order still works proves the cancel/modify never took effect.
        await flow.apply(_lost_request_event(order, broker_report))
    if (order.status, order.filled_quantity) != before:
        report.settled.append(order.client_order_id)
    missing = broker_report.filled_quantity - order.filled_quantity
    if missing > 0:
        report.unresolved.append(
            UnresolvedOrder(
                order.client_order_id,
                order.symbol,
                f"the broker reports {broker_report.filled_quantity} filled but only "
                f"{order.filled_quantity} could be matched to fills",
            )
        )
    elif (
        order.is_open and broker_report.status.is_terminal and broker_report.status is not OrderStatus.FILLED
    ):
        report.unresolved.append(
            UnresolvedOrder(
                order.client_order_id,
                order.symbol,
                f"the broker reports {broker_report.status.value} but the order stays {order.status.value}",
            )
        )


async def _resolve_in_doubt(
    gateway: BrokerGateway, order: Order, report: ReconciliationReport, *, max_age: timedelta
) -> None:
    """Hand a submit/modify left pending to the resolver: one pass, by the live path's rule."""
    resolver = gateway.resolver
    cid = order.client_order_id
    # A venue that makes a re-send safe takes it as a new order today: only a recent request is re-sent.
    journaled = report.replay.requested_at.get(cid)
    if order.status is OrderStatus.PENDING_SUBMIT:
        requested = min(order.created_at, journaled or order.created_at)
    else:
        requested = journaled or order.updated_at
    note = report.replay.in_doubt.get(cid)
    if note is not None and resolver.get(cid) is None:
        resolver.restore(order, note, unsent_code=NEVER_SENT_CODE)  # its journaled stamp bounds the request
    before = (order.status, order.filled_quantity)
    try:
        settled = await resolver.resolve(
            order,
            unsent_code=NEVER_SENT_CODE,
            unsent_reason=NEVER_SENT_REASON,
            change=report.replay.modify_changes.get(cid),
            resend_until=requested + max_age,
        )
    except AutotraderError as exc:
        report.unresolved.append(UnresolvedOrder(cid, order.symbol, f"broker query failed: {exc}"))
        return
    if not settled:
        report.unknown.append(cid)
    elif order.status is OrderStatus.REJECTED and order.reject_reason == NEVER_SENT_REASON:
        report.never_sent.append(cid)
    elif (order.status, order.filled_quantity) != before:
        report.settled.append(cid)


_IN_DOUBT = frozenset({OrderStatus.PENDING_SUBMIT, OrderStatus.PENDING_MODIFY})
_PENDING_REQUEST = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_MODIFY})
_WORKING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
LOST_REQUEST_REASON = "the request was lost in a restart: the broker still works the order unchanged"
"""Reason of the cancel/modify rejection recovery applies when a request never took effect."""


def _lost_request_event(order: Order, broker_report: OrderReport) -> OrderEvent:
    cid = order.client_order_id
    if order.status is OrderStatus.PENDING_CANCEL:
        return OrderCancelRejected(cid, LOST_REQUEST_REASON)
    terms = (broker_report.quantity, broker_report.limit_price, broker_report.stop_price)
    if terms != (order.quantity, order.limit_price, order.stop_price):  # the modify did take effect
        return OrderModified(
            cid,
            quantity=broker_report.quantity,
            limit_price=broker_report.limit_price,
            stop_price=broker_report.stop_price,
            broker_order_id=broker_report.broker_order_id,
        )
    return OrderModifyRejected(cid, LOST_REQUEST_REASON)


async def recover(
    journal: Journal | None,
    *,
    gateway: BrokerGateway,
    flow: OrderFlow,
    gate: TradingGate,
    notifier: Notifier,
    lookback: timedelta = timedelta(minutes=10),
    our_prefix: str = "at",
    resend_max_age: float = DEFAULT_RESEND_MAX_AGE,
) -> ReconciliationReport:
    """Replay ``journal`` into the flow's OMS, reconcile with the broker, halt ``gate`` if unresolved.

    Args:
        our_prefix: The client order id prefix of this engine (see :func:`reconcile`).
        resend_max_age: See :func:`reconcile` (``EngineSettings.resend_after_restart_max_age``).
    """
    replay = ReplaySummary()
    if journal is not None and journal.has_history:
        replay = await replay_journal(journal, flow.oms)
    report = await reconcile(
        gateway, flow, replay=replay, lookback=lookback, our_prefix=our_prefix, resend_max_age=resend_max_age
    )
    if report.unresolved:
        gate.halt("reconciliation left items unresolved")
        details = "; ".join(f"{u.client_order_id}: {u.reason}" for u in report.unresolved[:10])
        notifier.alert(
            "critical",
            f"reconciliation left {len(report.unresolved)} item(s) unresolved; trading HALTED until "
            f"resume_trading() is called: {details}",
        )
    logger.info("recovery: %s", report.summary())
    return report
