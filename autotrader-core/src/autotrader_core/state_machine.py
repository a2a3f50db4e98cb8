"""The order state machine: a transition table, not scattered ``if`` statements.

It allows what real brokers do (after NautilusTrader's table): a fill before the
acknowledgement, a fill while a cancel or modify is pending, a fill after the
cancel was confirmed, IOC/FOK orders going straight from submitted to canceled.
Duplicate and late events resolve to *no change* rather than an error, so a
replayed stream never corrupts an order. Anything else raises
:class:`~autotrader_core.errors.IllegalTransition`.
"""

from __future__ import annotations

from enum import Enum

from autotrader_core.enums import OrderStatus
from autotrader_core.errors import IllegalTransition

__all__ = ["Trigger", "next_status"]

S = OrderStatus


class Trigger(Enum):
    """What happened to the order."""

    ACCEPT = "accept"
    REJECT = "reject"
    FILL = "fill"
    CANCEL = "cancel"
    EXPIRE = "expire"
    MODIFY = "modify"
    CANCEL_REJECT = "cancel_reject"
    MODIFY_REJECT = "modify_reject"
    REQUEST_CANCEL = "request_cancel"
    REQUEST_MODIFY = "request_modify"


class _Rule(Enum):
    SAME = "same"  # duplicate or late event: keep the current status
    FILLED = "filled"  # PARTIALLY_FILLED or FILLED, depending on the fill
    FILLED_OR_SAME = "filled_or_same"  # FILLED when complete, else keep the status
    RESTORE = "restore"  # back to ACCEPTED or PARTIALLY_FILLED


_Target = OrderStatus | _Rule
T = Trigger

_TABLE: dict[tuple[OrderStatus, Trigger], _Target] = {
    # submitted, not yet acknowledged
    (S.PENDING_SUBMIT, T.ACCEPT): S.ACCEPTED,
    (S.PENDING_SUBMIT, T.REJECT): S.REJECTED,
    (S.PENDING_SUBMIT, T.FILL): _Rule.FILLED,  # fill before ack
    (S.PENDING_SUBMIT, T.CANCEL): S.CANCELED,  # IOC/FOK remainder
    (S.PENDING_SUBMIT, T.EXPIRE): S.EXPIRED,
    (S.PENDING_SUBMIT, T.REQUEST_CANCEL): S.PENDING_CANCEL,
    # working
    (S.ACCEPTED, T.ACCEPT): _Rule.SAME,
    (S.ACCEPTED, T.REJECT): S.REJECTED,  # e.g. stop-limit refused on trigger
    (S.ACCEPTED, T.FILL): _Rule.FILLED,
    (S.ACCEPTED, T.CANCEL): S.CANCELED,
    (S.ACCEPTED, T.EXPIRE): S.EXPIRED,
    (S.ACCEPTED, T.MODIFY): S.ACCEPTED,
    (S.ACCEPTED, T.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.ACCEPTED, T.REQUEST_MODIFY): S.PENDING_MODIFY,
    (S.ACCEPTED, T.CANCEL_REJECT): _Rule.SAME,
    (S.ACCEPTED, T.MODIFY_REJECT): _Rule.SAME,
    (S.PARTIALLY_FILLED, T.ACCEPT): _Rule.SAME,
    (S.PARTIALLY_FILLED, T.FILL): _Rule.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.MODIFY): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.REQUEST_MODIFY): S.PENDING_MODIFY,
    (S.PARTIALLY_FILLED, T.CANCEL_REJECT): _Rule.SAME,
    (S.PARTIALLY_FILLED, T.MODIFY_REJECT): _Rule.SAME,
    # a cancel is in flight
    (S.PENDING_CANCEL, T.ACCEPT): _Rule.SAME,  # late ack
    (S.PENDING_CANCEL, T.REJECT): S.REJECTED,
    (S.PENDING_CANCEL, T.FILL): _Rule.FILLED_OR_SAME,
    (S.PENDING_CANCEL, T.CANCEL): S.CANCELED,
    (S.PENDING_CANCEL, T.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, T.CANCEL_REJECT): _Rule.RESTORE,
    (S.PENDING_CANCEL, T.REQUEST_CANCEL): _Rule.SAME,
    (S.PENDING_CANCEL, T.MODIFY): _Rule.SAME,
    (S.PENDING_CANCEL, T.MODIFY_REJECT): _Rule.SAME,
    # a modify is in flight
    (S.PENDING_MODIFY, T.ACCEPT): _Rule.SAME,
    (S.PENDING_MODIFY, T.FILL): _Rule.FILLED_OR_SAME,
    (S.PENDING_MODIFY, T.CANCEL): S.CANCELED,
    (S.PENDING_MODIFY, T.EXPIRE): S.EXPIRED,
    (S.PENDING_MODIFY, T.MODIFY): _Rule.RESTORE,
    (S.PENDING_MODIFY, T.MODIFY_REJECT): _Rule.RESTORE,
    (S.PENDING_MODIFY, T.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.PENDING_MODIFY, T.CANCEL_REJECT): _Rule.SAME,
    # finished: fills are facts and still count; repeats are harmless
    (S.FILLED, T.ACCEPT): _Rule.SAME,
    (S.FILLED, T.CANCEL): _Rule.SAME,  # cancel ack racing the last fill
    (S.FILLED, T.EXPIRE): _Rule.SAME,
    (S.FILLED, T.CANCEL_REJECT): _Rule.SAME,
    (S.FILLED, T.MODIFY_REJECT): _Rule.SAME,
    (S.CANCELED, T.ACCEPT): _Rule.SAME,
    (S.CANCELED, T.CANCEL): _Rule.SAME,
    (S.CANCELED, T.EXPIRE): _Rule.SAME,
    (S.CANCELED, T.FILL): _Rule.FILLED_OR_SAME,  # fill reported after the cancel ack
    (S.CANCELED, T.CANCEL_REJECT): _Rule.SAME,
    (S.CANCELED, T.MODIFY_REJECT): _Rule.SAME,
    (S.EXPIRED, T.EXPIRE): _Rule.SAME,
    (S.EXPIRED, T.CANCEL): _Rule.SAME,
    (S.EXPIRED, T.FILL): _Rule.FILLED_OR_SAME,
    (S.REJECTED, T.REJECT): _Rule.SAME,
}


def next_status(
    current: OrderStatus,
    trigger: Trigger,
    *,
    fully_filled: bool = False,
    has_fills: bool = False,
) -> OrderStatus:
    """Return the status after ``trigger`` (possibly ``current`` for a repeat).

    Args:
        fully_filled: For ``FILL``: the order's filled quantity has reached its quantity.
        has_fills: For restores: the order has been partly filled.

    Raises:
        IllegalTransition: the event is impossible from ``current``.
    """
    target = _TABLE.get((current, trigger))
    if target is None:
        raise IllegalTransition(f"{trigger.value} is not allowed for an order in state {current.value}")
    if isinstance(target, OrderStatus):
        return target
    if target is _Rule.SAME:
        return current
    if target is _Rule.FILLED:
        return S.FILLED if fully_filled else S.PARTIALLY_FILLED
    if target is _Rule.FILLED_OR_SAME:
        return S.FILLED if fully_filled else current
    return S.PARTIALLY_FILLED if has_fills else S.ACCEPTED


def is_allowed(current: OrderStatus, trigger: Trigger) -> bool:
    """Whether ``trigger`` is legal (possibly as a no-op) from ``current``."""
    return (current, trigger) in _TABLE
