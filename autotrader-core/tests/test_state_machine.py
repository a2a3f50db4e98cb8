"""The order state machine allows what real brokers do and nothing else."""

from __future__ import annotations

import pytest
from autotrader_core.enums import OrderStatus as S
from autotrader_core.errors import IllegalTransition
from autotrader_core.state_machine import Trigger as T
from autotrader_core.state_machine import next_status


@pytest.mark.parametrize(
    ("current", "trigger", "kwargs", "expected"),
    [
        (S.PENDING_SUBMIT, T.ACCEPT, {}, S.ACCEPTED),
        (S.PENDING_SUBMIT, T.REJECT, {}, S.REJECTED),
        (S.PENDING_SUBMIT, T.FILL, {"fully_filled": False}, S.PARTIALLY_FILLED),  # fill before ack
        (S.PENDING_SUBMIT, T.FILL, {"fully_filled": True}, S.FILLED),
        (S.PENDING_SUBMIT, T.CANCEL, {}, S.CANCELED),  # IOC remainder with no ack
        (S.ACCEPTED, T.FILL, {"fully_filled": False}, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, T.FILL, {"fully_filled": True}, S.FILLED),
        (S.ACCEPTED, T.REQUEST_CANCEL, {}, S.PENDING_CANCEL),
        (S.PENDING_CANCEL, T.CANCEL, {}, S.CANCELED),
        (S.PENDING_CANCEL, T.FILL, {"fully_filled": False}, S.PENDING_CANCEL),
        (S.PENDING_CANCEL, T.FILL, {"fully_filled": True}, S.FILLED),
        (S.PENDING_CANCEL, T.CANCEL_REJECT, {"has_fills": False}, S.ACCEPTED),
        (S.PENDING_CANCEL, T.CANCEL_REJECT, {"has_fills": True}, S.PARTIALLY_FILLED),
        (S.ACCEPTED, T.REQUEST_MODIFY, {}, S.PENDING_MODIFY),
        (S.PENDING_MODIFY, T.MODIFY, {"has_fills": False}, S.ACCEPTED),
        (S.PENDING_MODIFY, T.MODIFY_REJECT, {"has_fills": True}, S.PARTIALLY_FILLED),
        (S.CANCELED, T.FILL, {"fully_filled": True}, S.FILLED),  # fill reported after cancel ack
        (S.CANCELED, T.FILL, {"fully_filled": False}, S.CANCELED),
        (S.ACCEPTED, T.EXPIRE, {}, S.EXPIRED),
    ],
)
def test_legal_transitions(current: S, trigger: T, kwargs: dict[str, bool], expected: S) -> None:
    assert next_status(current, trigger, **kwargs) is expected


@pytest.mark.parametrize(
    ("current", "trigger"),
    [
        (S.ACCEPTED, T.ACCEPT),
        (S.FILLED, T.CANCEL),
        (S.CANCELED, T.CANCEL),
        (S.REJECTED, T.REJECT),
        (S.FILLED, T.ACCEPT),
    ],
)
def test_duplicates_and_late_events_change_nothing(current: S, trigger: T) -> None:
    assert next_status(current, trigger) is current


@pytest.mark.parametrize(
    ("current", "trigger"),
    [
        (S.FILLED, T.REQUEST_CANCEL),
        (S.REJECTED, T.ACCEPT),
        (S.REJECTED, T.FILL),
        (S.CANCELED, T.REQUEST_MODIFY),
        (S.PENDING_SUBMIT, T.REQUEST_MODIFY),
        (S.FILLED, T.MODIFY),
    ],
)
def test_illegal_transitions_raise(current: S, trigger: T) -> None:
    with pytest.raises(IllegalTransition, match=current.value):
        next_status(current, trigger)
