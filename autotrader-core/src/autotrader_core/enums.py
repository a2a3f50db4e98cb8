"""Enumerations shared by every part of autotrader.

They are ``StrEnum`` so that they serialise as readable strings in logs, the
journal and JSON without a custom encoder.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AssetClass",
    "DecisionAction",
    "Liquidity",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "TimeInForce",
    "TradingState",
]


class OrderSide(StrEnum):
    """Direction of an order or fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """``+1`` for a buy, ``-1`` for a sell: the sign a fill adds to a position."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        """The side that closes a position opened by this side."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    """How long an order stays working."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    DAY = "day"


class OrderStatus(StrEnum):
    """Lifecycle state of an order; the legal moves are in :mod:`autotrader_core.state_machine`."""

    PENDING_SUBMIT = "pending_submit"
    """Intent recorded and (possibly) sent; the broker has not confirmed it yet."""
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_MODIFY = "pending_modify"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True when no further broker event can reopen the order (fills after cancel aside)."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order may still trade."""
        return self not in _TERMINAL


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class AssetClass(StrEnum):
    """Kind of instrument."""

    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERPETUAL = "crypto_perpetual"
    CRYPTO_FUTURE = "crypto_future"
    FX = "fx"
    CFD = "cfd"
    EQUITY = "equity"
    OPTION = "option"
    FUTURE = "future"


class Liquidity(StrEnum):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    MAKER = "maker"
    TAKER = "taker"
    UNKNOWN = "unknown"


class TradingState(StrEnum):
    """Global trading switch read by the risk checks (the kill switch sets HALTED)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    """Only orders that shrink an existing position are allowed."""
    HALTED = "halted"


class DecisionAction(StrEnum):
    """What a strategy wants done."""

    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"
    """Flatten the position in the decision's symbol."""
    HOLD = "hold"
    """Do nothing; recorded for the status display only."""
