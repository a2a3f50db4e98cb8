"""The IBKR adapter: ib_async's TWS socket client wired to autotrader's contract.

Event loop: ib_async is asyncio-only.  Under anyio's asyncio backend it runs on
the same loop as our code, so the adapter simply awaits ib_async's ``*Async``
methods; it never calls ib_async's blocking helpers (``IB.connect``, ``util.run``)
and never applies ``nest_asyncio`` / ``util.patchAsyncio``.  Under the trio
backend ``connect`` raises :class:`ConfigurationError`.

Roles: :mod:`.session` connects the ib_async client (server version, account,
client id); the private stream reconnects it through the core's ``ReconnectingStream``; :mod:`.taps` reads the raw fields of the messages that carry
money; :mod:`.stream` turns those records into core events, once each, and keeps the
order ids; :mod:`.answers` collects TWS's answers for the call waiting on them and
decides what they mean; :mod:`.fills` joins executions and commissions.  This module
wires them and holds the public API.  Our client order id travels in ``orderRef``, so
executions and open orders name their order even after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, TypeVar

import anyio
import ib_async
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.capabilities import Capabilities
from autotrader_core.enums import OrderStatus, OrderType
from autotrader_core.errors import (
    AuthenticationError,
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
    OrderModified,
    OrderModifyRejected,
)
from autotrader_core.market_data import Quote
from autotrader_core.models import Balance, Fill, Instrument, Order, OrderReport, Position
from autotrader_core.resend import ResendGuarantee
from autotrader_core.streaming import Gap, Reconnect, ReconnectingStream

from autotrader_ibkr.answers import (
    OrderAnswers,
    first_decisive,
    is_cancel_answer,
    is_modify_answer,
    placement_verdict,
)
from autotrader_ibkr.contracts import ContractSpec, parse_symbol, symbol_from_fields
from autotrader_ibkr.errors import ErrorKind, classify, to_exception
from autotrader_ibkr.fills import fill_from
from autotrader_ibkr.market_data import IbkrMarketData
from autotrader_ibkr.orders import (
    CANCELED_STATUSES,
    build_ib_order,
    core_order_type,
    core_status,
    core_tif,
    validate_order,
)
from autotrader_ibkr.parsing import (
    BROKER,
    ErrorRecord,
    OpenOrderRecord,
    exec_base,
    side_of_action,
)
from autotrader_ibkr.plugin import CAPABILITIES
from autotrader_ibkr.session import TwsSession
from autotrader_ibkr.settings import IbkrSettings
from autotrader_ibkr.stream import RESYNC, OrderStream, SessionCarrier, StreamFrame
from autotrader_ibkr.taps import tap_messages
from autotrader_ibkr.tick_router import MarketDataRouter

__all__ = ["IbkrAdapter"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class IbkrAdapter(BrokerAdapter):
    """Interactive Brokers through TWS or IB Gateway (paper by default).

    Args:
        settings: Connection settings; read from the environment when omitted.
        ib_factory: Builds the ``ib_async.IB`` client (tests never need to change it:
            they point ``host``/``port`` at the loopback fake TWS).
    """

    name: ClassVar[str] = BROKER
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    resend_guarantee = ResendGuarantee.same_id(
        "TWS API placeOrder: an orderId already in use modifies that order, it never adds one; "
        "this adapter re-sends a client order id (and every modify) with the orderId it first used, "
        "remembered for the life of the process and re-learned from TWS's open orders (orderRef) "
        "after a restart"
    )

    def __init__(
        self, settings: IbkrSettings | None = None, *, ib_factory: Callable[[], ib_async.IB] = ib_async.IB
    ) -> None:
        self._settings = settings if settings is not None else IbkrSettings()
        self._session = TwsSession(
            self._settings,
            ib_factory,
            attach=self._attach,
            on_open=lambda _ib: self._check_untracked_orders(),
            on_lost=self._on_lost,
            telemetry=lambda: self.telemetry,
        )
        # contracts
        self._specs: dict[str, ContractSpec] = {}
        self._contracts: dict[str, ib_async.Contract] = {}
        self._symbol_by_con_id: dict[int, str] = {}
        self._qualify_lock = anyio.Lock()
        self._answers = OrderAnswers()
        self._stream = OrderStream(
            self._session, self._answers, telemetry=lambda: self.telemetry, symbol_for=self._symbol_for
        )
        self._readers: set[ReconnectingStream[StreamFrame, OrderEvent]] = set()
        self._market = MarketDataRouter(self._session, alert=self._stream.alert)
        self._feeds: set[IbkrMarketData] = set()
        self._synced_generation = 0
        """The session connection whose orders and executions the stream has seen or re-synced."""

    def _attach(self, ib: ib_async.IB) -> None:
        """Once per new ib_async client: the order taps, then the market-data taps."""
        tap_messages(ib, self._stream, tws_timezone=self.settings.tws_timezone)
        self._market.attach(ib)

    @property
    def settings(self) -> IbkrSettings:
        """The adapter's settings (may be replaced before ``connect``)."""
        return self._settings

    @settings.setter
    def settings(self, value: IbkrSettings) -> None:
        self._settings = value
        self._session.settings = value
        self._session.account = value.account

    # ------------------------------------------------------------------ connection
    @property
    def is_connected(self) -> bool:
        """Whether the TWS API session is up and TWS is linked to IBKR (no 1100 pending)."""
        return self._session.is_up

    @property
    def _account(self) -> str:
        return self._session.account

    async def connect(self) -> None:
        """Connect to TWS / IB Gateway, synchronise, and qualify ``settings.symbols``."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "the IBKR adapter needs anyio's asyncio backend (ib_async is asyncio-only)", broker=BROKER
            ) from None
        await self._session.start()
        self._synced_generation = self._session.generation
        for symbol in self.settings.symbols:
            await self._qualified(symbol)

    async def disconnect(self) -> None:
        """Close the session; safe to call twice. Ends ``stream_events``."""
        self._session.close()
        self._answers.fail_all(BrokerUnavailable("adapter disconnected", broker=BROKER))
        self._stream.wake()
        for reader in list(self._readers):
            await reader.aclose()
        for feed in list(self._feeds):
            await feed.aclose()
        self._feeds.clear()

    def _on_lost(self) -> None:
        self._answers.fail_all(BrokerUnavailable("TWS connection lost", broker=BROKER))
        self._stream.wake()

    async def _connection(self) -> ib_async.IB:
        """The live client, reconnecting once if the session dropped."""
        reopened = self._session.ib is None or not self._session.ib.isConnected()
        ib = await self._session.client()
        if reopened:
            self._stream.resync_needed = True
        return ib

    async def _resync(self) -> None:
        """After 1101/1102 or a reconnect: refresh open orders and executions, settle vanished orders.

        Executions come back through the taps and the joiner drops the ones already
        released, so only fills missed in the gap reach the stream.
        """
        ib = await self._connection()
        believed_open = {
            order_id
            for order_id, status in self._stream.emitted.items()
            if status not in ("canceled", "rejected", "filled") and order_id in self._stream.coid_by_order_id
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
            coid = self._stream.coid_by_order_id[order_id]
            if done.get(coid) in CANCELED_STATUSES:
                self._stream.emit_once(
                    order_id, "canceled", OrderCanceled(coid, reason="canceled while disconnected")
                )

    def _is_working(self, order_id: int) -> bool:
        status = self._stream.statuses.get(order_id)
        return status is None or core_status(status.status, status.why_held) not in (
            OrderStatus.CANCELED,
            OrderStatus.FILLED,
            OrderStatus.REJECTED,
        )

    def _check_untracked_orders(self) -> None:
        """Re-attach our orders found at connect (restart): orderRef carries the client order id."""
        for order_id, record in self._stream.heads.items():
            if record.order_ref and order_id not in self._stream.coid_by_order_id:
                self._stream.remember(order_id, record.order_ref)

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
        rules = self._stream.rules.get(con_id)
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

        Returns ``[OrderAccepted]`` once TWS acknowledges it (Submitted, or PreSubmitted
        with no rejection within ``reject_window``: TWS rejects for margin *after*
        PreSubmitted). Warnings about the order (10349…) are logged, not rejections.

        Raises:
            InvalidOrder, InsufficientFunds: TWS rejected it (201, 110, Inactive…).
            DuplicateClientOrderId: this client order id is already working here.
            RequestTimeout: no answer in ``order_ack_timeout``; look it up before re-sending.
        """
        validate_order(order)
        contract = await self._qualified(order.symbol)
        ib = await self._connection()
        existing = self._stream.order_id_by_coid.get(order.client_order_id)
        if existing is not None and existing in self._stream.emitted:
            raise DuplicateClientOrderId(
                f"order {order.client_order_id} is already at TWS as orderId {existing}", broker=BROKER
            )
        # A re-send after a timeout reuses the orderId: TWS answers 103 (duplicate) if it got the first.
        order_id = existing if existing is not None else ib.client.getReqId()
        self._stream.remember(order_id, order.client_order_id)
        waiter = self._answers.waiter(order_id)
        self._stream.submitting.add(order_id)
        try:
            ib.placeOrder(contract, build_ib_order(order, order_id=order_id, account=self._account))
            status = await placement_verdict(
                waiter,
                order_id,
                ack_timeout=self.settings.order_ack_timeout,
                reject_window=self.settings.reject_window,
            )
        finally:
            self._stream.submitting.discard(order_id)
            self._answers.done(order_id, waiter)
        if isinstance(status, ErrorRecord):
            raise to_exception(status, context=f"placing {order.client_order_id}")
        self._stream.accept(order_id)
        events: list[OrderEvent] = [OrderAccepted(order.client_order_id, str(order_id))]
        if status in CANCELED_STATUSES:
            events.append(OrderCanceled(order.client_order_id))  # e.g. IOC with nothing to fill
            self._stream.emitted[order_id] = "canceled"
        return events

    async def cancel_order(self, order: Order) -> list[OrderEvent]:
        """Cancel ``order``; returns ``[OrderCanceled]`` or ``[OrderCancelRejected]``.

        TWS may not answer the cancel of an ``Inactive`` order at all (ib_insync #363): with
        no answer in ``order_ack_timeout`` the order is looked up (open, then completed today).

        Raises:
            OrderNotFound: TWS does not know the order (10147/135), or we never placed it.
            RequestTimeout: no answer and the lookup proves nothing either way.
        """
        order_id = self._order_id_for(order)
        ib = await self._connection()
        waiter = self._answers.waiter(order_id)
        try:
            ib.cancelOrder(ib_async.Order(orderId=order_id, clientId=self.settings.client_id))
            outcome = await first_decisive(
                waiter, order_id, "cancelOrder", is_cancel_answer, seconds=self.settings.order_ack_timeout
            )
        except RequestTimeout:
            return await self._cancel_looked_up(order, order_id)
        finally:
            self._answers.done(order_id, waiter)
        if outcome.error is not None:
            kind = classify(outcome.error.code)
            if kind is ErrorKind.ORDER_CANCELED:
                return [OrderCanceled(order.client_order_id, reason=outcome.error.message)]
            if kind is ErrorKind.CANCEL_REJECTED:
                return [OrderCancelRejected(order.client_order_id, reason=outcome.error.message)]
            raise to_exception(outcome.error, context=f"canceling {order.client_order_id}")
        status = outcome.status.status if outcome.status else ""
        if status in CANCELED_STATUSES:
            return [OrderCanceled(order.client_order_id)]
        if status == "Filled":
            return [OrderCancelRejected(order.client_order_id, reason="order already filled")]
        return []

    async def _cancel_looked_up(self, order: Order, order_id: int) -> list[OrderEvent]:
        """The cancel got no answer: settle it from what TWS lists, or say it is unknown."""
        ib = await self._connection()
        listed = await self._refresh_open_orders(ib)
        if order_id not in listed:
            trades = await self._with_timeout(ib.reqCompletedOrdersAsync(apiOnly=True), "reqCompletedOrders")
            done = {t.order.orderRef: t.orderStatus.status for t in trades}
            status = done.get(order.client_order_id, "")
            if status in CANCELED_STATUSES:
                self._stream.emit_once(order_id, "canceled", OrderCanceled(order.client_order_id))
                return [OrderCanceled(order.client_order_id)]
            if status == "Filled":
                return [OrderCancelRejected(order.client_order_id, reason="order already filled")]
        raise RequestTimeout(
            f"TWS did not answer the cancel of orderId {order_id} in {self.settings.order_ack_timeout}s and "
            f"the lookup proves nothing ({'still listed open' if order_id in listed else 'not listed'}); "
            "outcome unknown",
            broker=BROKER,
        )

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
        status = self._stream.statuses.get(order_id)
        if status is not None and core_status(status.status) in (OrderStatus.FILLED, OrderStatus.CANCELED):
            return [OrderModifyRejected(order.client_order_id, reason=f"order is {status.status}")]
        contract = await self._qualified(order.symbol)
        ib = await self._connection()
        self._stream.pending_modify[order_id] = change
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
            waiter = self._answers.waiter(order_id)
            try:
                outcome = await first_decisive(
                    waiter, order_id, "modify", is_modify_answer, seconds=self.settings.order_ack_timeout
                )
            finally:
                self._answers.done(order_id, waiter)
        finally:
            self._stream.pending_modify.pop(order_id, None)
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
        if order.client_order_id in self._stream.order_id_by_coid:
            return self._stream.order_id_by_coid[order.client_order_id]
        if order.broker_order_id and order.broker_order_id.isdigit():
            return int(order.broker_order_id)
        raise OrderNotFound(f"no TWS orderId known for {order.client_order_id}", broker=BROKER)

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
        for order_id, record in self._stream.heads.items():
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
            self._report(order_id, self._stream.heads[order_id])
            for order_id in sorted(listed)
            if self._is_working(order_id)
        ]
        return [r for r in reports if symbol is None or r.symbol == symbol]

    def _report(self, order_id: int, record: OpenOrderRecord) -> OrderReport:
        status = self._stream.statuses.get(order_id)
        core = core_status(status.status, status.why_held) if status else OrderStatus.ACCEPTED
        if core is OrderStatus.ACCEPTED and status is not None and status.filled > 0:
            core = OrderStatus.PARTIALLY_FILLED
        order_type = core_order_type(record.order_type)
        if order_type is None:
            order_type = OrderType.LIMIT if record.limit_price else OrderType.MARKET
        return OrderReport(
            client_order_id=record.order_ref or None,
            broker_order_id=str(order_id),
            symbol=self._symbol_for(record.contract.con_id, symbol_from_fields(record.contract)),
            side=side_of_action(record.action),
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
        fills = [e for e in self._stream.executions.values() if e.order_ref == client_order_id]
        filled = sum((e.shares for e in fills), Decimal(0))
        average = sum((e.shares * e.price for e in fills), Decimal(0)) / filled if filled else None
        status = core_status(trade.orderStatus.status) or OrderStatus.CANCELED
        order_type = core_order_type(trade.order.orderType) or OrderType.MARKET
        quantity = filled
        order_id = self._stream.order_id_by_coid.get(client_order_id)
        head = self._stream.heads.get(order_id) if order_id is not None else None
        if head is not None:
            quantity = head.quantity
        return OrderReport(
            client_order_id=client_order_id,
            broker_order_id=str(order_id) if order_id is not None else None,
            symbol=symbol,
            side=side_of_action(trade.order.action),
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
        for exec_id in dict.fromkeys(exec_base(f.execution.execId) for f in results):
            record = self._stream.executions.get(exec_id)
            if record is None or not self._stream.is_ours(record):
                continue
            fill_symbol, coid = self._stream.resolve_execution(record)
            if symbol is not None and fill_symbol != symbol:
                continue
            if since is not None and record.time < since:
                continue
            fills.append(
                fill_from(
                    record, self._stream.commissions.get(exec_id), symbol=fill_symbol, client_order_id=coid
                )
            )
        return fills

    async def get_positions(self) -> list[Position]:
        """Positions of the account (``reqPositions``); quantities and costs as Decimal."""
        ib = await self._connection()
        self._stream.positions.clear()
        await self._with_timeout(ib.reqPositionsAsync(), "reqPositions")
        positions = []
        for record in self._stream.positions.values():
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
        self._stream.listed.clear()
        await self._with_timeout(ib.reqOpenOrdersAsync(), "reqOpenOrders")
        return set(self._stream.listed)

    # ------------------------------------------------------------------ market data
    async def _ensure_connected(self) -> None:
        """Market data needs a TWS session: connect if ``connect`` was not called."""
        if self._session.closed:
            await self.connect()

    def open_market_data(self, *, trades: bool = False) -> IbkrMarketData:
        """A market-data feed on the TWS session (connects on the first ``subscribe`` if needed).

        Quotes come from ``reqMktData`` (TWS's aggregated top of book: 250 ms for US stocks, 5 ms
        for FX); with ``trades``, trades from the same line's last-trade ticks, or one per trade
        from tick-by-tick ``AllLast`` (``settings.trades_source``). Without a live
        subscription the data is delayed and, by default (``delayed_data="stale"``), yields
        ``Stale``, never a price (see the README's *Market data*).
        """
        feed = IbkrMarketData(
            self._session,
            self._market,
            connect=self._ensure_connected,
            contract_for=self._qualified,
            trades=trades,
            telemetry=lambda: self.telemetry,
        )
        self._feeds = {known for known in self._feeds if not known.stream.closed}  # forget closed ones
        self._feeds.add(feed)
        return feed

    async def get_quote(self, symbol: str) -> Quote:
        """A snapshot ``reqMktData`` of ``symbol``: its current best bid and ask.

        Raises:
            InvalidOrder: TWS knows no such contract (nothing was requested).
            NoMarketDataPermission: no (live) market-data subscription for it.
            BrokerError: no bid or ask now (market closed, empty side).
            RequestTimeout: TWS did not answer within ``request_timeout``.
        """
        await self._ensure_connected()
        contract = await self._qualified(symbol)
        ib = await self._connection()
        return await self._market.snapshot(ib, contract, symbol, self.settings.request_timeout)

    # ------------------------------------------------------------------ stream
    async def stream_events(self) -> AsyncIterator[OrderEvent]:
        """Order events and fills until ``disconnect``; reconnects and re-syncs by itself.

        Runs on the core's ``ReconnectingStream``: the session reconnects with the same client
        id (326 and refused sockets back off from ``reconnect_delay`` to ``reconnect_max_delay``),
        every reconnect is reported once through ``telemetry.reconnected``, and open orders and
        executions are re-synced before anything of the new connection is read.
        """
        if self._session.closed:
            return
        reader: ReconnectingStream[StreamFrame, OrderEvent] = ReconnectingStream(
            lambda: SessionCarrier(self._session, self._stream),
            self._decode,
            name="ibkr",
            catch_up=self._catch_up,
            catch_up_first=True,  # a socket replaced before the stream started is re-synced too
            policy=self._session.reconnect_policy,
            telemetry=lambda: self.telemetry,
        )
        self._readers.add(reader)
        try:
            async with aclosing(reader.events()) as events:
                async for event in events:
                    yield event
        finally:
            self._readers.discard(reader)
            await reader.aclose()

    def _decode(self, frame: StreamFrame) -> list[OrderEvent] | Awaitable[list[OrderEvent]]:
        if frame is RESYNC:
            return self._resync_now()
        return [frame]  # type: ignore[list-item]  # anything but RESYNC is a queued event

    async def _catch_up(self, gap: Gap) -> list[OrderEvent]:
        """After a reconnect (or a socket replaced before the stream began): re-sync, as today."""
        if (
            gap.is_reconnect
            or self._stream.resync_needed
            or self._synced_generation != self._session.generation
        ):
            return await self._resync_now()
        return []

    async def _resync_now(self) -> list[OrderEvent]:
        """Re-sync; what it finds reaches the queue. A failure reconnects and re-syncs again."""
        self._stream.resync_needed = False
        generation = self._session.generation
        try:
            await self._resync()
        except AutotraderError as exc:
            _log.warning("re-sync after reconnect failed: %s", exc)
            self._stream.resync_needed = True
            if isinstance(exc, ConfigurationError | AuthenticationError):
                raise  # no reconnect can fix a bad setting
            raise Reconnect(f"re-sync failed: {type(exc).__name__}") from exc
        self._synced_generation = generation
        return []
