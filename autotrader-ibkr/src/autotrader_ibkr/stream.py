"""The private stream: what TWS says about our orders and fills, as core events, once each.

:class:`OrderStream` is the listener the taps (:mod:`.taps`) feed with typed records. It
keeps what the adapter knows of its orders (ids both ways, latest terms and status, which
event was last streamed), joins executions and commissions into fills (:mod:`.fills`),
hands TWS's answers to the calls waiting on them (:mod:`.answers`), and queues the core
events ``IbkrAdapter.stream_events`` yields. The OMS owns order state; this keeps only
what is needed to name orders and stream each change once.

:class:`SessionCarrier` carries that queue for the core's
:class:`~autotrader_core.streaming.ReconnectingStream`: one carrier per connection of the
ib_async session, whose ``recv`` raises :class:`~autotrader_core.streaming.StreamLost`
once the socket it opened is gone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

import anyio
from autotrader_core.adapter import AdapterTelemetry, OrderChange
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderRejected
from autotrader_core.models import Fill
from autotrader_core.streaming import StreamLost

from autotrader_ibkr.answers import OrderAnswers, Outcome
from autotrader_ibkr.contracts import symbol_from_fields
from autotrader_ibkr.errors import ErrorKind, classify, ends_order_request
from autotrader_ibkr.fills import FillJoiner
from autotrader_ibkr.orders import CANCELED_STATUSES, core_status
from autotrader_ibkr.parsing import (
    CommissionRecord,
    ContractRules,
    ErrorRecord,
    ExecutionRecord,
    OpenOrderRecord,
    PositionRecord,
    StatusRecord,
    exec_base,
)
from autotrader_ibkr.session import TwsSession

__all__ = ["RESYNC", "OrderStream", "SessionCarrier", "StreamFrame"]

_log = logging.getLogger(__name__)

_WORKING_STATUSES = frozenset({"PreSubmitted", "Submitted"})


class _Wake:
    """Queue marker: wakes ``stream_events`` to reconnect, re-sync or stop."""


_WAKE = _Wake()


class _Resync:
    """Frame marker: TWS restored its link to IBKR (1101/1102); re-sync before reading on."""


RESYNC = _Resync()
"""The frame :class:`SessionCarrier` hands over when a re-sync is due on a live socket."""

StreamFrame = OrderEvent | _Resync
"""What a :class:`SessionCarrier` receives: a queued event, or :data:`RESYNC`."""


class OrderStream:
    """Tap listener and event queue of one adapter (see the module docstring).

    Args:
        session: The TWS session (settings, 1100 state, connect errors).
        answers: Where answers to pending place/modify/cancel calls go.
        telemetry: Returns the adapter's current telemetry.
        symbol_for: Our symbol for a conId, with a fallback built from the message.
    """

    def __init__(
        self,
        session: TwsSession,
        answers: OrderAnswers,
        *,
        telemetry: Callable[[], AdapterTelemetry],
        symbol_for: Callable[[int, str], str],
    ) -> None:
        self._session = session
        self._answers = answers
        self._telemetry = telemetry
        self._symbol_for = symbol_for
        send, receive = anyio.create_memory_object_stream[OrderEvent | _Wake](math.inf)
        self._send = send
        self._receive = receive
        self.resync_needed = False
        """Set after 1101/1102 or a reconnect: ``stream_events`` re-syncs before reading on."""
        # orders (id maps only: the OMS owns order state)
        self.coid_by_order_id: dict[int, str] = {}
        self.order_id_by_coid: dict[str, int] = {}
        self.heads: dict[int, OpenOrderRecord] = {}
        """Latest openOrder head per orderId (kept after the order ends)."""
        self.listed: set[int] = set()
        """orderIds TWS listed as open since the last refresh."""
        self.statuses: dict[int, StatusRecord] = {}
        self.emitted: dict[int, str] = {}
        """The last state streamed per orderId (accepted, canceled, rejected, filled)."""
        self.pending_modify: dict[int, OrderChange] = {}
        self.submitting: set[int] = set()
        """orderIds whose submit_order is still waiting: it decides their acceptance."""
        # fills and account
        self.joiner = FillJoiner(self.resolve_execution)
        self.executions: dict[str, ExecutionRecord] = {}
        """Latest revision of each execution, by base id (a correction replaces it)."""
        self.commissions: dict[str, CommissionRecord] = {}
        self.positions: dict[tuple[str, int], PositionRecord] = {}
        self.rules: dict[int, ContractRules] = {}

    def wake(self) -> None:
        """Wake ``stream_events`` (reconnect, re-sync or stop)."""
        self._send.send_nowait(_WAKE)

    async def receive(self) -> OrderEvent | None:
        """The next queued event; ``None`` when woken without one."""
        item = await self._receive.receive()
        return None if isinstance(item, _Wake) else item

    def alert(self, message: str) -> None:
        """Something a person must look at: logged at ERROR (and to the telemetry's alert, if any)."""
        _log.error("ALERT ibkr: %s", message)
        alert = getattr(self._telemetry(), "alert", None)
        if callable(alert):
            try:
                alert("error", message)
            except Exception:
                _log.exception("telemetry alert failed")

    def remember(self, order_id: int, client_order_id: str) -> None:
        """Name ``order_id`` by our client order id (and back)."""
        self.coid_by_order_id[order_id] = client_order_id
        self.order_id_by_coid[client_order_id] = order_id

    def emit(self, event: OrderEvent) -> None:
        """Queue one event for ``stream_events``."""
        self._send.send_nowait(event)

    def emit_once(self, order_id: int, state: str, event: OrderEvent) -> None:
        """Queue ``event`` unless ``state`` is already the order's last streamed state."""
        if self.emitted.get(order_id) == state:
            return
        self.emitted[order_id] = state
        self.emit(event)

    # ------------------------------------------------------------------ tapped messages (taps.py)
    def on_status(self, record: StatusRecord) -> None:
        """orderStatus: the stream hears acceptance, cancel, rejection (Inactive) of our orders."""
        self.statuses[record.order_id] = record
        coid = self.coid_by_order_id.get(record.order_id)
        self._answers.resolve(record.order_id, Outcome(status=record))
        if coid is None:
            return
        order_id = record.order_id
        if (
            record.status in _WORKING_STATUSES
            or core_status(record.status, record.why_held) is OrderStatus.ACCEPTED
        ):
            if order_id in self.pending_modify:
                return  # modify_order returns OrderModified itself
            if order_id in self.submitting and record.status != "Submitted":
                return  # PreSubmitted: a rejection may still follow; submit_order decides
            self.accept(order_id)
        elif record.status in CANCELED_STATUSES:
            if order_id in self.submitting:
                self.accept(order_id)  # TWS took it, then canceled it (an IOC with nothing to fill)
            self.emit_once(order_id, "canceled", OrderCanceled(coid))
        elif record.status == "Filled":
            self.accept(order_id)
            self.emitted[order_id] = "filled"
        elif record.status == "Inactive":
            # Rejected: the error that says why (201…) may follow; give it the window, then report.
            asyncio.get_running_loop().call_later(
                self._session.settings.reject_window, self._inactive, order_id, coid
            )

    def accept(self, order_id: int) -> None:
        """Stream OrderAccepted once, before anything else about the order."""
        coid = self.coid_by_order_id.get(order_id)
        if coid is not None and self.emitted.get(order_id) is None:
            self.emit_once(order_id, "accepted", OrderAccepted(coid, str(order_id)))

    def _inactive(self, order_id: int, coid: str) -> None:
        if self.emitted.get(order_id) in ("rejected", "canceled", "filled"):
            return
        status = self.statuses.get(order_id)
        if status is not None and status.status == "Inactive":
            self.emit_once(order_id, "rejected", OrderRejected(coid, reason="TWS set the order Inactive"))

    def on_open_order(self, record: OpenOrderRecord) -> None:
        """openOrder: terms of one of our orders (re-attached by orderRef after a restart)."""
        self.heads[record.order_id] = record
        self.listed.add(record.order_id)
        if record.order_ref and record.order_id not in self.coid_by_order_id:
            self.remember(record.order_id, record.order_ref)
        self._answers.resolve(record.order_id, Outcome(open_order=record))

    def on_error(self, record: ErrorRecord) -> None:
        """error: notices and warnings are logged; errors settle the request or order they name."""
        kind = classify(record.code)
        if kind is ErrorKind.INFO:
            _log.info("TWS notice %s: %s", record.code, record.message)
            return
        if kind is ErrorKind.WARNING:
            _log.warning("TWS warning %s for id %s: %s", record.code, record.req_id, record.message)
            return
        if kind in (ErrorKind.CONFIGURATION, ErrorKind.CLIENT_ID_IN_USE):
            self._session.connect_error = record
        if kind is ErrorKind.CONNECTIVITY_LOST:
            self._session.link_lost = True
            self.alert("TWS lost connectivity to IBKR (1100): orders in unknown state until restored")
            return
        if kind in (ErrorKind.RESTORED_DATA_LOST, ErrorKind.RESTORED_DATA_KEPT):
            self._session.link_lost = False
            _log.warning("TWS connectivity restored (%s): re-syncing orders and executions", record.code)
            self._telemetry().reconnected(f"TWS connectivity to IBKR restored ({record.code})")
            self.resync_needed = True
            self.wake()
            return
        _log.warning("TWS error %s for id %s: %s", record.code, record.req_id, record.message)
        order_id = record.req_id
        if not ends_order_request(record.code):
            return  # unknown code: the order's own messages (or a timeout and lookup) decide
        coid = self.coid_by_order_id.get(order_id)
        if coid is not None:
            if kind is ErrorKind.ORDER_REJECTED and order_id not in self.pending_modify:
                self.emit_once(
                    order_id, "rejected", OrderRejected(coid, reason=record.message, code=str(record.code))
                )
            elif kind is ErrorKind.ORDER_CANCELED:
                self.emit_once(order_id, "canceled", OrderCanceled(coid, reason=record.message))
        self._answers.resolve(order_id, Outcome(error=record))

    def on_execution(self, record: ExecutionRecord) -> None:
        """execDetails: one trade (a correction replaces the execution it corrects)."""
        if record.time_unreadable:
            self.alert(
                f"execution {record.exec_id}: unreadable time {record.time_text!r}; "
                "the fill is stamped with the time it was received"
            )
        previous = self.executions.get(record.base_id)
        self.executions[record.base_id] = record
        if record.order_ref and record.order_id not in self.coid_by_order_id and record.order_id > 0:
            self.remember(record.order_id, record.order_ref)
        if not self.is_ours(record):
            return  # manual order, another application or another client id
        if record.order_id in self.submitting:
            self.accept(record.order_id)  # an execution proves the order was accepted
        if self.joiner.is_released(record.exec_id):
            if previous is not None and (previous.shares, previous.price) != (record.shares, record.price):
                self.alert(
                    f"execution {record.base_id} corrected after its fill was released "
                    f"({previous.shares} @ {previous.price} -> {record.shares} @ {record.price}); "
                    "get_fills reports the correction, the OMS keeps the first"
                )
            return
        self._deliver(self.joiner.on_execution(record))
        if self.joiner.known_fill(record.exec_id) is not None:
            asyncio.get_running_loop().call_later(
                self._session.settings.commission_timeout, self._flush_fill, record.exec_id
            )

    def is_ours(self, record: ExecutionRecord) -> bool:
        """Placed through this client id with an orderRef, or an order we placed/re-attached."""
        if record.order_id in self.coid_by_order_id and record.client_id == self._session.settings.client_id:
            return True
        return bool(record.order_ref) and record.client_id == self._session.settings.client_id

    def on_commission(self, record: CommissionRecord) -> None:
        """commissionReport: the fee of one execution."""
        self.commissions[exec_base(record.exec_id)] = record
        self._deliver(self.joiner.on_commission(record))

    def _flush_fill(self, exec_id: str) -> None:
        fill = self.joiner.flush(exec_id)
        if fill is not None:
            _log.warning(
                "no commission for execution %s after %ss: fill released without fee",
                exec_id,
                self._session.settings.commission_timeout,
            )
            self._deliver(fill)

    def _deliver(self, fill: Fill | None) -> None:
        if fill is not None:
            self.emit(OrderFilled(fill))

    def resolve_execution(self, record: ExecutionRecord) -> tuple[str, str]:
        """``(symbol, client order id)`` of an execution."""
        coid = record.order_ref or self.coid_by_order_id.get(record.order_id, "")
        return self._symbol_for(record.contract.con_id, symbol_from_fields(record.contract)), coid

    def on_position(self, record: PositionRecord) -> None:
        """position: one position of one account."""
        self.positions[(record.account, record.contract.con_id)] = record

    def on_contract_rules(self, record: ContractRules) -> None:
        """contractDetails: the trading rules of one contract."""
        self.rules[record.con_id] = record

    def on_bad_message(self, msg_id: int, fields: list[str], error: BrokerProtocolError) -> None:
        """A tapped message could not be read: skipped, with an alert (an execution may be lost)."""
        is_execution = msg_id == 11
        what = "an EXECUTION (a fill may be missing)" if is_execution else f"message {msg_id}"
        self.alert(f"TWS sent {what} the adapter cannot read: {error}; raw fields {fields!r}")
        report = getattr(self._telemetry(), "bad_item", None)  # the core's skipped-item report, if any
        if callable(report):
            try:
                report(
                    "execution" if is_execution else f"TWS message {msg_id}",
                    error,
                    may_hold_fill=is_execution,
                )
            except Exception:
                _log.exception("telemetry bad_item failed")


class SessionCarrier:
    """One connection of the ib_async session, as a carrier of the core's ``ReconnectingStream``.

    ib_async is callback-driven: the taps put events into the :class:`OrderStream` queue and
    a dropped socket wakes it. ``open`` connects the session with the same client id (326
    raises :class:`~autotrader_ibkr.session.ClientIdInUse`, a ``StreamLost``: backed off and
    retried); ``recv`` is the next queued event, :data:`RESYNC` after 1101/1102, or
    ``StreamLost`` once the socket this carrier opened is gone (dropped, or replaced by an
    order call that reconnected first). ``close`` releases this connection; the socket is
    shared with the order calls, so it is disconnected by ``IbkrAdapter.disconnect`` only.
    """

    def __init__(self, session: TwsSession, stream: OrderStream) -> None:
        self._session = session
        self._stream = stream
        self._generation = -1
        self._closed = False

    async def open(self) -> None:
        """Connect the session (a no-op if an order call already reconnected it)."""
        if self._session.closed:
            raise StreamLost("adapter disconnected")
        await self._session.open()
        self._generation = self._session.generation

    def _lost(self) -> bool:
        ib = self._session.ib
        return (
            self._closed
            or self._session.closed
            or ib is None
            or not ib.isConnected()
            or self._session.generation != self._generation
        )

    async def recv(self) -> StreamFrame:
        """The next event; :data:`RESYNC` when due. Raises ``StreamLost`` when the socket is gone."""
        stream = self._stream
        while True:
            item = await stream.receive()
            if item is not None:
                return item
            if self._lost():
                raise StreamLost("TWS socket closed")
            if stream.resync_needed:
                stream.resync_needed = False
                return RESYNC

    async def send(self, frame: StreamFrame) -> None:
        """Not used: requests go through the ib_async client."""
        raise StreamLost("the TWS stream sends through the ib_async client, not the carrier")

    async def close(self) -> None:
        """Release this connection and wake a waiting ``recv``; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._stream.wake()
