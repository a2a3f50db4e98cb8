"""The IBKR adapter: ib_async's TWS socket client wired to autotrader's contract.

Event loop: ib_async is asyncio-only.  Under anyio's asyncio backend it runs on
the same loop as our code, so the adapter simply awaits ib_async's ``*Async``
methods; it never calls ib_async's blocking helpers (``IB.connect``, ``util.run``)
and never applies ``nest_asyncio`` / ``util.patchAsyncio``.  Under the trio
backend ``connect`` raises :class:`ConfigurationError`.

Data path: ib_async parses every TWS message (and keeps its own order book);
the adapter reads the raw fields of the messages that carry money
(:mod:`autotrader_ibkr.wire`) and turns them into core events.  Our client order
id travels in ``orderRef``, so executions and open orders name their order even
after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, TypeVar

import anyio
import ib_async
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import AssetClass, OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
    ConfigurationError,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotFound,
    RequestTimeout,
)
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position

from autotrader_ibkr.contracts import ContractSpec, parse_symbol, symbol_from_fields
from autotrader_ibkr.errors import ErrorKind, classify, to_exception
from autotrader_ibkr.fills import FillJoiner, fill_from
from autotrader_ibkr.orders import (
    build_ib_order,
    core_order_type,
    core_status,
    core_tif,
    validate_order,
)
from autotrader_ibkr.parsing import (
    BROKER,
    CommissionRecord,
    ContractRules,
    ErrorRecord,
    ExecutionRecord,
    OpenOrderRecord,
    PositionRecord,
    StatusRecord,
    parse_commission,
    parse_contract_rules,
    parse_error,
    parse_execution,
    parse_open_order,
    parse_order_status,
    parse_position,
)
from autotrader_ibkr.settings import IbkrSettings
from autotrader_ibkr.wire import install_taps

__all__ = ["IbkrAdapter"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

_ACK_STATUSES = frozenset({"PreSubmitted", "Submitted", "Filled", "Cancelled", "ApiCancelled"})
_CANCELED_STATUSES = frozenset({"Cancelled", "ApiCancelled"})
_THROTTLE = "ibkr-tws-messages"
"""Telemetry name of ib_async's client-side throttle (45 messages/s; TWS allows 50)."""


class _Wake:
    """Queue marker: wakes ``stream_events`` to reconnect, re-sync or stop."""


_WAKE = _Wake()


def _is_ack(outcome: _Outcome) -> bool:
    """TWS took the order (or its new terms): an openOrder, or a status past PendingSubmit."""
    if outcome.open_order is not None:
        return True
    return outcome.status is not None and outcome.status.status in _ACK_STATUSES


def _is_cancel_answer(outcome: _Outcome) -> bool:
    """The cancel is settled: canceled, or finished some other way (filled)."""
    return outcome.status is not None and outcome.status.status in (*_CANCELED_STATUSES, "Filled")


@dataclass(slots=True)
class _Outcome:
    """What TWS answered to a place, modify or cancel."""

    status: StatusRecord | None = None
    open_order: OpenOrderRecord | None = None
    error: ErrorRecord | None = None


class _Waiter:
    """Collects TWS's answers about one order for one pending call."""

    def __init__(self) -> None:
        self._outcomes: list[_Outcome] = []
        self._error: AutotraderError | None = None
        self._event = asyncio.Event()

    def put(self, outcome: _Outcome) -> None:
        self._outcomes.append(outcome)
        self._event.set()

    def fail(self, error: AutotraderError) -> None:
        self._error = error
        self._event.set()

    def take(self) -> list[_Outcome]:
        if self._error is not None:
            raise self._error
        taken, self._outcomes = self._outcomes, []
        self._event.clear()
        return taken

    async def changed(self) -> None:
        await self._event.wait()


