"""The control seam: what an operator may see of a running engine and do to it.

Every caller that is not the engine itself — the kill switch's signal handler, the
``autotrader`` CLI, the web control plane (``autotrader-web``) and the account gateway
(``autotrader-nats``) — goes through :class:`EngineControl`, never through engine
internals. Every action names who asked for it (``actor``: a token name, ``"cli"``,
``"signal"``) and is written to the ``autotrader.audit`` logger and to the
``autotrader_on_control_action`` hook before it runs, so an operator can always answer
"who halted this account, and when".

.. code-block:: python

    control = EngineControl(engine)
    print(control.status().trading_state, len(control.open_orders()))
    await control.halt(actor="ops-laptop", reason="exchange maintenance")
    await control.cancel_all(actor="ops-laptop")
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from autotrader_core.account import AccountId
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.audit import ControlAction
from autotrader_core.enums import TradingState
from autotrader_core.errors import AutotraderError, InvalidOrder
from autotrader_core.kill_switch import KillReport, KillSwitch
from autotrader_core.market_data import PriceCache, Quote
from autotrader_core.models import Balance, Fill, Order, Position
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import ReconcileRun, ReconciliationReport
from autotrader_core.resiliency import DeadLetter, DeadLetterQueue
from autotrader_core.resolver import SettleAs, UnknownOutcome
from autotrader_core.status import EngineStatus
from autotrader_core.trading_gate import TradingGate

__all__ = [
    "AccountId",
    "CancelAllResult",
    "ControlAction",
    "ControlledEngine",
    "EngineControl",
    "QuoteView",
    "ReconciliationView",
]

audit_logger = logging.getLogger("autotrader.audit")
"""One record per operator action (who, what, when, outcome)."""


@dataclass(frozen=True, slots=True)
class ReconciliationView:
    """Reconciliation drift for an operator (see :meth:`EngineControl.reconciliation`)."""

    at_start: ReconciliationReport | None
    """What recovery did when the engine started (``None`` without a journal)."""
    last_run: ReconcileRun | None
    """The latest periodic reconciliation (``None`` before the first one)."""
    orphan_fills: list[Fill]
    """Fills the broker reported that match no order of ours (kept on the position, for review)."""


@dataclass(frozen=True, slots=True)
class QuoteView:
    """One symbol's latest quote, its age in seconds, and why it is no price (``None``: fresh)."""

    quote: Quote | None
    age: float | None
    stale: str | None


@dataclass(slots=True)
class CancelAllResult:
    """What :meth:`EngineControl.cancel_all` did: ids asked to cancel, and the failures."""

    requested: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


class ControlledEngine(Protocol):
    """The public engine API the control seam works on (``ExecutionEngine`` provides it)."""

    @property
    def adapter(self) -> BrokerAdapter:
        """The broker adapter."""
        ...

    @property
    def account(self) -> AccountId:
        """The account the engine trades."""
        ...

    @property
    def gate(self) -> TradingGate:
        """The trading gate."""
        ...

    @property
    def oms(self) -> OrderManager:
        """Orders, fills and positions."""
        ...

    @property
    def kill_switch(self) -> KillSwitch:
        """The kill switch."""
        ...

    @property
    def balances(self) -> list[Balance]:
        """Balances as last fetched."""
        ...

    @property
    def dead_letters(self) -> DeadLetterQueue:
        """Operations that failed for good."""
        ...

    def status(self) -> EngineStatus:
        """The status snapshot."""
        ...

    @property
    def prices(self) -> PriceCache:
        """The price cache fed by the adapter's market data."""
        ...

    @property
    def reconciliation(self) -> ReconciliationReport | None:
        """What recovery did at start (``None`` without a journal)."""
        ...

    @property
    def last_reconcile(self) -> ReconcileRun | None:
        """The latest open-order reconciliation during the run."""
        ...

    def resume_trading(self) -> None:
        """Set trading back to active."""
        ...

    async def cancel_order(self, order: Order | str) -> Order:
        """Cancel one order."""
        ...

    async def flatten(self, symbol: str, *, tag: str = "flatten") -> Order | None:
        """Close one position."""
        ...

    def unknown_outcomes(self) -> list[UnknownOutcome]:
        """Orders whose submit/modify outcome is unknown."""
        ...

    async def settle_unknown(
        self, client_order_id: str, as_: SettleAs | str, *, reason: str, by: str
    ) -> Order:
        """Settle an order of unknown outcome as the broker shows it."""
        ...

    def notify_control_action(self, action: ControlAction) -> None:
        """Tell observers about an operator action."""
        ...


