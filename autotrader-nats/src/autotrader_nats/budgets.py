"""Per-strategy risk budgets, enforced by the gateway before a remote strategy's order is sent.

The account's own risk checks (``RiskChecks``) bound the account; a budget bounds one
strategy on it, so a runaway strategy cannot use up what the others share. Configured per
strategy name (its ownership name) in :class:`GatewaySettings`, e.g.::

    AUTOTRADER_GATEWAY_BUDGETS='{"grid": {"max_position": "0.5", "max_open_notional": "20000",
                                  "max_orders_per_second": 5}}'

A submit over budget is refused with :class:`~autotrader_core.errors.RiskRejected`
(``reason`` one of :data:`STRATEGY_POSITION`, :data:`STRATEGY_NOTIONAL`,
:data:`STRATEGY_ORDER_RATE`), which the strategy receives as itself; nothing is sent.

What counts: a strategy's **position** is the signed sum of the fills of the orders it
owns (as the gateway sees them: after a restart, the orders the engine still holds), plus
its open orders on the side being increased; an order that only reduces the position is
never refused for it. Its **open notional** is the remaining quantity × price of its open
orders (limit, else stop, else the last price) plus the new order's. Its **order rate**
counts submits in the last second.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from autotrader_core.enums import OrderSide
from autotrader_core.errors import RiskRejected
from autotrader_core.models import Fill, Order
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from autotrader_nats.event_loop import EventLoopChoice

__all__ = [
    "STRATEGY_NOTIONAL",
    "STRATEGY_ORDER_RATE",
    "STRATEGY_POSITION",
    "BudgetBook",
    "GatewaySettings",
    "StrategyBudget",
]

STRATEGY_POSITION = "STRATEGY_POSITION"
"""``RiskRejected.reason``: the order would take the strategy's position past its budget."""
STRATEGY_NOTIONAL = "STRATEGY_NOTIONAL"
"""``RiskRejected.reason``: the strategy's open orders would exceed their notional budget."""
STRATEGY_ORDER_RATE = "STRATEGY_ORDER_RATE"
"""``RiskRejected.reason``: the strategy sent more orders in the last second than its budget."""

_ZERO = Decimal(0)


class StrategyBudget(BaseModel):
    """One strategy's limits (each ``None``: unlimited)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: Decimal | None = Field(default=None, gt=0)
    """Largest absolute net position per symbol."""
    max_open_notional: Decimal | None = Field(default=None, gt=0)
    """Largest notional of its open orders, the new one included (quote currency)."""
    max_orders_per_second: float | None = Field(default=None, gt=0)
    """Most submits in any one second."""


class GatewaySettings(BaseSettings):
    """The gateway's own settings (env prefix ``AUTOTRADER_GATEWAY_``)."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_GATEWAY_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    budgets: dict[str, StrategyBudget] = Field(default_factory=dict)
    """Strategy (ownership) name → its budget; strategies not named have none."""
    event_loop: EventLoopChoice = "auto"
    """The gateway process's event loop (``autotrader gateway --loop``): ``auto`` runs on
    uvloop when it is installed (``autotrader-nats[uvloop]``), else on asyncio's own
    (:mod:`autotrader_nats.event_loop`)."""


class BudgetBook:
    """Tracks what each budgeted strategy holds and refuses the orders over budget.

    Args:
        budgets: Strategy name → budget.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, budgets: Mapping[str, StrategyBudget], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budgets = dict(budgets)
        self._clock = clock
        self._positions: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def load(self, owned: Iterable[tuple[str, Order]]) -> None:
        """Start from the orders the engine holds (at start, after recovery): ``(owner, order)``."""
        for owner, order in owned:
            if owner in self.budgets and order.filled_quantity:
                self._positions[owner][order.symbol] += order.side.sign * order.filled_quantity

    def on_fill(self, owner: str, fill: Fill) -> None:
        """Count a fill of an order ``owner`` owns."""
        if owner in self.budgets:
            self._positions[owner][fill.symbol] += fill.side.sign * fill.quantity

    def position(self, owner: str, symbol: str) -> Decimal:
        """The strategy's signed net position in ``symbol`` (from its fills)."""
        return self._positions[owner][symbol] if owner in self._positions else _ZERO

    def check(
        self,
        owner: str,
        *,
        symbol: str,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal | None,
        open_orders: Iterable[Order],
        last_price: Callable[[str], Decimal | None],
    ) -> None:
        """Refuse a submit over ``owner``'s budget; otherwise count it against the order rate.

        Args:
            price: The order's limit (else stop) price; ``None`` for a market order.
            open_orders: ``owner``'s open orders.
            last_price: The last price of a symbol (values market orders).

        Raises:
            RiskRejected: over budget (``reason`` names which); nothing is counted.
        """
        budget = self.budgets.get(owner)
        if budget is None:
            return
        mine = list(open_orders)
        if budget.max_orders_per_second is not None:
            now, sent = self._clock(), self._sent[owner]
            while sent and now - sent[0] >= 1.0:
                sent.popleft()
            if len(sent) >= budget.max_orders_per_second:
                raise RiskRejected(
                    f"strategy {owner!r} sent {len(sent)} orders in the last second; its budget is "
                    f"{budget.max_orders_per_second:g}/s",
                    reason=STRATEGY_ORDER_RATE,
                )
        if budget.max_position is not None:
            self._check_position(owner, budget.max_position, symbol, side, quantity, mine)
        if budget.max_open_notional is not None:
            self._check_notional(owner, budget.max_open_notional, symbol, quantity, price, mine, last_price)
        if budget.max_orders_per_second is not None:
            self._sent[owner].append(self._clock())

    def _check_position(
        self, owner: str, limit: Decimal, symbol: str, side: OrderSide, quantity: Decimal, mine: list[Order]
    ) -> None:
        current = self.position(owner, symbol)
        pending = sum(
            (o.quantity - o.filled_quantity for o in mine if o.symbol == symbol and o.side is side), _ZERO
        )
        after = current + side.sign * (pending + quantity)
        if abs(after) > limit and abs(after) > abs(current):
            raise RiskRejected(
                f"strategy {owner!r}: {side.value} {quantity} {symbol} would take its position to {after} "
                f"(with its open {side.value} orders); its budget is {limit}",
                reason=STRATEGY_POSITION,
            )

    @staticmethod
    def _check_notional(
        owner: str,
        limit: Decimal,
        symbol: str,
        quantity: Decimal,
        price: Decimal | None,
        mine: list[Order],
        last_price: Callable[[str], Decimal | None],
    ) -> None:
        total = _ZERO
        for order, remaining in [(o, o.quantity - o.filled_quantity) for o in mine]:
            value = order.limit_price or order.stop_price or last_price(order.symbol)
            if value is not None:
                total += remaining * value
        value = price if price is not None else last_price(symbol)
        if value is None:
            raise RiskRejected(
                f"strategy {owner!r} has a notional budget but {symbol} has no price to value the order",
                reason=STRATEGY_NOTIONAL,
            )
        total += quantity * value
        if total > limit:
            raise RiskRejected(
                f"strategy {owner!r}: open notional would be {total}; its budget is {limit}",
                reason=STRATEGY_NOTIONAL,
            )
