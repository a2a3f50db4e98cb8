"""The ExecutionEngine: decisions in, orders out, fills back, nothing lost.

Data path (one way)::

    Strategy ─decision─► build_order ─► RiskChecks ─► OMS (intent) ─► breaker/retry
      ─► BrokerAdapter ─► broker ─► reply / stream ─► OMS ─► strategy callbacks + hooks

Usage::

    async with ExecutionEngine(adapter, strategy=MyStrategy()) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        await engine.run(duration=60)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from anyio.abc import TaskGroup

from autotrader_core.adapter import AdapterTelemetry, BrokerAdapter, OrderChange
from autotrader_core.control import ControlAction, EngineControl
from autotrader_core.enums import DecisionAction, OrderSide, OrderStatus, OrderType, TimeInForce, TradingState
from autotrader_core.errors import (
    AutotraderError,
    BrokerError,
    BrokerProtocolError,
    CircuitOpen,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    RiskRejected,
    TransientError,
    UnsupportedFeature,
)
from autotrader_core.events import OrderEvent, OrderFilled, OrderRejected
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.journal.base import Journal, JournalError
from autotrader_core.journal.identity import JournalIdentity
from autotrader_core.models import (
    Alert,
    Balance,
    ExecutionDecision,
    Instrument,
    Order,
    OrderReport,
    Position,
    utc_now,
)
from autotrader_core.oms import OrderManager
from autotrader_core.orders import build_order, coerce_enum, optional_price
from autotrader_core.plugins import PluginManager
from autotrader_core.recovery import ReconciliationReport, recover
from autotrader_core.resiliency import (
    CircuitBreaker,
    DeadLetter,
    DeadLetterQueue,
    FailureTracker,
    RetryPolicy,
    retry,
    submit_with_lookup,
)
from autotrader_core.risk import RiskChecks
from autotrader_core.settings import EngineSettings
from autotrader_core.state_machine import Trigger, next_status
from autotrader_core.strategy import Strategy

__all__ = ["EngineStatus", "ExecutionEngine"]

logger = logging.getLogger(__name__)
_events_logger = logging.getLogger("autotrader.orders")
"""One record per applied order event: the audit trail users grep and ship."""
T = TypeVar("T")


def _log_order_event(order: Order, event: OrderEvent) -> None:
    fields: dict[str, object] = {
        "event": type(event).__name__,
        "client_order_id": order.client_order_id,
        "broker_order_id": order.broker_order_id,
        "broker": order.broker,
        "symbol": order.symbol,
        "side": order.side.value,
        "outcome": order.status.value,
        "filled_quantity": order.filled_quantity,
    }
    if isinstance(event, OrderFilled):
        fill = event.fill
        fields.update(trade_id=fill.trade_id, quantity=fill.quantity, price=fill.price, fee=fill.fee)
    elif isinstance(event, OrderRejected):
        fields.update(reason=event.reason, code=event.code)
    _events_logger.info("order %s %s", order.client_order_id, order.status.value, extra=fields)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """Snapshot of the engine for status displays and the ``autotrader_on_status`` hook."""

    broker: str
    connected: bool
    running: bool
    strategy: str | None
    trading_state: str
    breaker_state: str
    open_orders: int
    orders_total: int
    orders_filled: int
    orders_rejected: int
    fills_total: int
    fill_rate: float
    average_fill_latency: float | None
    filled_notional: Decimal
    commission: Decimal
    dead_letters: int
    failure_rates: dict[str, float] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    realized_pnl: dict[str, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (Decimals kept) for hooks and JSON logs."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class _HookTelemetry(AdapterTelemetry):
    """Forwards what the adapter reports to the observer hooks."""

    def __init__(self, engine: ExecutionEngine) -> None:
        self._engine = engine

    def rate_limit_wait(self, name: str, seconds: float) -> None:
        self._engine._hook("autotrader_on_rate_limit_wait", name=name, seconds=seconds)

    def reconnected(self, reason: str) -> None:
        logger.info("%s stream reconnected: %s", self._engine.adapter.name, reason)
        self._engine._hook("autotrader_on_reconnect", broker=self._engine.adapter.name, reason=reason)


class _Context:
    """The :class:`~autotrader_core.strategy.StrategyContext` the engine hands to strategies."""

    def __init__(self, engine: ExecutionEngine) -> None:
        self._engine = engine

    @property
    def now(self) -> datetime:
        return utc_now()

    def last_price(self, symbol: str) -> Decimal | None:
        return self._engine.adapter.last_price(symbol)

    def position(self, symbol: str) -> Position:
        return self._engine.oms.position(symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self._engine.oms.open_orders(symbol)

    def instrument(self, symbol: str) -> Instrument | None:
        return self._engine.risk.instrument(symbol)

    def balances(self) -> list[Balance]:
        return list(self._engine.balances)


class ExecutionEngine:
    """Runs one strategy against one broker adapter.

    Args:
        adapter: The broker adapter (see :class:`~autotrader_core.adapter.BrokerAdapter`).
        strategy: Optional strategy driven by fills, order updates and a decision cycle.
        risk: Pre-trade checks; defaults to instrument rules only.
        settings: Engine settings (decision interval, order timeout, …).
        plugins: Plugin manager whose observer hooks receive every event.
        retry_policy: Retries for retryable failures (submissions re-use the client order id).
        breaker: Circuit breaker around broker requests.
        journal: Durable journal of intents and events (none by default). The engine opens it
            on :meth:`start` (replaying it and reconciling with the broker, see
            :mod:`autotrader_core.recovery`) and closes it on :meth:`stop`; dead letters are
            persisted in it too.
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        *,
        strategy: Strategy | None = None,
        risk: RiskChecks | None = None,
        settings: EngineSettings | None = None,
        plugins: PluginManager | None = None,
        retry_policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        dead_letters: DeadLetterQueue | None = None,
        ids: ClientOrderIdGenerator | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.adapter = adapter
        self.strategy = strategy
        self.settings = settings or EngineSettings()
        self.risk = risk or RiskChecks()
        self.plugins = plugins
        self.retry_policy = retry_policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(
            f"{adapter.name}-requests", on_state_change=self._breaker_changed
        )
        self.journal = journal
        self.reconciliation: ReconciliationReport | None = None
        """What recovery did on the last :meth:`start` (``None`` without a journal)."""
        self.dead_letters = dead_letters or DeadLetterQueue(store=journal)
        self.failures = FailureTracker()
        """Transport-level outcomes of broker requests over the last minute, per operation."""
        self.ids = ids or ClientOrderIdGenerator()
        self.oms = OrderManager()
        self.balances: list[Balance] = []
        self.context = _Context(self)
        self._hooks = plugins.hooks.hook if plugins is not None else None
        self._task_group: TaskGroup | None = None
        self._running = False
        self._stopped = anyio.Event()
        self._background = anyio.CancelScope()
        self._ready = anyio.Event()
        self._reported_unknown: set[str] = set()
        self._control: EngineControl | None = None
        adapter.telemetry = _HookTelemetry(self)
        from autotrader_core.kill_switch import KillSwitch

        self.kill_switch = KillSwitch(self)

    # -- lifecycle ----------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self.stop()
        task_group, self._task_group = self._task_group, None
        if task_group is not None:
            # The body's own exception is not the background tasks' business: let it
            # propagate as itself rather than wrapped in an ExceptionGroup.
            await task_group.__aexit__(None, None, None)
        return None

    async def start(self) -> None:
        """Connect, load instruments and balances, start the stream, timeout and decision tasks."""
        if self._task_group is not None:
            raise RuntimeError("engine already started")
        if self.journal is not None:
            # First, before any broker call: a journal of another broker or environment
            # is refused (ConfigurationError); a new one records this adapter's identity.
            await self.journal.open(identity=JournalIdentity.for_adapter(self.adapter))
        try:
            await self.adapter.connect()
            instruments = await self.adapter.get_instruments()
            self.risk.set_instruments(instruments)
            self.oms.set_instruments(instruments)
            self.balances = await self.adapter.get_balances()
        except BaseException:
            if self.journal is not None:
                with anyio.CancelScope(shield=True):
                    await self.journal.close()
            raise
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._running = True
        # The stream is opened before reconciliation so nothing that happens while we
        # reconcile is missed; its events wait until the OMS is rebuilt (see _consume_stream).
        task_group.start_soon(self._run_background)
        try:
            if self.journal is not None and self.settings.recover_on_start:
                self.reconciliation = await recover(self)
            if self.strategy is not None:
                await self.strategy.on_start(self.context)
        except BaseException:
            await self.stop()
            self._task_group = None
            await task_group.__aexit__(None, None, None)
            raise
        self._ready.set()
        self._hook("autotrader_on_engine_started", status=self.status().as_dict())
        logger.info("engine started: broker=%s strategy=%s", self.adapter.name, self._strategy_name)

    async def _run_background(self) -> None:
        # Background work lives in its own cancel scope: stopping the engine (even from
        # inside ``async with engine:``) cancels these tasks, never the caller's code.
        with self._background:
            async with anyio.create_task_group() as tg:
                if self.adapter.capabilities.streaming_fills:
                    tg.start_soon(self._consume_stream)
                await self._ready.wait()
                tg.start_soon(self._watch_timeouts)
                tg.start_soon(self._report_status)
                if self.settings.reconcile_interval > 0:
                    tg.start_soon(self._reconcile_periodically)
                if self.strategy is not None:
                    tg.start_soon(self._decision_loop)

    async def run(self, *, duration: float | None = None) -> None:
        """Wait until :meth:`stop` (or the kill switch) is called, or ``duration`` seconds pass."""
        with anyio.move_on_after(math.inf if duration is None else duration):
            await self._stopped.wait()

    async def stop(self) -> None:
        """Stop the decision cycle and the stream, call the strategy's ``on_stop``, disconnect.

        Open orders stay at the broker (use the kill switch to cancel them). Safe to call twice.
        """
        if not self._running:
            return
        self._running = False
        if self.strategy is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await self.strategy.on_stop(self.context)
                except Exception:
                    logger.exception("strategy on_stop failed")
        self._background.cancel()
        with anyio.CancelScope(shield=True):
            await self.adapter.disconnect()
            if self.journal is not None:
                await self.journal.close()
        self._stopped.set()
        self._hook("autotrader_on_engine_stopped", status=self.status().as_dict())
        logger.info("engine stopped: broker=%s", self.adapter.name)

    def resume_trading(self) -> None:
        """Set trading back to ACTIVE after a human reviewed what halted it.

        Recovery halts trading when reconciliation leaves something unresolved
        (see :attr:`reconciliation`); nothing new is sent until this is called.
        """
        logger.warning("trading resumed by the user (was %s)", self.risk.trading_state.value)
        self.risk.trading_state = TradingState.ACTIVE

    @property
    def control(self) -> EngineControl:
        """The public control seam (status, orders, halt/resume, cancel, flatten, kill), audited."""
        if self._control is None:
            self._control = EngineControl(self)
        return self._control

    def notify_control_action(self, action: ControlAction) -> None:
        """Tell observers about an operator action (called by :class:`EngineControl`)."""
        self._hook("autotrader_on_control_action", action=action)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def _strategy_name(self) -> str | None:
        return None if self.strategy is None else self.strategy.name

    # -- orders ---------------------------------------------------------------------
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
        """Validate, risk-check, record and send one order.

        Args:
            client_order_id: The order's id when the caller generated it (e.g. a remote
                strategy with its own :class:`~autotrader_core.ids.ClientOrderIdGenerator`,
                so a re-sent command names the same order); by default the engine's
                generator assigns one. An id the engine already knows is refused.

        Returns:
            The order as the OMS tracks it (its status reflects the broker's reply).

        Raises:
            InvalidOrder: bad input, or refused by the broker as invalid.
            RiskRejected / UnsupportedFeature: refused before send.
            InsufficientFunds, AuthenticationError, RateLimited: refused by the broker.
            TransientError: the outcome is unknown after all retries; the order stays
                in flight and the engine keeps querying the broker about it.
        """
        if client_order_id is not None and self.oms.get(client_order_id) is not None:
            raise InvalidOrder(f"client order id {client_order_id!r} is already used by another order")
        order = build_order(
            client_order_id=self.ids.next_id() if client_order_id is None else client_order_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            broker=self.adapter.name,
            tag=tag,
        )
        return await self._send_new(order)

    async def execute(self, decision: ExecutionDecision) -> Order | None:
        """Turn a strategy decision into an order (``None`` for HOLD or a flat CLOSE)."""
        action = coerce_enum(DecisionAction, decision.action, field="action")
        if action is DecisionAction.HOLD:
            return None
        if action is DecisionAction.CLOSE:
            position = self.oms.position(decision.symbol)
            if position.is_flat:
                return None
            side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
            return await self.submit_order(
                decision.symbol,
                side,
                abs(position.quantity),
                reduce_only=self.adapter.capabilities.reduce_only,
                tag=decision.tag,
            )
        side = OrderSide.BUY if action is DecisionAction.BUY else OrderSide.SELL
        return await self.submit_order(
            decision.symbol,
            side,
            decision.size,
            order_type=decision.order_type,
            limit_price=decision.limit_price,
            stop_price=decision.stop_price,
            time_in_force=decision.time_in_force,
            post_only=decision.post_only,
            tag=decision.tag,
        )

    async def flatten(self, symbol: str, *, tag: str = "flatten") -> Order | None:
        """Close the position in ``symbol`` with a market order; ``None`` when already flat.

        This is the protective path the kill switch uses: the order is exempt from the
        risk *limits* (notional, rate, price band, trading state), because refusing to
        close a position in an emergency would be the wrong safety. It is reduce-only
        at the broker when the adapter declares ``reduce_only``; it is sized from the
        OMS position, so it can only shrink it.
        """
        position = self.oms.position(symbol)
        if position.is_flat:
            return None
        order = build_order(
            client_order_id=self.ids.next_id(),
            symbol=symbol,
            side=OrderSide.SELL if position.quantity > 0 else OrderSide.BUY,
            quantity=abs(position.quantity),
            order_type=OrderType.MARKET,
            reduce_only=self.adapter.capabilities.reduce_only,
            broker=self.adapter.name,
            tag=tag,
        )
        return await self._send_new(order, protective=True)

    async def _send_new(self, order: Order, *, protective: bool = False) -> Order:
        if protective:
            return await self._send_checked(order)
        try:
            self.risk.check(
                order,
                position=self.oms.position(order.symbol).quantity,
                open_orders=self.oms.open_order_count(),
                capabilities=self.adapter.capabilities,
                reference_price=self.adapter.last_price(order.symbol),
            )
        except InvalidOrder as exc:
            self._notify_reject(order, str(exc), getattr(exc, "reason", None))
            raise
        except ArithmeticError:  # e.g. 1E+30 % 0.001 exceeds the decimal context
            error = InvalidOrder(f"quantity {order.quantity} or a price of this order is out of range")
            self._notify_reject(order, str(error))
            raise error from None
        return await self._send_checked(order)

    async def _send_checked(self, order: Order) -> Order:
        self.oms.add(order)
        if self.journal is not None:
            await self._write_ahead(order)
        try:
            outcome = await self._tracked(
                "submit",
                lambda: self.breaker.call(
                    lambda: submit_with_lookup(
                        self.adapter,
                        order,
                        self.retry_policy,
                        settle_delay=self.adapter.unknown_outcome_settle_delay,
                    )
                ),
            )
        except CircuitOpen as exc:
            # Never sent: refusing locally is safe.
            await self._apply(OrderRejected(order.client_order_id, reason=f"circuit open: {exc}"))
            raise
        except (BrokerError, InvalidOrder, BrokerProtocolError) as exc:
            # The broker proved it refused the order (for an unreadable reply: the
            # lookup that followed found no such order at the broker).
            await self._apply(OrderRejected(order.client_order_id, reason=str(exc), code=exc.code))
            self._dead_letter("submit", order, exc)
            raise
        except TransientError as exc:
            # Unknown outcome: the order stays in flight until a query settles it.
            self._dead_letter("submit", order, exc)
            self._alert("warning", f"submit outcome unknown for {order.client_order_id}: {exc}")
            raise
        await self._apply_all(outcome.events)
        if outcome.report is not None:
            await self._settle_from_report(order, outcome.report)
        return order

    async def _write_ahead(self, order: Order) -> None:
        assert self.journal is not None
        try:
            await self.journal.record_intent(order)
        except JournalError as exc:
            # Not durable, so never sent: refusing locally is safe.
            await self._apply(OrderRejected(order.client_order_id, reason=f"journal unavailable: {exc}"))
            raise

    async def cancel_order(self, order: Order | str) -> Order:
        """Ask the broker to cancel an order; returns it (``pending_cancel`` until confirmed).

        Raises:
            IllegalTransition: the order is already finished.
        """
        target = self._resolve(order)
        if self.journal is not None:
            next_status(target.status, Trigger.REQUEST_CANCEL)  # refuse before journaling anything
            await self.journal.record_request("cancel", target)  # write-ahead, like an intent
        self.oms.mark_pending_cancel(target.client_order_id)
        try:
            events = await self._call_broker("cancel", lambda: self.adapter.cancel_order(target))
        except OrderNotFound:
            # Gone at the broker: filled or canceled already. Ask, don't guess.
            await self._query_and_settle(target)
            return target
        except TransientError as exc:
            self._dead_letter("cancel", target, exc)
            raise
        await self._apply_all(events)
        return target

    async def modify_order(
        self,
        order: Order | str,
        *,
        quantity: Decimal | int | str | None = None,
        limit_price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> Order:
        """Change a working order's quantity and/or prices (native or cancel/replace).

        Raises:
            UnsupportedFeature: the adapter declares no modify support (nothing sent).
            InvalidOrder: nothing to change, or bad values.
        """
        target = self._resolve(order)
        caps = self.adapter.capabilities
        if not (caps.native_modify or caps.emulated_modify):
            raise UnsupportedFeature(f"{self.adapter.name} does not support modifying orders")
        change = OrderChange(
            quantity=optional_price(quantity, field="quantity"),
            limit_price=optional_price(limit_price, field="limit_price"),
            stop_price=optional_price(stop_price, field="stop_price"),
        )
        if change == OrderChange():
            raise InvalidOrder("modify_order needs a new quantity, limit_price or stop_price")
        if change.quantity is not None and change.quantity < target.filled_quantity:
            raise InvalidOrder(
                f"new quantity {change.quantity} is below the filled quantity {target.filled_quantity}"
            )
        self._check_change(target, change)
        if self.journal is not None:
            next_status(target.status, Trigger.REQUEST_MODIFY)  # refuse before journaling anything
            await self.journal.record_request("modify", target, change)  # write-ahead
        self.oms.mark_pending_modify(target.client_order_id)
        try:
            events = await self._call_broker("modify", lambda: self.adapter.modify_order(target, change))
        except TransientError as exc:
            self._dead_letter("modify", target, exc)
            raise
        await self._apply_all(events)
        return target

    def _check_change(self, target: Order, change: OrderChange) -> None:
        """The instrument's tick, lot and size rules for a modify's new terms (before anything is sent)."""
        instrument = self.risk.instrument(target.symbol)
        if instrument is None:
            return
        tick, lot = instrument.tick_size, instrument.lot_size
        try:
            for name, price in (("limit price", change.limit_price), ("stop price", change.stop_price)):
                if price is not None and tick > 0 and price % tick:
                    raise RiskRejected(
                        f"new {name} {price} is not a multiple of tick size {tick} for {target.symbol}",
                        reason=RiskChecks.PRICE_TICK,
                    )
            quantity = change.quantity
            if quantity is not None:
                if lot > 0 and quantity % lot:
                    raise RiskRejected(
                        f"new quantity {quantity} is not a multiple of lot size {lot} for {target.symbol}",
                        reason=RiskChecks.QUANTITY_STEP,
                    )
                if quantity < instrument.min_quantity:
                    raise RiskRejected(
                        f"new quantity {quantity} is below the minimum {instrument.min_quantity}",
                        reason=RiskChecks.MIN_QUANTITY,
                    )
                if instrument.max_quantity is not None and quantity > instrument.max_quantity:
                    raise RiskRejected(
                        f"new quantity {quantity} is above the maximum {instrument.max_quantity}",
                        reason=RiskChecks.MAX_QUANTITY,
                    )
        except ArithmeticError:
            raise InvalidOrder(f"the new terms of {target.client_order_id} are out of range") from None

    async def kill(self, reason: str = "manual") -> Any:
        """Engage the kill switch (see :class:`~autotrader_core.kill_switch.KillSwitch`)."""
        return await self.kill_switch.engage(reason)

    def _resolve(self, order: Order | str) -> Order:
        if isinstance(order, Order):
            return order
        found = self.oms.get(order)
        if found is None:
            raise InvalidOrder(f"unknown client order id {order!r}")
        return found

    async def _call_broker(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._tracked(operation, lambda: self.breaker.call(lambda: retry(fn, self.retry_policy)))

    async def _tracked(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        # Only transport trouble counts as a failure: a broker's refusal is a healthy answer.
        try:
            result = await fn()
        except (TransientError, CircuitOpen, BrokerProtocolError):
            self.failures.record_failure(operation)
            raise
        self.failures.record_success(operation)
        return result

    # -- events -----------------------------------------------------------------------
    async def _apply_all(self, events: Sequence[OrderEvent]) -> None:
        for event in events:
            await self._apply(event)

    async def _apply(self, event: OrderEvent, *, journal: bool = True) -> None:
        if journal and self.journal is not None:
            await self._journal_event(event)
        order = self.oms.apply(event)
        if order is None:
            return
        if _events_logger.isEnabledFor(logging.INFO):
            _log_order_event(order, event)
        fill = event.fill if isinstance(event, OrderFilled) else None
        if self._hooks is not None:
            self._hook("autotrader_on_order_event", order=order, event=event)
            if fill is not None:
                self._hook(
                    "autotrader_on_fill", order=order, fill=fill, position=self.oms.position(fill.symbol)
                )
            if isinstance(event, OrderRejected):
                self._hook("autotrader_on_reject", order=order, reason=event.reason, code=event.code)
        strategy = self.strategy
        if strategy is not None:
            try:
                if fill is not None:
                    await strategy.on_fill(fill, self.oms.position(fill.symbol), self.context)
                await strategy.on_order_update(order, self.context)
            except Exception:
                logger.exception("strategy callback failed for order %s", order.client_order_id)

    async def _consume_stream(self) -> None:
        # Adapters reconnect by themselves; this loop only guards against a stream
        # that gives up for good, so the engine never silently stops hearing fills.
        delay = 1.0
        while True:
            try:
                async for event in self.adapter.stream_events():
                    await self._ready.wait()  # no-op once the OMS has been rebuilt
                    await self._apply(event)
                    delay = 1.0
                if not self._running:
                    return
                logger.warning("%s stream ended; reopening", self.adapter.name)
            except UnsupportedFeature as exc:
                # e.g. a sandbox without a private stream: poll-only, nothing to retry.
                logger.warning("%s has no usable stream (%s); relying on queries", self.adapter.name, exc)
                return
            except AutotraderError as exc:
                self._alert("warning", f"{self.adapter.name} stream failed: {exc}; retrying in {delay:.0f}s")
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _journal_event(self, event: OrderEvent | OrderReport) -> None:
        # A broker event is a fact: it reaches the OMS even when the journal has failed
        # (new orders are refused then, by the write-ahead in _send_new).
        assert self.journal is not None
        try:
            if isinstance(event, OrderReport):
                await self.journal.record_report(event)
            else:
                await self.journal.record_event(event)
        except JournalError as exc:
            log = logger.critical if self._running else logger.warning  # after stop(): closed, expected
            log("journal unavailable; applying %r unjournaled: %s", event, exc)

    async def _settle_from_report(self, order: Order, report: Any) -> None:
        if self.journal is not None:
            await self._journal_event(report)
        _, events = self.oms.report_events(report)
        for event in events:  # through _apply: hooks, logs and callbacks see report-settled changes too
            await self._apply(event, journal=False)  # the report itself is journaled above
        if self.oms.missing_fill_quantity(order, report) > 0:
            await self._catch_up_fills(order)

    async def _catch_up_fills(self, order: Order) -> None:
        if not self.adapter.capabilities.fill_history:
            self._alert("warning", f"broker reports fills for {order.client_order_id} we cannot fetch")
            return
        fills = await self._call_broker(
            "get_fills",
            lambda: self.adapter.get_fills(
                symbol=order.symbol, since=order.created_at - timedelta(minutes=1)
            ),
        )
        for fill in fills:
            if fill.client_order_id == order.client_order_id or (
                order.broker_order_id is not None and fill.broker_order_id == order.broker_order_id
            ):
                await self._apply(OrderFilled(fill))

    async def _query_and_settle(self, order: Order, *, timed_out: bool = False) -> None:
        try:
            report = await self._call_broker(
                "get_order",
                lambda: self.adapter.get_order(
                    symbol=order.symbol,
                    client_order_id=order.client_order_id,
                    broker_order_id=order.broker_order_id,
                ),
            )
        except OrderNotFound:
            if timed_out and order.status is OrderStatus.PENDING_SUBMIT:
                # The submit's outcome was unknown and, a full order_timeout later, the broker
                # has no such order: it never arrived. Settle it so it stops counting as open.
                reason = f"unknown at the broker {self.settings.order_timeout:g}s after submit: never arrived"
                await self._apply(OrderRejected(order.client_order_id, reason=reason, code="NEVER_ARRIVED"))
                self._alert("warning", f"order {order.client_order_id} {reason}")
            elif order.client_order_id not in self._reported_unknown:
                self._reported_unknown.add(order.client_order_id)
                self._alert(
                    "warning",
                    f"order {order.client_order_id} ({order.status.value}) is unknown at the broker; left for review",
                )
            return
        await self._settle_from_report(order, report)

    async def _watch_timeouts(self) -> None:
        timeout = timedelta(seconds=self.settings.order_timeout)
        interval = min(1.0, self.settings.order_timeout / 4)
        last_query: dict[str, float] = {}
        while True:
            await anyio.sleep(interval)
            now = time.monotonic()
            for order in self.oms.stale_orders(timeout):
                cid = order.client_order_id
                if now - last_query.get(cid, -math.inf) < self.settings.order_timeout:
                    continue  # asked recently: one query per order per order_timeout, not per tick
                last_query[cid] = now
                try:
                    await self._query_and_settle(order, timed_out=True)
                except AutotraderError as exc:
                    logger.warning("timeout query for %s failed: %s", cid, exc)
            if len(last_query) > 10_000:  # forget orders that are no longer waiting
                waiting = {o.client_order_id for o in self.oms.stale_orders(timeout)}
                last_query = {c: t for c, t in last_query.items() if c in waiting}

    async def _reconcile_periodically(self) -> None:
        interval = self.settings.reconcile_interval
        while True:
            await anyio.sleep(interval)
            try:
                await self.reconcile_open_orders(grace=interval)
                await self.refresh_balances()
            except AutotraderError as exc:
                logger.warning("open-order reconciliation failed: %s", exc)

    async def refresh_balances(self) -> list[Balance]:
        """Fetch balances from the broker (also done every ``reconcile_interval``).

        Strategies read them through ``ctx.balances()``; on spot venues that take fees in
        the base asset the balance, not the OMS position, is what can be sold.
        """
        self.balances = await self._call_broker("get_balances", self.adapter.get_balances)
        return self.balances

    async def reconcile_open_orders(self, *, grace: float = 0.0) -> int:
        """Settle orders we think are working but the broker no longer lists.

        Each is looked up (never guessed) and settled from the broker's answer, fetching
        its fills if the broker reports more filled than we have. Orders changed in the
        last ``grace`` seconds are left alone (the broker's list may lag a fresh order).

        Returns:
            How many orders were looked up.
        """
        reports = await self._call_broker("get_open_orders", lambda: self.adapter.get_open_orders())
        listed = {r.client_order_id for r in reports} | {r.broker_order_id for r in reports}
        cutoff = utc_now() - timedelta(seconds=grace)
        working = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        missing = [
            o
            for o in self.oms.open_orders()
            if o.status in working
            and o.updated_at <= cutoff
            and o.client_order_id not in listed
            and (o.broker_order_id is None or o.broker_order_id not in listed)
        ]
        for order in missing:
            await self._query_and_settle(order)
        return len(missing)

    async def _decision_loop(self) -> None:
        strategy = self.strategy
        assert strategy is not None
        interval = self.settings.decision_interval
        while True:
            started = time.monotonic()
            try:
                decisions = await strategy.decide(self.context)
            except Exception:
                logger.exception("strategy %s decide() failed", strategy.name)
                decisions = ()
            for decision in decisions:
                try:
                    await self.execute(decision)
                except RateLimited as exc:
                    logger.warning("decision %s not sent: %s", decision, exc)
                except AutotraderError as exc:
                    logger.warning("decision %s failed: %s", decision, exc)
            await anyio.sleep(max(0.0, interval - (time.monotonic() - started)))

    # -- observability -----------------------------------------------------------------
    def _hook(self, hook_name: str, /, **kwargs: Any) -> None:
        """Call observer hook ``hook_name``; an observer's exception is logged, never propagated."""
        hooks = self._hooks
        if hooks is None:
            return
        try:
            getattr(hooks, hook_name)(**kwargs)
        except Exception:
            logger.exception("observer hook %s failed (ignored: order handling goes on)", hook_name)

    async def _report_status(self) -> None:
        while self._running:  # a tick already due when stop() ran must not follow the final status
            if self._hooks is not None:
                self._hook("autotrader_on_status", status=self.status().as_dict())
            await anyio.sleep(self.settings.status_interval)

    def status(self) -> EngineStatus:
        """Current status: connection, OMS figures, risk state, breaker, dead letters, positions."""
        metrics = self.oms.metrics
        positions = self.oms.positions()
        return EngineStatus(
            broker=self.adapter.name,
            connected=self.adapter.is_connected,
            running=self._running,
            strategy=self._strategy_name,
            trading_state=self.risk.trading_state.value,
            breaker_state=str(self.breaker.state),
            open_orders=self.oms.open_order_count(),
            orders_total=metrics.orders_total,
            orders_filled=metrics.orders_filled,
            orders_rejected=metrics.orders_rejected,
            fills_total=metrics.fills_total,
            fill_rate=metrics.fill_rate,
            average_fill_latency=metrics.average_fill_latency,
            filled_notional=metrics.filled_notional,
            commission=metrics.commission,
            dead_letters=len(self.dead_letters),
            failure_rates={op: stats.failure_rate for op, stats in self.failures.snapshot().items()},
            positions={s: p.quantity for s, p in positions.items()},
            realized_pnl={s: p.realized_pnl for s, p in positions.items()},
        )

    def _notify_reject(self, order: Order, reason: str, code: str | None = None) -> None:
        _events_logger.info(
            "order refused before send",
            extra={
                "event": "refused",
                "client_order_id": order.client_order_id,
                "broker": order.broker,
                "symbol": order.symbol,
                "side": order.side.value,
                "outcome": "refused",
                "reason": reason,
            },
        )
        self._hook("autotrader_on_reject", order=order, reason=reason, code=code)

    def _dead_letter(self, operation: str, order: Order, error: BaseException) -> None:
        self.dead_letters.put(DeadLetter.from_error(operation, order, error))

    def _alert(self, level: str, message: str) -> None:
        logger.warning("%s", message) if level != "info" else logger.info("%s", message)
        self._hook("autotrader_on_alert", alert=Alert(level=level, message=message, source="engine"))

    def _breaker_changed(self, name: str, state: str) -> None:
        self._hook("autotrader_on_breaker_state", name=name, state=state)
        if state == "open":
            self._alert("critical", f"circuit breaker {name} opened: broker requests paused")

    def __repr__(self) -> str:
        return (
            f"<ExecutionEngine broker={self.adapter.name!r} strategy={self._strategy_name!r} "
            f"running={self._running} open_orders={self.oms.open_order_count()}>"
        )
