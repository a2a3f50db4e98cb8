"""Taps on ib_async's decoder: the raw wire fields of the messages that carry money.

ib_async's decoder converts prices and sizes to ``float`` before any callback sees
them.  We need the wire's decimal text, so we wrap the decoder's handler for a few
message ids *on our own IB instance* (``ib.client.decoder.handlers`` is a
per-instance dict): each wrapper lets ib_async handle the message first, so its own
bookkeeping stays intact, then parses the untouched field list into a typed record
(:mod:`autotrader_ibkr.parsing`) and hands it to a :class:`TapListener`.  Nothing
global is patched, and the user's event loop is left alone.

One message that breaks the expected layout costs only itself: the listener hears
about it (:meth:`TapListener.on_bad_message`) and every other message goes on.

The status inside ``openOrder`` follows variable-length parts of the message, so it
is the one value taken from ib_async's decoded ``OrderState`` (a per-instance wrap
of ``ib.wrapper.openOrder``) rather than from a fixed field position.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import ib_async
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.models import utc_now

from autotrader_ibkr.parsing import (
    CommissionRecord,
    ContractRules,
    ErrorRecord,
    ExecutionRecord,
    OpenOrderRecord,
    PositionRecord,
    StatusRecord,
    parse_commission,
    parse_contract_rules,
    parse_error,
    parse_execution,
    parse_open_order,
    parse_order_status,
    parse_position,
)

__all__ = ["FieldHandler", "TapListener", "install_taps", "tap_messages"]

FieldHandler = Callable[[list[str]], None]
"""Receives the raw fields of one message (``fields[0]`` is the message id)."""

_log = logging.getLogger(__name__)


class TapListener(Protocol):
    """What the adapter does with each tapped message, as a typed record."""

    def on_status(self, record: StatusRecord) -> None:
        """orderStatus (3)."""

    def on_error(self, record: ErrorRecord) -> None:
        """error (4): errors, warnings and notices."""

    def on_open_order(self, record: OpenOrderRecord) -> None:
        """openOrder (5), with the order state's status."""

    def on_contract_rules(self, record: ContractRules) -> None:
        """contractDetails (10)."""

    def on_execution(self, record: ExecutionRecord) -> None:
        """execDetails (11)."""

    def on_commission(self, record: CommissionRecord) -> None:
        """commissionReport (59)."""

    def on_position(self, record: PositionRecord) -> None:
        """position (61)."""

    def on_bad_message(self, msg_id: int, fields: list[str], error: BrokerProtocolError) -> None:
        """A tapped message did not have the expected layout (it is skipped)."""


def tap_messages(
    ib: ib_async.IB,
    listener: TapListener,
    *,
    tws_timezone: str,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Install the adapter's taps on ``ib``: parse each money-carrying message for ``listener``."""
    states = _capture_open_order_states(ib)

    def open_order(fields: list[str]) -> None:
        record = parse_open_order(fields)
        listener.on_open_order(dataclasses.replace(record, status=states.pop(record.order_id, "")))

    install_taps(
        ib,
        {
            3: lambda fields: listener.on_status(parse_order_status(fields)),
            4: lambda fields: listener.on_error(parse_error(fields)),
            5: open_order,
            10: lambda fields: listener.on_contract_rules(parse_contract_rules(fields)),
            11: lambda fields: listener.on_execution(
                parse_execution(fields, tws_timezone, received_at=clock())
            ),
            59: lambda fields: listener.on_commission(parse_commission(fields)),
            61: lambda fields: listener.on_position(parse_position(fields)),
        },
        on_bad_message=listener.on_bad_message,
    )


def _capture_open_order_states(ib: ib_async.IB) -> dict[int, str]:
    """Record ``OrderState.status`` per orderId as ib_async decodes each openOrder."""
    wrapper: Any = ib.wrapper
    original = wrapper.openOrder
    existing = getattr(original, "__autotrader_states__", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    states: dict[int, str] = {}

    def open_order(order_id: int, contract: Any, order: Any, state: Any) -> None:
        states[order_id] = str(getattr(state, "status", "") or "")
        original(order_id, contract, order, state)

    open_order.__autotrader_states__ = states  # type: ignore[attr-defined]
    wrapper.openOrder = open_order
    return states


def install_taps(
    ib: ib_async.IB,
    taps: Mapping[int, FieldHandler],
    *,
    on_bad_message: Callable[[int, list[str], BrokerProtocolError], None] | None = None,
) -> None:
    """Route the raw fields of each message id in ``taps`` to its handler, after ib_async's own."""
    handlers: dict[int, Any] = ib.client.decoder.handlers
    for msg_id, tap in taps.items():
        original = handlers[msg_id]
        if getattr(original, "__autotrader_tap__", False):
            continue  # already installed on this instance
        handlers[msg_id] = _wrap(original, tap, msg_id, on_bad_message)


def _wrap(
    original: Callable[[list[str]], None],
    tap: FieldHandler,
    msg_id: int,
    on_bad_message: Callable[[int, list[str], BrokerProtocolError], None] | None,
) -> Callable[[list[str]], None]:
    def handler(fields: list[str]) -> None:
        raw = list(fields)  # ib_async's handlers may consume the list
        try:
            original(fields)
        finally:
            try:
                tap(raw)
            except Exception as exc:
                error = exc if isinstance(exc, BrokerProtocolError) else _protocol_error(msg_id, raw, exc)
                _log.exception("TWS message %s could not be handled", msg_id)
                if on_bad_message is not None:
                    on_bad_message(msg_id, raw, error)

    handler.__autotrader_tap__ = True  # type: ignore[attr-defined]
    return handler


def _protocol_error(msg_id: int, fields: list[str], exc: Exception) -> BrokerProtocolError:
    error = BrokerProtocolError(
        f"TWS message {msg_id} could not be handled: {exc!r}", payload=fields, broker="ibkr"
    )
    error.__cause__ = exc
    return error
