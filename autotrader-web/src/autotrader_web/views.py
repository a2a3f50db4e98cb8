"""What the API and the page show, read through the control seam only.

Each function returns JSON-ready data (see :mod:`autotrader_web.encoding`): Decimals
are strings, so a quantity reads exactly as the OMS holds it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from autotrader_core.control import EngineControl
from autotrader_core.enums import OrderSide, OrderStatus
from autotrader_core.models import Order, Position

from autotrader_web.auth import Principal
from autotrader_web.encoding import to_jsonable
from autotrader_web.hub import LiveHub
from autotrader_web.seam import OrderOwners

__all__ = [
    "alerts_view",
    "balances_view",
    "breakers_view",
    "dead_letters_view",
    "failure_rates_view",
    "fills_view",
    "order_view",
    "orders_view",
    "positions_view",
    "rate_limits_view",
    "state_view",
    "status_view",
    "unknown_view",
]


def order_view(order: Order, owners: OrderOwners | None = None) -> dict[str, Any]:
    """One order with its derived figures (remaining quantity, open or not) and, when
    ``owners`` is given (a gateway), the strategy that owns it."""
    data: dict[str, Any] = to_jsonable(order)
    data["remaining_quantity"] = str(order.remaining_quantity)
    data["is_open"] = order.is_open
    if owners is not None:
        data["strategy"] = owners(order.client_order_id)
    return data


def orders_view(
    control: EngineControl,
    *,
    open_only: bool,
    symbol: str | None = None,
    statuses: Collection[OrderStatus] = (),
    side: OrderSide | None = None,
    limit: int = 100,
    owners: OrderOwners | None = None,
) -> list[dict[str, Any]]:
    """Open orders (oldest first) or recent orders (newest first), filtered."""
    # Filters apply before the limit: read everything the engine remembers, newest first.
    orders = (
        control.open_orders(symbol) if open_only else control.recent_orders(limit=1_000_000, symbol=symbol)
    )
    picked = [
        o for o in orders if (not statuses or o.status in statuses) and (side is None or o.side is side)
    ]
    return [order_view(o, owners) for o in picked[:limit]]


def fills_view(
    control: EngineControl, *, symbol: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Fills, newest first."""
    return [
        {**to_jsonable(f), "notional": str(f.notional)} for f in control.fills(limit=limit, symbol=symbol)
    ]


def _position(position: Position) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(position)
    data["side"] = position.side.value if position.side is not None else "flat"
    return data


def positions_view(control: EngineControl) -> dict[str, Any]:
    """Net positions by symbol and realized PnL (per symbol, in its quote currency)."""
    positions = control.positions()
    return {
        "positions": [_position(p) for _, p in sorted(positions.items())],
        "realized_pnl": {s: str(p.realized_pnl) for s, p in sorted(positions.items())},
    }


def balances_view(control: EngineControl) -> list[dict[str, Any]]:
    """Balances as last fetched from the broker, with the locked part."""
    return [{**to_jsonable(b), "locked": str(b.locked)} for b in control.balances()]


def breakers_view(control: EngineControl, hub: LiveHub) -> dict[str, Any]:
    """The engine's request breaker, plus every breaker that reported a change."""
    return {"engine": control.status().breaker_state, "breakers": dict(sorted(hub.breakers.items()))}


def dead_letters_view(control: EngineControl) -> list[dict[str, Any]]:
    """Operations that failed for good and wait for a human, oldest first."""
    return [to_jsonable(letter) for letter in control.dead_letters()]


def reconciliation_view(control: EngineControl) -> dict[str, Any]:
    """Drift between us and the broker: recovery at start, the last run, unmatched broker fills."""
    view = control.reconciliation()
    start = view.at_start
    return {
        "at_start": None
        if start is None
        else {
            "clean": start.clean,
            "summary": start.summary(),
            "started_at": to_jsonable(start.started_at),
            "fills_applied": list(start.fills_applied),
            "adopted": list(start.adopted),
            "never_sent": list(start.never_sent),
            "foreign_orders": list(start.foreign_orders),
            "unresolved": [to_jsonable(u) for u in start.unresolved],
            "position_differences": {
                symbol: {"ours": str(ours), "broker": str(theirs)}
                for symbol, (ours, theirs) in start.position_differences.items()
            },
        },
        "last_run": to_jsonable(view.last_run),
        "orphan_fills": [to_jsonable(fill) for fill in view.orphan_fills],
    }


def quotes_view(control: EngineControl) -> dict[str, Any]:
    """Every quoted symbol: best bid/ask, the quote's age in seconds, and why it is stale (if it is)."""
    out: dict[str, Any] = {}
    for symbol, view in control.quotes().items():
        quote = view.quote
        out[symbol] = {
            "bid": None if quote is None else str(quote.bid),
            "ask": None if quote is None else str(quote.ask),
            "age": view.age,
            "stale": view.stale,
        }
    return out


def failure_rates_view(control: EngineControl) -> dict[str, float]:
    """Share of broker requests that failed over the last minute, by operation."""
    return dict(control.status().failure_rates)


def rate_limits_view(hub: LiveHub) -> dict[str, Any]:
    """Rate-limit usage by limiter: waits, seconds waited, longest wait, last wait time."""
    return {name: to_jsonable(usage) for name, usage in sorted(hub.rate_limits.items())}


def alerts_view(hub: LiveHub, limit: int = 50) -> list[dict[str, Any]]:
    """Recent alerts and operator actions, newest first."""
    return [to_jsonable(a) for a in list(hub.alerts)[:limit]]


def unknown_view(control: EngineControl, owners: OrderOwners | None = None) -> list[dict[str, Any]]:
    """Orders whose last submit or modify has an unknown outcome, oldest first, with the order's terms."""
    out: list[dict[str, Any]] = []
    for outcome in control.unknown_outcomes():
        order = control.order(outcome.client_order_id)
        out.append(
            {
                **to_jsonable(outcome.as_dict()),
                "order": None if order is None else order_view(order, owners),
            }
        )
    return out


def status_view(control: EngineControl) -> dict[str, Any]:
    """Engine status: connection, trading state, OMS figures, kill switch report."""
    report = control.kill_report
    return {
        "account": to_jsonable(control.account),
        "account_label": str(control.account),
        **to_jsonable(control.status().as_dict()),
        "trading_state": control.trading_state.value,
        "killed": report is not None,
        "kill_report": to_jsonable(report) if report is not None else None,
    }


def state_view(
    control: EngineControl, hub: LiveHub, principal: Principal, owners: OrderOwners | None = None
) -> dict[str, Any]:
    """Everything the page shows at once (one server-sent event)."""
    return {
        "you": {"name": principal.name, "role": principal.role},
        "status": status_view(control),
        "open_orders": orders_view(control, open_only=True, limit=200, owners=owners),
        "unknown_outcomes": unknown_view(control, owners),
        "fills": fills_view(control, limit=20),
        **positions_view(control),
        "balances": balances_view(control),
        "breakers": breakers_view(control, hub),
        "dead_letters": dead_letters_view(control),
        "rate_limits": rate_limits_view(hub),
        "alerts": alerts_view(hub, 30),
        "version": hub.version,
    }
