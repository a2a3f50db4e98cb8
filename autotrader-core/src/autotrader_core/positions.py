"""Net position bookkeeping: average cost and realized PnL from fills.

Kept as plain functions over :class:`~autotrader_core.models.Position` so the
OMS, the journal replay and the property tests all use the same arithmetic.
"""

from __future__ import annotations

from decimal import Decimal

from autotrader_core.models import Fill, Position

__all__ = ["apply_fill_to_position"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


def apply_fill_to_position(
    position: Position,
    fill: Fill,
    *,
    base_currency: str = "",
    quote_currency: str = "",
    multiplier: Decimal = _ONE,
) -> None:
    """Update ``position`` in place with ``fill``.

    Opening or adding moves the average price; reducing realizes
    ``closed × (exit − average) × multiplier`` (sign-adjusted for shorts); a fill
    that crosses zero closes the old side and opens the rest at the fill price.
    Fees are subtracted from realized PnL when they can be valued in the quote
    currency (quote-currency fees as they are, base-currency fees at the fill
    price); others are kept in ``other_fees``.
    """
    qty = fill.quantity if fill.side.sign > 0 else -fill.quantity
    current = position.quantity
    if current == 0 or (current > 0) == (qty > 0):
        total = abs(current) + abs(qty)
        position.average_price = (abs(current) * position.average_price + abs(qty) * fill.price) / total
        position.quantity = current + qty
    else:
        closed = min(abs(current), abs(qty))
        direction = _ONE if current > 0 else -_ONE
        position.realized_pnl += closed * (fill.price - position.average_price) * direction * multiplier
        position.quantity = current + qty
        if position.quantity == 0:
            position.average_price = _ZERO
        elif (position.quantity > 0) != (current > 0):
            position.average_price = fill.price  # flipped: the remainder opened at this price

    if fill.fee:
        currency = fill.fee_currency
        if not currency or currency == quote_currency:
            valued: Decimal | None = fill.fee
        elif currency == base_currency:
            valued = fill.fee * fill.price
        else:
            valued = None
        if valued is None:
            position.other_fees[currency] = position.other_fees.get(currency, _ZERO) + fill.fee
        else:
            position.fees_paid += valued
            position.realized_pnl -= valued