class EngineControl:
    """The public control seam of one :class:`~autotrader_core.engine.ExecutionEngine`.

    Reads are synchronous snapshots; actions are coroutines, each audited with its
    ``actor``. Actions never bypass the engine's rules: a cancel goes through the same
    path as the strategy's, a flatten is the kill switch's protective path.

    Args:
        engine: The engine to observe and control.
        account: The account label (see :class:`AccountId`).
    """

    def __init__(self, engine: ControlledEngine, *, account: str | None = None) -> None:
        self._engine = engine
        own = engine.account
        self._account = AccountId(own.broker, own.environment, account) if account else own

    # -- reads ----------------------------------------------------------------------------
    @property
    def account(self) -> AccountId:
        """The account this engine trades."""
        return self._account

    def status(self) -> EngineStatus:
        """The engine's status snapshot (connection, trading state, OMS figures, positions)."""
        return self._engine.status()

    @property
    def trading_state(self) -> TradingState:
        """``active``, ``reducing`` (only orders that shrink a position) or ``halted``."""
        return self._engine.gate.state

    @property
    def kill_report(self) -> KillReport | None:
        """The kill switch's report once it has run, else ``None``."""
        return self._engine.kill_switch.report

    def order(self, client_order_id: str) -> Order | None:
        """One order by client order id (open or recently completed), or ``None``."""
        return self._engine.oms.get(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders still working (or whose outcome is not settled yet), oldest first."""
        return self._engine.oms.open_orders(symbol)

    def recent_orders(self, *, limit: int = 100, symbol: str | None = None) -> list[Order]:
        """Open and completed orders, newest first, at most ``limit``."""
        orders = [o for o in self._engine.oms if symbol is None or o.symbol == symbol]
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        return orders[: max(0, limit)]

    def fills(self, *, limit: int = 100, symbol: str | None = None) -> list[Fill]:
        """Fills of the orders the engine still remembers, newest first, at most ``limit``."""
        oms = self._engine.oms
        fills = [
            f for o in oms for f in oms.fills_for(o.client_order_id) if symbol is None or f.symbol == symbol
        ]
        fills.sort(key=lambda f: f.timestamp, reverse=True)
        return fills[: max(0, limit)]

    def positions(self) -> dict[str, Position]:
        """Net positions built from our fills, by symbol."""
        return self._engine.oms.positions()

    def balances(self) -> list[Balance]:
        """Balances as last fetched from the broker."""
        return list(self._engine.balances)

    def dead_letters(self) -> list[DeadLetter]:
        """Operations that failed for good and wait for a human."""
        return list(self._engine.dead_letters)

    def unknown_outcomes(self) -> list[UnknownOutcome]:
        """Orders whose last submit or modify has an unknown outcome (open until settled), oldest first."""
        return self._engine.unknown_outcomes()

    def is_outcome_unknown(self, client_order_id: str) -> bool:
        """Whether this order's last submit or modify has an unknown outcome right now."""
        return any(u.client_order_id == client_order_id for u in self._engine.unknown_outcomes())

    def reconciliation(self) -> ReconciliationView:
        """Drift between us and the broker: what recovery found at start, the latest
        reconciliation during the run, and fills the broker had that match no order of ours."""
        engine = self._engine
        return ReconciliationView(
            at_start=engine.reconciliation,
            last_run=engine.last_reconcile,
            orphan_fills=engine.oms.orphan_fills(),
        )

    def quotes(self) -> dict[str, QuoteView]:
        """Every symbol's latest quote with its age and, when it is no price, why."""
        prices = self._engine.prices
        return {
            symbol: QuoteView(prices.quote(symbol), prices.age(symbol), prices.stale_reason(symbol))
            for symbol in prices.symbols()
        }

    # -- actions --------------------------------------------------------------------------
    async def halt(self, *, actor: str, reason: str = "") -> None:
        """Stop every new order (protective flattens excepted) until :meth:`resume`."""
        self._audit("halt", actor, reason=reason)
        self._engine.gate.halt(f"{reason} (by {actor})" if reason else f"by {actor}")

    async def reducing_only(self, *, actor: str, reason: str = "") -> None:
        """Accept only orders that shrink a position."""
        self._audit("reducing_only", actor, reason=reason)
        self._engine.gate.reduce(f"{reason} (by {actor})" if reason else f"by {actor}")

    async def resume(self, *, actor: str) -> None:
        """Set trading back to active (a human reviewed what halted it).

        Raises:
            InvalidOrder: the kill switch has run; a killed engine does not resume.
        """
        if self._engine.kill_switch.engaged:
            raise InvalidOrder("the kill switch has run for this engine; start a new session to trade again")
        self._audit("resume", actor)
        self._engine.resume_trading()

    async def cancel(self, client_order_id: str, *, actor: str) -> Order:
        """Ask the broker to cancel one order (``pending_cancel`` until it confirms).

        Raises:
            InvalidOrder: no order with that id.
            IllegalTransition: the order is already finished.
        """
        if self._engine.oms.get(client_order_id) is None:
            raise InvalidOrder(f"unknown client order id {client_order_id!r}")
        self._audit("cancel", actor, client_order_id=client_order_id)
        return await self._engine.cancel_order(client_order_id)

    async def cancel_all(self, *, actor: str, symbol: str | None = None) -> CancelAllResult:
        """Cancel every open order (of ``symbol``, if given), concurrently."""
        self._audit("cancel_all", actor, symbol=symbol or "*")
        result = CancelAllResult()
        targets = self._engine.oms.open_orders(symbol)

        async def cancel_one(order: Order) -> None:
            result.requested.append(order.client_order_id)
            try:
                await self._engine.cancel_order(order)
            except AutotraderError as exc:
                if order.is_open:
                    result.failures[order.client_order_id] = str(exc)

        async with anyio.create_task_group() as tg:
            for order in targets:
                tg.start_soon(cancel_one, order)
        return result

    async def flatten(self, *, actor: str, symbol: str | None = None) -> list[Order]:
        """Close the position in ``symbol`` (every position without one) with market orders.

        This is the kill switch's protective path: exempt from risk limits, reduce-only
        where the venue supports it.
        """
        self._audit("flatten", actor, symbol=symbol or "*")
        symbols: Sequence[str] = [symbol] if symbol is not None else list(self._engine.oms.positions())
        orders: list[Order] = []
        for name in symbols:
            order = await self._engine.flatten(name, tag="operator-flatten")
            if order is not None:
                orders.append(order)
        return orders

    async def settle_unknown(
        self, client_order_id: str, *, as_: SettleAs | str, by: str, reason: str = ""
    ) -> Order:
        """Settle an order whose outcome is unknown, as the broker shows it; audited.

        ``as_``: ``look_up`` (ask the broker again now, by the venue's re-send rule),
        ``working``, ``filled`` (its fills are fetched from the broker: a fill is never
        invented), ``canceled`` or ``rejected`` (a submit the broker never took). Say
        what you saw at the broker in ``reason``: it goes to the audit log, the order and
        the journal.

        The audit record says how it ended (``outcome``: ``settled``, ``still unknown`` after
        a look-up, or ``refused`` with the ``error``): a refused settle is audited as refused,
        never as a decision taken.

        Raises:
            InvalidOrder: unknown order, an outcome that is not unknown, no reason for a
                decision, or a choice that does not fit the order.
        """
        choice = str(as_)
        _check_actor(by)
        detail = {"client_order_id": client_order_id, "as_": choice, "reason": reason}
        try:
            if choice != SettleAs.LOOK_UP.value and not reason.strip():
                raise InvalidOrder("settling an unknown order by hand needs a reason (what the broker shows)")
            order = await self._engine.settle_unknown(
                client_order_id, choice, reason=reason or "look up", by=by
            )
        except Exception as exc:
            self._audit("settle_unknown", by, **detail, outcome="refused", error=str(exc))
            raise
        outcome = "still unknown" if self.is_outcome_unknown(client_order_id) else "settled"
        self._audit("settle_unknown", by, **detail, outcome=outcome)
        return order

    async def kill(self, *, actor: str, reason: str = "operator") -> KillReport:
        """Engage the kill switch: cancel all, flatten, halt, disconnect, alert (idempotent)."""
        self._audit("kill", actor, reason=reason)
        return await self._engine.kill_switch.engage(f"{reason} (by {actor})")

    # -- audit ----------------------------------------------------------------------------
    def _audit(self, action: str, actor: str, **detail: str) -> None:
        _check_actor(actor)
        record = ControlAction(action=action, actor=actor, account=self._account, detail=detail)
        audit_logger.warning(
            "control action %s by %s on %s",
            action,
            actor,
            self._account,
            extra={
                "event": "control",
                "action": action,
                "actor": actor,
                "account": str(self._account),
                **detail,
            },
        )
        self._engine.notify_control_action(record)

    def as_dict(self) -> dict[str, Any]:
        """The account and status as plain data (Decimals kept) for JSON encoders."""
        return {"account": str(self._account), **self.status().as_dict()}


def _check_actor(actor: str) -> None:
    if not actor or not actor.strip():
        raise InvalidOrder("every control action names its actor (a token name, 'cli', 'signal', ...)")
