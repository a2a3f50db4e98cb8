"""Core order events: the only language in which adapters tell the OMS what happened.

Adapters translate REST replies and stream messages into these; the OMS applies
them through the state machine; the journal records them in the order applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from autotrader_core.models import Fill, utc_now

__all__ = [
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderModified",
    "OrderModifyRejected",
    "OrderRejected",
    "OutcomeResolved",
    "OutcomeUnknown",
]


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The broker acknowledged the order and it is working."""

    client_order_id: str
    broker_order_id: str | None
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The broker proved it refused the order (never used for timeouts or 5xx)."""

    client_order_id: str
    reason: str
    code: str | None = None
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One execution; the OMS ignores a fill whose trade id it has already applied."""

    fill: Fill

    @property
    def client_order_id(self) -> str:
        """The filled order's client order id."""
        return self.fill.client_order_id

    @property
    def timestamp(self) -> datetime:
        """When the broker executed the trade."""
        return self.fill.timestamp


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    """The order is no longer working (canceled by us, the broker, or IOC/FOK remainder)."""

    client_order_id: str
    reason: str | None = None
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderExpired:
    """The order's time in force ran out."""

    client_order_id: str
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderModified:
    """The order now has new terms; ``broker_order_id`` changes for cancel/replace brokers."""

    client_order_id: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    broker_order_id: str | None = None
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderCancelRejected:
    """The broker refused a cancel (the order keeps working, or already finished)."""

    client_order_id: str
    reason: str
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OrderModifyRejected:
    """The broker refused a modify; the order keeps its previous terms."""

    client_order_id: str
    reason: str
    timestamp: datetime = field(default_factory=utc_now)


OrderEvent = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | OrderExpired
    | OrderModified
    | OrderCancelRejected
    | OrderModifyRejected
)
"""Union of every event an adapter may produce."""


@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """The outcome of a non-idempotent request (a submit or a modify) is unknown.

    Not an order event (adapters never produce it): the engine's resolver of unknown
    outcomes (:mod:`autotrader_core.resolver`) records it, in the journal too, so that
    recovery after a restart knows the order was in doubt and since when.
    """

    client_order_id: str
    operation: str
    """``"submit"`` or ``"modify"``."""
    reason: str
    stamp: datetime
    """Upper bound of the timestamp the request carried (the adapter's ``request_stamp()`` after sending)."""
    candidates: tuple[str, ...] = ()
    """Broker order ids that may be the live order (old and replacement of a cancel-replace)."""
    timestamp: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class OutcomeResolved:
    """An unknown outcome was settled: by the broker's answer, a safe re-send, an expiry or an operator."""

    client_order_id: str
    operation: str
    how: str
    """What settled it, in words (shown in logs, hooks and the journal)."""
    timestamp: datetime = field(default_factory=utc_now)
