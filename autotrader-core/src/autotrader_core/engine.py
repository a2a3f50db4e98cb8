"""The ExecutionEngine: decisions in, orders out, fills back, nothing lost.

Data path (one way)::

    Strategy ─decision─► build_order ─► RiskChecks ─► OrderFlow (intent) ─► BrokerGateway
      (breaker/retry) ─► BrokerAdapter ─► broker ─► reply / stream ─► OrderFlow ─► OMS
      ─► strategy callbacks + hooks

This module holds the engine's lifecycle and its public order API only; each seam of
the data path is its own module: :mod:`~autotrader_core.order_flow` (apply, journal,
fan out), :mod:`~autotrader_core.broker_gateway` (every adapter call),
:mod:`~autotrader_core.background` (stream, timeouts, reconciliation, decisions,
status), :mod:`~autotrader_core.trading_gate` (active / reducing / halted),
:mod:`~autotrader_core.risk` (every pre-send rule), :mod:`~autotrader_core.notifier`
(observer hooks), :mod:`~autotrader_core.recovery` and
:mod:`~autotrader_core.kill_switch`.

Usage::

    async with ExecutionEngine(adapter, strategy=MyStrategy()) as engine:
        order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        await engine.run(duration=60)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection
from decimal import Decimal
from types import TracebackType
from typing import Self

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from autotrader_core.account import AccountId
from autotrader_core.adapter import BrokerAdapter, OrderChange
from autotrader_core.background import BackgroundTasks
from autotrader_core.broker_gateway import BrokerGateway
from autotrader_core.context import EngineContext
from autotrader_core.control import ControlAction, EngineControl
from autotrader_core.enums import OrderSide, OrderType, TimeInForce
from autotrader_core.errors import InvalidOrder, UnsupportedFeature
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.journal.base import Journal
from autotrader_core.journal.identity import JournalIdentity
from autotrader_core.kill_switch import KillReport, KillSwitch, kill_on_signals_active
from autotrader_core.market_data import PriceCache, Quote
from autotrader_core.market_feed import MarketFeed
from autotrader_core.models import Balance, ExecutionDecision, Order, utc_now
from autotrader_core.notifier import HookTelemetry, Notifier
from autotrader_core.oms import OrderManager
from autotrader_core.order_flow import OrderFlow, OrderListener
from autotrader_core.orders import build_order, decision_target, optional_price
from autotrader_core.plugins import PluginManager
from autotrader_core.recovery import ReconcileRun, ReconciliationReport, recover
from autotrader_core.resiliency import CircuitBreaker, DeadLetterQueue, FailureTracker, RetryPolicy
from autotrader_core.resolver import SettleAs, UnknownOutcome
from autotrader_core.risk import RiskChecks
from autotrader_core.settings import EngineSettings
from autotrader_core.shutdown import SignalShutdown, signals_supported
from autotrader_core.status import EngineStatus
from autotrader_core.strategy import Strategy, strategy_symbols
from autotrader_core.trading_gate import TradingGate

__all__ = ["EngineStatus", "ExecutionEngine"]

logger = logging.getLogger(__name__)


class ExecutionEngine:
    """Runs one strategy against one broker adapter.

    Args:
        adapter: The broker adapter (see :class:`~autotrader_core.adapter.BrokerAdapter`).
        strategy: Optional strategy driven by fills, order updates and a decision cycle.
        risk: Pre-trade checks; defaults to instrument rules only.
        settings: Engine settings (decision interval, order timeout, account label, …).
        plugins: Plugin manager whose observer hooks receive every event.
        retry_policy: Retries for retryable failures (submissions re-use the client order id).
        breaker: Circuit breaker around broker requests.
        dead_letters: Where operations that failed for good go (default: kept in memory
            and in the journal, if any).
        ids: Client order id generator; its prefix is how recovery recognises our orders.
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
        self.settings = settings or EngineSettings()
        self.risk = risk or RiskChecks()
        self.plugins = plugins
        self.account = AccountId.of(adapter, self.settings.account)
        """Which account this engine trades (broker, environment, ``settings.account``)."""
        self.notifier = Notifier(plugins, self.account)
        """The observer hooks, each call tagged with :attr:`account`."""
        self.retry_policy = retry_policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(
            f"{adapter.name}-requests", on_state_change=self.notifier.breaker_changed
        )
        self.journal = journal
        self.last_reconcile: ReconcileRun | None = None
        """The latest open-order reconciliation during the run (every ``reconcile_interval``)."""
        self.reconciliation: ReconciliationReport | None = None
        """What recovery did on the last :meth:`start` (``None`` without a journal)."""
        self.dead_letters = dead_letters or DeadLetterQueue(store=journal)
        self.failures = FailureTracker()
        """Transport-level outcomes of broker requests over the last minute, per operation."""
        self.ids = ids or ClientOrderIdGenerator()
        self.oms = OrderManager()
        self.balances: list[Balance] = []
        self.prices = PriceCache(
            max_age=self.settings.max_quote_age,
            on_alert=lambda message: self.notifier.alert("warning", message),
            accept_delayed=self.settings.accept_delayed_quotes,
        )
        """Latest quote, trade and mark price per symbol from the adapter's public market data."""
        self.market = MarketFeed(
            adapter,
            self.prices,
            alert=lambda message: self.notifier.alert("warning", message),
            on_quote=self._on_quote if strategy is not None else None,
        )
        """Subscribes symbols and keeps :attr:`prices` current (see :meth:`subscribe`)."""
        self.context = EngineContext(
            adapter, self.oms, self.risk, lambda: self.balances, prices=self.prices, market=self.market
        )
        self._task_group: TaskGroup | None = None
        self._running = False
        self._stopped = anyio.Event()
        self._control: EngineControl | None = None
        self.flow = OrderFlow(
            self.oms,
            journal=journal,
            notifier=self.notifier,
            context=self.context,
            is_running=lambda: self._running,
        )
        """Applies, journals and fans out every order change."""
        self.flow.strategy = strategy
        self.gateway = BrokerGateway(
            adapter,
            flow=self.flow,
            notifier=self.notifier,
            retry_policy=self.retry_policy,
            breaker=self.breaker,
            failures=self.failures,
            dead_letters=self.dead_letters,
            order_timeout=self.settings.order_timeout,
        )
        """Every request to the adapter (breaker, retry, dead letters, look-up-then-settle)."""
        self.tasks = BackgroundTasks(
            self,
            adapter=adapter,
            flow=self.flow,
            gateway=self.gateway,
            notifier=self.notifier,
            settings=self.settings,
        )
        """The stream consumer, timeout watcher, reconciliation, decision loop and status tick."""
        adapter.telemetry = HookTelemetry(self.notifier, adapter.name)
        self.kill_switch = KillSwitch(
            self, gate=self.gate, notifier=self.notifier, deadline=self.settings.kill_switch_timeout
        )
        """Cancel-all, flatten, halt, disconnect, alert (see :meth:`kill`)."""
        # The strategy's ctx.cancel / ctx.modify go through the public order API below.
        self.context.order_actions = self
        self.flow.gate = self.gate  # a journal write failure halts trading
        self.signal_shutdown: SignalShutdown | None = None
        """The Ctrl-C / SIGTERM handling of the last :meth:`run` (its ``report`` once a signal came)."""

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
        # reconcile is missed; its events wait until the OMS is rebuilt (tasks.ready).
        task_group.start_soon(self.tasks.run)
        # Quotes first, so the strategy's on_start and first decision see prices.
        task_group.start_soon(self.market.run, tuple(strategy_symbols(self.strategy)))
        try:
            if self.journal is not None and self.settings.recover_on_start:
                self.reconciliation = await recover(
                    self.journal,
                    gateway=self.gateway,
                    flow=self.flow,
                    gate=self.gate,
                    notifier=self.notifier,
                    our_prefix=self.ids.prefix,
                    resend_max_age=self.settings.resend_after_restart_max_age,
                )
            if self.strategy is not None:
                await self.strategy.on_start(self.context)
        except BaseException:
            await self.stop()
            self._task_group = None
            await task_group.__aexit__(None, None, None)
            raise
        self.tasks.ready.set()
        self.notifier.hook("autotrader_on_engine_started", status=self.status().as_dict())
        logger.info("engine started: broker=%s strategy=%s", self.adapter.name, self._strategy_name)

    async def run(self, *, duration: float | None = None, handle_signals: bool | None = None) -> None:
        """Wait until :meth:`stop` (or the kill switch) is called, or ``duration`` seconds pass.

        While it waits, Ctrl-C and ``SIGTERM`` stop the engine safely (the strategy stops,
        this engine's open orders are cancelled, positions stay and a summary says so;
        ``settings.on_signal="kill"`` flattens them too) and the process is registered for
        ``autotrader sessions`` / ``autotrader kill`` (which sends ``SIGUSR1``: the full kill
        switch; see :mod:`autotrader_core.shutdown`).
        ``handle_signals=False`` (or ``settings.handle_signals``) leaves signals to you, and
        so does a :func:`~autotrader_core.kill_switch.kill_on_signals` already listening.
        """
        handle = self.settings.handle_signals if handle_signals is None else handle_signals
        with anyio.move_on_after(math.inf if duration is None else duration):
            # One step of the loop first: a kill_on_signals task started just before run()
            # gets to install its handlers, and then owns the signals (the full kill switch).
            await anyio.lowlevel.checkpoint()
            if not (handle and signals_supported()) or kill_on_signals_active():
                await self._stopped.wait()
                return
            shutdown = SignalShutdown(
                self,
                flatten=self.settings.on_signal == "kill",
                data_dir=self.settings.data_dir,
                broker=self.adapter.name,
            )
            self.signal_shutdown = shutdown
            async with anyio.create_task_group() as tg:
                await tg.start(shutdown.listen)
                await self._stopped.wait()
                if not shutdown.triggered:  # stopped by code or duration: stop listening
                    tg.cancel_scope.cancel()

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
        self.tasks.cancel()
        self.market.cancel()
        with anyio.CancelScope(shield=True):
            await self.adapter.disconnect()
            if self.journal is not None:
                await self.journal.close()
        self._stopped.set()
        self.notifier.hook("autotrader_on_engine_stopped", status=self.status().as_dict())
        logger.info("engine stopped: broker=%s", self.adapter.name)

    async def subscribe(self, symbols: Collection[str]) -> None:
        """Receive ``symbols``' quotes into :attr:`prices` (strategies declare theirs in ``Strategy.symbols``).

        A no-op on an adapter without market data (its own ``last_price`` is used then).

        Raises:
            InvalidOrder: a symbol the venue doesn't list.
        """
        await self.market.subscribe(symbols)

    async def _on_quote(self, quote: Quote) -> None:
        strategy = self.strategy
        if strategy is not None and self._running:
            await strategy.on_quote(quote, self.context)

    def resume_trading(self) -> None:
        """Set trading back to ACTIVE after a human reviewed what halted it.

        Recovery halts trading when reconciliation leaves something unresolved
        (see :attr:`reconciliation`); nothing new is sent until this is called.
        """
        logger.warning("trading resumed by the user (was %s)", self.gate.state.value)
        self.gate.resume("resumed by the user")

    @property
    def gate(self) -> TradingGate:
        """The trading gate (active / reducing / halted) the risk checks read."""
        return self.risk.gate

    @property
    def strategy(self) -> Strategy | None:
        """The strategy this engine drives (``None``: orders come from your code only)."""
        return self.flow.strategy

    @strategy.setter
    def strategy(self, strategy: Strategy | None) -> None:
        self.flow.strategy = strategy

    @property
    def control(self) -> EngineControl:
        """The public control seam (status, orders, halt/resume, cancel, flatten, kill), audited."""
        if self._control is None:
            self._control = EngineControl(self)
        return self._control

    def add_order_listener(self, listener: OrderListener) -> Callable[[], None]:
        """Call ``listener(order, event)`` for every live order event from now on; return its remover.

        For a component that runs in the engine's process and must see every change, in order,
        at once (the NATS account gateway's event stream): a plain call where an observer plugin
        goes through pluggy's hook machinery. Observers outside the engine's own wiring should
        implement ``autotrader_on_order_event`` instead.

        The listener runs inside the engine's handling of the event, right after the order
        manager applied it and before the observer hooks and the strategy's callbacks; it must
        not block. ``order`` is the live order (its next event changes it in place: copy what
        you keep). An exception it raises is logged and the event goes on to the others. Events
        replayed from the journal at start are not told again, as with the hooks: a listener
        that must not miss one across a crash reads :attr:`order_event_journal_seq` during the
        call and, after a restart, the journal's records after the last one it handled.

        Returns:
            A function that removes the listener (calling it again does nothing).
        """
        listeners = self.flow.listeners
        listeners.append(listener)

        def remove() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return remove

    @property
    def order_event_journal_seq(self) -> int | None:
        """During an order listener's call: the sequence number of the journal record of its
        event, or of the broker report the event was derived from (``None``: not journaled)."""
        return self.flow.event_journal_seq

    def notify_control_action(self, action: ControlAction) -> None:
        """Tell observers about an operator action (called by :class:`EngineControl`)."""
        self.notifier.hook("autotrader_on_control_action", action=action)

    @property
    def journal_failure(self) -> Exception | None:
        """The first journal write failure while running (trading was halted then); ``None`` if none."""
        return self.flow.journal_failure

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def _strategy_name(self) -> str | None:
        strategy = self.strategy
        return None if strategy is None else strategy.name

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
        target = decision_target(decision, self.oms.position(decision.symbol))
        if target is None:
            return None
        if target.closes:
            return await self.submit_order(
                decision.symbol,
                target.side,
                target.quantity,
                reduce_only=self.adapter.capabilities.reduce_only,
                tag=decision.tag,
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
        # The hot path of every order: the risk checks are inlined here on purpose.
        if not protective:
            market = self.market
            reference = market.reference_price(order.symbol, order.side)
            if reference is None and self.risk.needs_price(order):
                await market.subscribe((order.symbol,))  # so the next order has a live price
                await market.snapshot(order.symbol)  # the REST snapshot: the fallback and the first value
                reference = market.reference_price(order.symbol, order.side)
            try:
                self.risk.check(
                    order,
                    position=self.oms.position(order.symbol).quantity,
                    open_orders=self.oms.open_order_count(),
                    capabilities=self.adapter.capabilities,
                    reference_price=reference,
                    price_missing=None if reference is not None else market.missing_reason(order.symbol),
                )
            except InvalidOrder as exc:
                self.flow.refuse(order, str(exc), getattr(exc, "reason", None))
                raise
            except ArithmeticError:  # e.g. 1E+30 % 0.001 exceeds the decimal context
                error = InvalidOrder(f"quantity {order.quantity} or a price of this order is out of range")
                self.flow.refuse(order, str(error))
                raise error from None
        flow = self.flow
        if flow.journal is None:
            flow.oms.add(order)  # flow.record_intent without a journal to write ahead: no coroutine
        else:
            await flow.record_intent(order)
        return await self.gateway.resolver.submit(order)  # gateway.send, one coroutine fewer per order

    async def cancel_order(self, order: Order | str) -> Order:
        """Ask the broker to cancel an order; returns it (``pending_cancel`` until confirmed).

        An order whose submit or modify outcome is unknown is looked up first, so the
        cancel targets the broker order that lives (a cancel-replace changes the broker
        order id), never a dead one.

        Raises:
            IllegalTransition: the order is already finished.
        """
        target = self._resolve(order)
        resolver = self.gateway.resolver
        if resolver.get(target.client_order_id) is not None:
            await resolver.resolve(target)
        await self.flow.request_cancel(target)
        return await self.gateway.cancel(target)

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
        self.risk.check_change(target, change)
        await self.flow.request_modify(target, change)
        return await self.gateway.modify(target, change)

    async def kill(self, reason: str = "manual") -> KillReport:
        """Engage the kill switch (see :class:`~autotrader_core.kill_switch.KillSwitch`)."""
        return await self.kill_switch.engage(reason)

    def _resolve(self, order: Order | str) -> Order:
        if isinstance(order, Order):
            return order
        found = self.oms.get(order)
        if found is None:
            raise InvalidOrder(f"unknown client order id {order!r}")
        return found

    async def refresh_balances(self) -> list[Balance]:
        """Fetch balances from the broker (also done every ``reconcile_interval``).

        Strategies read them through ``ctx.balances()``; on spot venues that take fees in
        the base asset the balance, not the OMS position, is what can be sold.
        """
        self.balances = await self.gateway.call("get_balances", self.adapter.get_balances)
        return self.balances

    async def reconcile_open_orders(self, *, grace: float = 0.0) -> int:
        """Settle orders we think are working but the broker no longer lists.

        Each is looked up (never guessed) and settled from the broker's answer, fetching
        its fills if the broker reports more filled than we have. Orders changed in the
        last ``grace`` seconds are left alone (the broker's list may lag a fresh order).

        Returns:
            How many orders were looked up.
        """
        looked_up = await self.gateway.settle_unlisted(grace=grace)
        self.last_reconcile = ReconcileRun(at=utc_now(), looked_up=looked_up)
        return looked_up

    async def resolve_outcome(self, order: Order) -> bool:
        """One resolver pass over an order whose outcome is unknown (the kill switch's); whether it is settled."""
        return await self.gateway.resolver.resolve(order)

    def is_outcome_unknown(self, client_order_id: str) -> bool:
        """Whether the order's last submit or modify has an unknown outcome."""
        return self.gateway.resolver.get(client_order_id) is not None

    async def settle_unknown(
        self, client_order_id: str, as_: SettleAs | str, *, reason: str, by: str
    ) -> Order:
        """Settle an order of unknown outcome as the broker shows it (an operator's decision).

        Use :meth:`EngineControl.settle_unknown`, which audits it. See
        :meth:`~autotrader_core.resolver.OutcomeResolver.settle_by_hand` for the choices.

        Raises:
            InvalidOrder: unknown order, an outcome that is not unknown, or a choice that does not fit.
        """
        order = self._resolve(client_order_id)
        try:
            choice = SettleAs(as_)
        except ValueError:
            choices = ", ".join(c.value for c in SettleAs)
            raise InvalidOrder(f"settle as one of {choices}, not {as_!r}") from None
        await self.gateway.resolver.settle_by_hand(order, choice, reason=reason, by=by)
        return order

    def unknown_outcomes(self) -> list[UnknownOutcome]:
        """Orders whose last submit or modify has an unknown outcome, oldest first.

        They stay open (and count toward exposure and the risk limits) until the broker's
        answer or an operator settles them (see :mod:`autotrader_core.resolver`).
        """
        return self.gateway.resolver.outcomes()

    # -- status ---------------------------------------------------------------------------
    def status(self) -> EngineStatus:
        """Current status: connection, OMS figures, risk state, breaker, dead letters, positions."""
        metrics = self.oms.metrics
        positions = self.oms.positions()
        unknown = self.gateway.resolver.outcomes()
        return EngineStatus(
            broker=self.adapter.name,
            connected=self.adapter.is_connected,
            running=self._running,
            strategy=self._strategy_name,
            trading_state=self.gate.state.value,
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
            quote_ages=self.prices.ages(),
            unknown_outcomes=len(unknown),
            unknown_orders=[u.client_order_id for u in unknown],
            delayed_quotes=self.prices.delayed_symbols(),
        )

    def __repr__(self) -> str:
        return (
            f"<ExecutionEngine broker={self.adapter.name!r} strategy={self._strategy_name!r} "
            f"running={self._running} open_orders={self.oms.open_order_count()}>"
        )