class IbkrAdapter(BrokerAdapter):
    """Interactive Brokers through TWS or IB Gateway (paper by default).

    Args:
        settings: Connection settings; read from the environment when omitted.
        ib_factory: Builds the ``ib_async.IB`` client (tests never need to change it:
            they point ``host``/``port`` at the loopback fake TWS).
    """

    name: ClassVar[str] = BROKER
    capabilities: ClassVar[Capabilities] = Capabilities(
        order_types=frozenset(OrderType),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK}),
        asset_classes=frozenset({AssetClass.EQUITY, AssetClass.FX, AssetClass.FUTURE, AssetClass.OPTION}),
        native_modify=True,
        streaming_fills=True,
        broker_positions=True,
        fill_history=True,
        test_environments=("paper",),
        notes=(
            "needs a running TWS or IB Gateway with the API socket enabled",
            "executions history covers the current day (TWS limit)",
            "instruments are the symbols qualified so far (settings.symbols preloads them)",
        ),
    )

    def __init__(
        self, settings: IbkrSettings | None = None, *, ib_factory: Callable[[], ib_async.IB] = ib_async.IB
    ) -> None:
        self.settings = settings if settings is not None else IbkrSettings()
        self._ib_factory = ib_factory
        self._ib: ib_async.IB | None = None
        self._closed = True
        self._account = self.settings.account
        send, receive = anyio.create_memory_object_stream[OrderEvent | _Wake](math.inf)
        self._send_event = send
        self._receive_event = receive
        self._resync_needed = False
        # contracts
        self._specs: dict[str, ContractSpec] = {}
        self._contracts: dict[str, ib_async.Contract] = {}
        self._rules: dict[int, ContractRules] = {}
        self._symbol_by_con_id: dict[int, str] = {}
        self._qualify_lock = anyio.Lock()
        self._connect_lock = anyio.Lock()
        self._connect_error: ErrorRecord | None = None
        self._sessions = 0
        self._lost_reason: str | None = None
        """Why the last established session ended; reported once the next one is up."""
        self._throttled_since: float | None = None
        # orders (id maps only: the OMS owns order state)
        self._coid_by_order_id: dict[int, str] = {}
        self._order_id_by_coid: dict[str, int] = {}
        self._heads: dict[int, OpenOrderRecord] = {}
        """Latest openOrder head per orderId (kept after the order ends)."""
        self._listed: set[int] = set()
        """orderIds TWS listed as open since the last refresh."""
        self._statuses: dict[int, StatusRecord] = {}
        self._emitted: dict[int, str] = {}
        self._pending_modify: dict[int, OrderChange] = {}
        self._waiters: dict[int, list[_Waiter]] = {}
        # fills
        self._joiner = FillJoiner(self._resolve_execution)
        self._executions: dict[str, ExecutionRecord] = {}
        self._commissions: dict[str, CommissionRecord] = {}
        self._positions: dict[tuple[str, int], PositionRecord] = {}

    # ------------------------------------------------------------------ connection
    @property
    def is_connected(self) -> bool:
        """Whether the TWS API session is up."""
        return self._ib is not None and self._ib.isConnected() and not self._closed

    async def connect(self) -> None:
        """Connect to TWS / IB Gateway, synchronise, and qualify ``settings.symbols``."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "the IBKR adapter needs anyio's asyncio backend (ib_async is asyncio-only)", broker=BROKER
            ) from None
        self._closed = False
        await self._open_session()
        for symbol in self.settings.symbols:
            await self._qualified(symbol)

    async def disconnect(self) -> None:
        """Close the session; safe to call twice. Ends ``stream_events``."""
        self._closed = True
        self._lost_reason = None  # a later connect() is a new start, not a reconnect
        if self._ib is not None:
            self._ib.disconnectedEvent -= self._on_disconnected
            self._ib.disconnect()
            self._ib = None
        self._fail_waiters(BrokerUnavailable("adapter disconnected", broker=BROKER))
        self._send_event.send_nowait(_WAKE)

    async def _open_session(self) -> None:
        """Connect (or reconnect) the ib_async client; one attempt at a time."""
        async with self._connect_lock:
            if self._ib is not None and self._ib.isConnected():
                return  # another task reconnected meanwhile
            await self._open_session_locked()

    async def _open_session_locked(self) -> None:
        ib = self._ib if self._ib is not None else self._ib_factory()
        install_taps(
            ib,
            {
                3: self._tap_status,
                4: self._tap_error,
                5: self._tap_open_order,
                10: self._tap_contract_details,
                11: self._tap_execution,
                59: self._tap_commission,
                61: self._tap_position,
            },
        )
        if self._ib is None:
            ib.disconnectedEvent += self._on_disconnected
            ib.client.throttleStart += self._on_throttle_start
            ib.client.throttleEnd += self._on_throttle_end
        self._ib = ib
        self._connect_error = None
        try:
            await ib.connectAsync(
                self.settings.host,
                self.settings.resolved_port,
                clientId=self.settings.client_id,
                timeout=self.settings.connect_timeout,
                account=self.settings.account,
            )
        except (TimeoutError, OSError, ConnectionError) as exc:
            if self._connect_error is not None:  # e.g. 326: client id already in use
                raise to_exception(self._connect_error, context="connect") from exc
            raise BrokerUnavailable(
                f"cannot connect to TWS at {self.settings.host}:{self.settings.resolved_port}: {exc!r}",
                broker=BROKER,
            ) from exc
        if not self._account:
            accounts = ib.managedAccounts()
            if len(accounts) == 1:
                self._account = accounts[0]
        elif self._account not in ib.managedAccounts():
            ib.disconnect()
            raise ConfigurationError(
                f"account {self._account!r} is not managed by this login ({ib.managedAccounts()})",
                broker=BROKER,
            )
        self._check_untracked_orders()
        self._sessions += 1
        reason, self._lost_reason = self._lost_reason, None
        if reason is not None:
            self.telemetry.reconnected(reason)

    def _on_disconnected(self) -> None:
        if not self._closed:
            _log.warning("TWS connection lost; stream_events will reconnect")
            if self._sessions and self._lost_reason is None:
                self._lost_reason = "connection lost: TWS socket closed"
            self._fail_waiters(BrokerUnavailable("TWS connection lost", broker=BROKER))
            self._send_event.send_nowait(_WAKE)

    async def _connection(self) -> ib_async.IB:
        """The live client, reconnecting once if the session dropped."""
        if self._closed:
            raise BrokerUnavailable("adapter is not connected: call connect() first", broker=BROKER)
        if self._ib is None or not self._ib.isConnected():
            await self._open_session()
            self._resync_needed = True
        assert self._ib is not None
        return self._ib

    async def _reconnect(self) -> None:
        delay = self.settings.reconnect_delay
        while not self._closed:
            try:
                await self._open_session()
                _log.info("reconnected to TWS")
                return
            except BrokerUnavailable as exc:
                _log.warning("reconnect failed (%s); next try in %.1fs", exc, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_delay)

    async def _resync(self) -> None:
        """After 1101/1102 or a reconnect: refresh open orders and executions, settle vanished orders.

        Executions come back through the taps and the joiner drops the ones already
        released, so only fills missed in the gap reach the stream.
        """
        ib = await self._connection()
        believed_open = {
            order_id
            for order_id, status in self._emitted.items()
            if status not in ("canceled", "rejected", "filled") and order_id in self._coid_by_order_id
        }
        listed = await self._refresh_open_orders(ib)
        await self._with_timeout(ib.reqExecutionsAsync(), "reqExecutions")
        still_open = {order_id for order_id in listed if self._is_working(order_id)}
        vanished = believed_open - still_open
        if not vanished:
            return
        trades = await self._with_timeout(ib.reqCompletedOrdersAsync(apiOnly=True), "reqCompletedOrders")
        done = {t.order.orderRef: t.orderStatus.status for t in trades}
        for order_id in vanished:
            coid = self._coid_by_order_id[order_id]
            if done.get(coid) in _CANCELED_STATUSES:
                self._emit_once(
                    order_id, "canceled", OrderCanceled(coid, reason="canceled while disconnected")
                )

    def _is_working(self, order_id: int) -> bool:
        status = self._statuses.get(order_id)
        return status is None or core_status(status.status) not in (
            OrderStatus.CANCELED,
            OrderStatus.FILLED,
            OrderStatus.REJECTED,
        )

    def _check_untracked_orders(self) -> None:
        """Re-attach our orders found at connect (restart): orderRef carries the client order id."""
        for order_id, record in self._heads.items():
            if record.order_ref and order_id not in self._coid_by_order_id:
                self._remember(order_id, record.order_ref)

    # ------------------------------------------------------------------ contracts
    async def _qualified(self, symbol: str) -> ib_async.Contract:
        """The qualified contract for ``symbol`` (looked up once, then cached)."""
        if symbol in self._contracts:
            return self._contracts[symbol]
        spec = parse_symbol(symbol)
        async with self._qualify_lock:
            if symbol in self._contracts:
                return self._contracts[symbol]
            ib = await self._connection()
            contract = spec.to_ib()
            result = await self._with_timeout(ib.qualifyContractsAsync(contract), "qualifyContracts")
            qualified = result[0] if result else None
            if not isinstance(qualified, ib_async.Contract) or not qualified.conId:
                raise InvalidOrder(
                    f"TWS does not know {symbol!r} (no unique contract definition)", broker=BROKER
                )
            self._specs[symbol] = spec
            self._contracts[symbol] = qualified
            self._symbol_by_con_id[qualified.conId] = symbol
            return qualified

    def _instrument(self, symbol: str) -> Instrument:
        spec = self._specs[symbol]
        con_id = self._contracts[symbol].conId
        rules = self._rules.get(con_id)
        if rules is None:  # never guess money rules: they come with the contract details
            raise BrokerProtocolError(
                f"no contract details seen for {symbol} (conId {con_id})", broker=BROKER
            )
        lot = rules.size_increment or Decimal(1)
        return Instrument(
            symbol=symbol,
            asset_class=spec.asset_class,
            base=spec.underlying,
            quote=spec.currency,
            tick_size=rules.min_tick,
            lot_size=lot,
            min_quantity=rules.min_size or lot,
            multiplier=rules.multiplier,
        )

    async def get_instruments(self) -> list[Instrument]:
        """Rules of every symbol qualified so far (``settings.symbols`` are qualified at connect)."""
        return [self._instrument(symbol) for symbol in self._contracts]

    async def get_instrument(self, symbol: str) -> Instrument:
        """Qualify ``symbol`` (once) and return its trading rules."""
        await self._qualified(symbol)
        return self._instrument(symbol)

    def _symbol_for(self, con_id: int, fallback: str) -> str:
        return self._symbol_by_con_id.get(con_id, fallback)

    # ------------------------------------------------------------------ orders
    async def submit_order(self, order: Order) -> list[OrderEvent]:
        """Place ``order``; its client order id travels in ``orderRef``.

        Returns ``[OrderAccepted]`` once TWS acknowledges it (openOrder / orderStatus).

        Raises:
            InvalidOrder, InsufficientFunds: TWS rejected it (201, 110, …).
            DuplicateClientOrderId: this client order id is already working here.
            RequestTimeout: no answer in ``order_ack_timeout``; look it up before re-sending.
        """
        validate_order(order)
        contract = await self._qualified(order.symbol)
        ib = await self._connection()
        existing = self._order_id_by_coid.get(order.client_order_id)
        if existing is not None and existing in self._emitted:
            raise DuplicateClientOrderId(
                f"order {order.client_order_id} is already at TWS as orderId {existing}", broker=BROKER
            )
        # A re-send after a timeout reuses the orderId: TWS answers 103 (duplicate) if it got the first.
        order_id = existing if existing is not None else ib.client.getReqId()
        self._remember(order_id, order.client_order_id)
        waiter = self._waiter(order_id)
        ib.placeOrder(contract, build_ib_order(order, order_id=order_id, account=self._account))
        outcome = await self._await_outcome(order_id, waiter, "placeOrder", _is_ack)
        if outcome.error is not None:
            raise to_exception(outcome.error, context=f"placing {order.client_order_id}")
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, str(order_id))]
        if outcome.status is not None and outcome.status.status in _CANCELED_STATUSES:
            events.append(OrderCanceled(order.client_order_id))  # e.g. IOC with nothing to fill
        return events

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel ``order``; returns ``[OrderCanceled]`` or ``[OrderCancelRejected]``.

        Raises:
            OrderNotFound: TWS does not know the order (10147/135), or we never placed it.
        """
        order_id = self._order_id_for(order)
        ib = await self._connection()
        waiter = self._waiter(order_id)
        ib.cancelOrder(ib_async.Order(orderId=order_id, clientId=self.settings.client_id))
        outcome = await self._await_outcome(order_id, waiter, "cancelOrder", _is_cancel_answer)
        if outcome.error is not None:
            kind = classify(outcome.error.code)
            if kind is ErrorKind.ORDER_CANCELED:
                return [OrderCanceled(order.client_order_id, reason=outcome.error.message)]
            if kind is ErrorKind.CANCEL_REJECTED:
                return [OrderCancelRejected(order.client_order_id, reason=outcome.error.message)]
            raise to_exception(outcome.error, context=f"canceling {order.client_order_id}")
        status = outcome.status.status if outcome.status else ""
        if status in _CANCELED_STATUSES:
            return [OrderCanceled(order.client_order_id)]
        if status == "Filled":
            return [OrderCancelRejected(order.client_order_id, reason="order already filled")]
        return []

    async def modify_order(self, order: Order, change: OrderChange) -> list[OrderEvent]:
        """Native modify: re-place with the same ``orderId`` and new terms.

        Returns ``[OrderModified]`` when TWS confirms, ``[OrderModifyRejected]`` when it refuses.
        """
        order_id = self._order_id_for(order)
        for value, name in (
            (change.quantity, "quantity"),
            (change.limit_price, "limit_price"),
            (change.stop_price, "stop_price"),
        ):
            if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value <= 0):
                raise InvalidOrder(f"{name} must be a positive Decimal", broker=BROKER)
        if change.limit_price is not None and order.order_type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            raise InvalidOrder(f"{order.order_type} orders have no limit price", broker=BROKER)
        if change.stop_price is not None and order.order_type not in (OrderType.STOP, OrderType.STOP_LIMIT):
            raise InvalidOrder(f"{order.order_type} orders have no stop price", broker=BROKER)
        status = self._statuses.get(order_id)
        if status is not None and core_status(status.status) in (OrderStatus.FILLED, OrderStatus.CANCELED):
            return [OrderModifyRejected(order.client_order_id, reason=f"order is {status.status}")]
        contract = await self._qualified(order.symbol)
        ib = await self._connection()
        self._pending_modify[order_id] = change
        try:
            try:
                ib.placeOrder(
                    contract,
                    build_ib_order(
                        order,
                        order_id=order_id,
                        account=self._account,
                        quantity=change.quantity,
                        limit_price=change.limit_price,
                        stop_price=change.stop_price,
                    ),
                )
            except AssertionError:
                # ib_async refuses to modify an order it already considers done.
                return [OrderModifyRejected(order.client_order_id, reason="order is no longer working")]
            # TWS's answer is read on a later loop turn, so registering after the send is safe.
            waiter = self._waiter(order_id)
            outcome = await self._await_outcome(order_id, waiter, "modify", _is_ack)
        finally:
            self._pending_modify.pop(order_id, None)
        if outcome.error is not None:
            return [OrderModifyRejected(order.client_order_id, reason=outcome.error.message)]
        return [
            OrderModified(
                order.client_order_id,
                quantity=change.quantity,
                limit_price=change.limit_price,
                stop_price=change.stop_price,
                broker_order_id=str(order_id),
            )
        ]

    def _order_id_for(self, order: Order) -> int:
        if order.client_order_id in self._order_id_by_coid:
            return self._order_id_by_coid[order.client_order_id]
        if order.broker_order_id and order.broker_order_id.isdigit():
            return int(order.broker_order_id)
        raise OrderNotFound(f"no TWS orderId known for {order.client_order_id}", broker=BROKER)

    def _remember(self, order_id: int, client_order_id: str) -> None:
        self._coid_by_order_id[order_id] = client_order_id
        self._order_id_by_coid[client_order_id] = order_id

    def _waiter(self, order_id: int) -> _Waiter:
        waiter = _Waiter()
        self._waiters.setdefault(order_id, []).append(waiter)
        return waiter

    async def _await_outcome(
        self,
        order_id: int,
        waiter: _Waiter,
        what: str,
        decisive: Callable[[_Outcome], bool] = lambda outcome: True,
    ) -> _Outcome:
        """Wait for TWS's first decisive answer about ``order_id`` (status, openOrder or error).

        Several answers can arrive in one socket read (PendingCancel, Cancelled, 202),
        so the waiter keeps every outcome rather than only the first.
        """
        try:
            with anyio.fail_after(self.settings.order_ack_timeout):
                while True:
                    for outcome in waiter.take():
                        if outcome.error is not None or decisive(outcome):
                            return outcome
                    await waiter.changed()
        except TimeoutError:
            raise RequestTimeout(
                f"no answer from TWS to {what} for orderId {order_id} in {self.settings.order_ack_timeout}s; "
                "outcome unknown",
                broker=BROKER,
            ) from None
        finally:
            pending = self._waiters.get(order_id, [])
            if waiter in pending:
                pending.remove(waiter)

    def _resolve_waiters(self, order_id: int, outcome: _Outcome) -> None:
        for waiter in self._waiters.get(order_id, []):
            waiter.put(outcome)

    def _fail_waiters(self, error: AutotraderError) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.fail(error)

    # ------------------------------------------------------------------ queries
    async def get_order(
        self,
        *,
        symbol: str,
        client_order_id: str | None = None,
        broker_order_id: str | None = None,
    ) -> OrderReport:
        """Find one of our orders (open or completed today) by client order id or TWS orderId."""
        if client_order_id is None and broker_order_id is None:
            raise InvalidOrder("give client_order_id or broker_order_id", broker=BROKER)
        ib = await self._connection()
        await self._refresh_open_orders(ib)
        for order_id, record in self._heads.items():
            if record.order_ref == client_order_id or str(order_id) == broker_order_id:
                return self._report(order_id, record)
        trades = await self._with_timeout(ib.reqCompletedOrdersAsync(apiOnly=True), "reqCompletedOrders")
        for trade in trades:
            ref = trade.order.orderRef
            if ref and ref == client_order_id:
                return self._completed_report(symbol, ref, trade)
        raise OrderNotFound(
            f"TWS knows no order {client_order_id or broker_order_id} (open or completed today)",
            broker=BROKER,
        )

    async def get_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Working orders of this client id (refreshed with ``reqOpenOrders``)."""
        ib = await self._connection()
        listed = await self._refresh_open_orders(ib)
        reports = [
            self._report(order_id, self._heads[order_id])
            for order_id in sorted(listed)
            if self._is_working(order_id)
        ]
        return [r for r in reports if symbol is None or r.symbol == symbol]

    def _report(self, order_id: int, record: OpenOrderRecord) -> OrderReport:
        status = self._statuses.get(order_id)
        core = core_status(status.status) if status else OrderStatus.ACCEPTED
        if core is OrderStatus.ACCEPTED and status is not None and status.filled > 0:
            core = OrderStatus.PARTIALLY_FILLED
        order_type = core_order_type(record.order_type)
        if order_type is None:
            order_type = OrderType.LIMIT if record.limit_price else OrderType.MARKET
        return OrderReport(
            client_order_id=record.order_ref or None,
            broker_order_id=str(order_id),
            symbol=self._symbol_for(record.contract.con_id, symbol_from_fields(record.contract)),
            side=OrderSide.BUY if record.action == "BUY" else OrderSide.SELL,
            order_type=order_type,
            quantity=record.quantity,
            status=core or OrderStatus.ACCEPTED,
            filled_quantity=status.filled if status else Decimal(0),
            average_fill_price=status.avg_fill_price if status else None,
            limit_price=record.limit_price if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=record.aux_price if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
            time_in_force=core_tif(record.tif),
            broker=BROKER,
        )

    def _completed_report(self, symbol: str, client_order_id: str, trade: ib_async.Trade) -> OrderReport:
        # Quantities from our own execution records (Decimal from the wire), not ib_async's floats.
        fills = [e for e in self._executions.values() if e.order_ref == client_order_id]
        filled = sum((e.shares for e in fills), Decimal(0))
        average = sum((e.shares * e.price for e in fills), Decimal(0)) / filled if filled else None
        status = core_status(trade.orderStatus.status) or OrderStatus.CANCELED
        order_type = core_order_type(trade.order.orderType) or OrderType.MARKET
        quantity = filled
        order_id = self._order_id_by_coid.get(client_order_id)
        head = self._heads.get(order_id) if order_id is not None else None
        if head is not None:
            quantity = head.quantity
        return OrderReport(
            client_order_id=client_order_id,
            broker_order_id=str(order_id) if order_id is not None else None,
            symbol=symbol,
            side=OrderSide.BUY if trade.order.action == "BUY" else OrderSide.SELL,
            order_type=order_type,
            quantity=quantity,
            status=status,
            filled_quantity=filled,
            average_fill_price=average,
            time_in_force=core_tif(trade.order.tif),
            broker=BROKER,
        )

    async def get_fills(self, *, symbol: str | None = None, since: datetime | None = None) -> list[Fill]:
        """Today's executions of our orders (``reqExecutions``), with commissions when known."""
        ib = await self._connection()
        filter_ = ib_async.ExecutionFilter(clientId=self.settings.client_id, acctCode=self._account)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        # ``since`` is applied here, not in the filter: TWS reads the filter's time in the login's
        # zone, and a zone mistake there would hide fills. Today's executions are few.
        results = await self._with_timeout(ib.reqExecutionsAsync(filter_), "reqExecutions")
        fills: list[Fill] = []
        for exec_id in dict.fromkeys(f.execution.execId for f in results):
            record = self._executions.get(exec_id)
            if record is None or not self._is_ours(record):
                continue
            fill_symbol, coid = self._resolve_execution(record)
            if symbol is not None and fill_symbol != symbol:
                continue
            if since is not None and record.time < since:
                continue
            fills.append(
                fill_from(record, self._commissions.get(exec_id), symbol=fill_symbol, client_order_id=coid)
            )
        return fills

    async def get_positions(self) -> list[Position]:
        """Positions of the account (``reqPositions``); quantities and costs as Decimal."""
        ib = await self._connection()
        self._positions.clear()
        await self._with_timeout(ib.reqPositionsAsync(), "reqPositions")
        positions = []
        for record in self._positions.values():
            if self._account and record.account != self._account:
                continue
            if record.quantity == 0:
                continue
            multiplier = Decimal(record.contract.multiplier) if record.contract.multiplier else Decimal(1)
            average = (record.avg_cost or Decimal(0)) / multiplier
            positions.append(
                Position(
                    symbol=self._symbol_for(record.contract.con_id, symbol_from_fields(record.contract)),
                    quantity=record.quantity,
                    average_price=average,
                    broker=BROKER,
                )
            )
        return positions

    async def get_balances(self) -> list[Balance]:
        """Cash per currency (``CashBalance``); the base currency's available = ``AvailableFunds``."""
        ib = await self._connection()
        values = ib.accountValues(self._account)
        if not values and self._account:
            # ib_async subscribes at connect only for a single-account login.
            await self._with_timeout(ib.reqAccountUpdatesAsync(self._account), "reqAccountUpdates")
            values = ib.accountValues(self._account)
        available: dict[str, Decimal] = {}
        cash: dict[str, Decimal] = {}
        for value in values:
            if value.tag == "AvailableFunds" and value.currency not in ("", "BASE"):
                available[value.currency] = Decimal(value.value)
            elif value.tag == "CashBalance" and value.currency not in ("", "BASE"):
                cash[value.currency] = Decimal(value.value)
        return [
            Balance(asset=currency, total=total, available=min(available.get(currency, total), total))
            for currency, total in sorted(cash.items())
        ]

    async def _with_timeout(self, awaitable: Awaitable[_T], what: str) -> _T:
        """Await an ib_async request; no answer in ``request_timeout`` is a RequestTimeout."""
        timeout = self.settings.request_timeout
        try:
            with anyio.fail_after(timeout):
                return await awaitable
        except TimeoutError:
            raise RequestTimeout(f"TWS did not answer {what} in {timeout}s", broker=BROKER) from None

    async def _refresh_open_orders(self, ib: ib_async.IB) -> set[int]:
        """Ask TWS for this client's open orders; returns their orderIds."""
        self._listed.clear()
        await self._with_timeout(ib.reqOpenOrdersAsync(), "reqOpenOrders")
        return set(self._listed)

    # ------------------------------------------------------------------ stream
    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order events and fills until ``disconnect``; reconnects and re-syncs by itself."""
        while not self._closed:
            if self._ib is None or not self._ib.isConnected():
                await self._reconnect()
                self._resync_needed = True
                continue
            if self._resync_needed:
                self._resync_needed = False
                try:
                    await self._resync()
                except AutotraderError as exc:
                    _log.warning("re-sync after reconnect failed: %s", exc)
                    self._resync_needed = True
            item = await self._receive_event.receive()
            if isinstance(item, _Wake):
                continue
            yield item

    # ------------------------------------------------------------------ telemetry
    def _on_throttle_start(self) -> None:
        self._throttled_since = time.monotonic()

    def _on_throttle_end(self) -> None:
        # ib_async queued messages over its 45/s budget: report how long the queue waited.
        started, self._throttled_since = self._throttled_since, None
        if started is not None:
            self.telemetry.rate_limit_wait(_THROTTLE, time.monotonic() - started)

    def _emit(self, event: OrderEvent) -> None:
        self._send_event.send_nowait(event)

    def _emit_once(self, order_id: int, state: str, event: OrderEvent) -> None:
        if self._emitted.get(order_id) == state:
            return
        self._emitted[order_id] = state
        self._emit(event)

    # ------------------------------------------------------------------ taps (raw TWS fields)
    def _tap_status(self, fields: list[str]) -> None:
        record = parse_order_status(fields)
        self._statuses[record.order_id] = record
        coid = self._coid_by_order_id.get(record.order_id)
        self._resolve_waiters(record.order_id, _Outcome(status=record))
        if coid is None:
            return
        if record.status in ("PreSubmitted", "Submitted"):
            if record.order_id in self._pending_modify:
                return  # modify_order returns OrderModified itself
            if self._emitted.get(record.order_id) is None:
                self._emit_once(record.order_id, "accepted", OrderAccepted(coid, str(record.order_id)))
        elif record.status in _CANCELED_STATUSES:
            self._emit_once(record.order_id, "canceled", OrderCanceled(coid))
        elif record.status == "Filled":
            self._emitted[record.order_id] = "filled"

    def _tap_open_order(self, fields: list[str]) -> None:
        record = parse_open_order(fields)
        self._heads[record.order_id] = record
        self._listed.add(record.order_id)
        if record.order_ref and record.order_id not in self._coid_by_order_id:
            self._remember(record.order_id, record.order_ref)
        self._resolve_waiters(record.order_id, _Outcome(open_order=record))

    def _tap_error(self, fields: list[str]) -> None:
        record = parse_error(fields)
        kind = classify(record.code)
        if kind is ErrorKind.INFO:
            _log.info("TWS notice %s: %s", record.code, record.message)
            return
        if kind is ErrorKind.CONFIGURATION:
            self._connect_error = record
        if kind is ErrorKind.CONNECTIVITY_LOST:
            _log.warning("TWS lost connectivity to IBKR (1100): orders in unknown state until restored")
            return
        if kind in (ErrorKind.RESTORED_DATA_LOST, ErrorKind.RESTORED_DATA_KEPT):
            _log.warning("TWS connectivity restored (%s): re-syncing orders and executions", record.code)
            self.telemetry.reconnected(f"TWS connectivity to IBKR restored ({record.code})")
            self._resync_needed = True
            self._send_event.send_nowait(_WAKE)
            return
        _log.warning("TWS error %s for id %s: %s", record.code, record.req_id, record.message)
        order_id = record.req_id
        coid = self._coid_by_order_id.get(order_id)
        if coid is not None:
            if kind is ErrorKind.ORDER_REJECTED and order_id not in self._pending_modify:
                self._emit_once(
                    order_id, "rejected", OrderRejected(coid, reason=record.message, code=str(record.code))
                )
            elif kind is ErrorKind.ORDER_CANCELED:
                self._emit_once(order_id, "canceled", OrderCanceled(coid, reason=record.message))
        self._resolve_waiters(order_id, _Outcome(error=record))

    def _tap_execution(self, fields: list[str]) -> None:
        record = parse_execution(fields, self.settings.tws_timezone)
        self._executions[record.exec_id] = record
        if record.order_ref and record.order_id not in self._coid_by_order_id and record.order_id > 0:
            self._remember(record.order_id, record.order_ref)
        if not self._is_ours(record):
            return  # manual order, another application or another client id
        self._deliver(self._joiner.on_execution(record))
        if self._joiner.known_fill(record.exec_id) is not None:
            asyncio.get_running_loop().call_later(
                self.settings.commission_timeout, self._flush_fill, record.exec_id
            )

    def _is_ours(self, record: ExecutionRecord) -> bool:
        """Placed through this client id with an orderRef, or an order we placed/re-attached."""
        if record.order_id in self._coid_by_order_id and record.client_id == self.settings.client_id:
            return True
        return bool(record.order_ref) and record.client_id == self.settings.client_id

    def _tap_commission(self, fields: list[str]) -> None:
        record = parse_commission(fields)
        self._commissions[record.exec_id] = record
        self._deliver(self._joiner.on_commission(record))

    def _flush_fill(self, exec_id: str) -> None:
        fill = self._joiner.flush(exec_id)
        if fill is not None:
            _log.warning(
                "no commission for execution %s after %ss: fill released without fee",
                exec_id,
                self.settings.commission_timeout,
            )
            self._deliver(fill)

    def _deliver(self, fill: Fill | None) -> None:
        if fill is not None:
            self._emit(OrderFilled(fill))

    def _resolve_execution(self, record: ExecutionRecord) -> tuple[str, str]:
        coid = record.order_ref or self._coid_by_order_id.get(record.order_id, "")
        return self._symbol_for(record.contract.con_id, symbol_from_fields(record.contract)), coid

    def _tap_position(self, fields: list[str]) -> None:
        record = parse_position(fields)
        self._positions[(record.account, record.contract.con_id)] = record

    def _tap_contract_details(self, fields: list[str]) -> None:
        rules = parse_contract_rules(fields)
        self._rules[rules.con_id] = rules
