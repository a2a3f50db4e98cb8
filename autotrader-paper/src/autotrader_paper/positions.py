"""Net positions per symbol, folded from fills with the average-cost method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from autotrader_core.enums import OrderSide
from autotrader_core.models import Fill, Position

__all__ = ["PositionBook"]

ZERO = Decimal(0)


@dataclass(slots=True)
class _State:
    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO


class PositionBook:
    """Signed net quantity, average price, realized PnL and fees per symbol.

    Fees are in the quote currency (the paper broker charges them there) and are
    subtracted from ``realized_pnl``, as :class:`~autotrader_core.models.Position` documents.
    """

    def __init__(self, broker: str = "paper") -> None:
        self._broker = broker
        self._states: dict[str, _State] = {}

    def quantity(self, symbol: str) -> Decimal:
        """Signed net quantity held in ``symbol`` (negative = short)."""
        state = self._states.get(symbol)
        return ZERO if state is None else state.quantity

    def apply(self, fill: Fill) -> None:
        """Fold one fill in: adding to a position moves the average, reducing realizes PnL."""
        state = self._states.get(fill.symbol)
        if state is None:
            state = self._states[fill.symbol] = _State()
        quantity, price = fill.quantity, fill.price
        signed = quantity if fill.side is OrderSide.BUY else -quantity
        held = state.quantity
        if held == 0 or (held > 0) == (signed > 0):
            total = abs(held) + quantity
            state.average_price = (abs(held) * state.average_price + quantity * price) / total
            state.quantity = held + signed
        else:
            closing = min(quantity, abs(held))
            direction = 1 if held > 0 else -1
            state.realized_pnl += closing * (price - state.average_price) * direction
            state.quantity = held + signed
            if state.quantity == 0:
                state.average_price = ZERO
            elif (state.quantity > 0) != (held > 0):  # flipped through zero: the rest opens at this price
                state.average_price = price
        state.fees_paid += fill.fee
        state.realized_pnl -= fill.fee

    def positions(self, last_price: Callable[[str], Decimal | None]) -> list[Position]:
        """Every non-flat position, with unrealized PnL at ``last_price(symbol)`` when known."""
        result = []
        for symbol, state in self._states.items():
            if state.quantity == 0:
                continue
            last = last_price(symbol)
            unrealized = None if last is None else (last - state.average_price) * state.quantity
            result.append(
                Position(
                    symbol=symbol,
                    quantity=state.quantity,
                    average_price=state.average_price,
                    realized_pnl=state.realized_pnl,
                    fees_paid=state.fees_paid,
                    broker=self._broker,
                    unrealized_pnl=unrealized,
                )
            )
        return result
