"""Read the raw fields of selected TWS messages as ib_async decodes them.

ib_async's decoder converts prices and sizes to ``float`` before any callback
sees them.  We need the wire's decimal text, so we wrap the decoder's handler
for a few message ids *on our own IB instance* (``ib.client.decoder.handlers``
is a per-instance dict): each wrapper lets ib_async handle the message first,
so its own bookkeeping stays intact, then passes the untouched field list to us.
Nothing global is patched, and the user's event loop is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import ib_async
from autotrader_core.errors import BrokerProtocolError

__all__ = ["FieldHandler", "install_taps"]

FieldHandler = Callable[[list[str]], None]
"""Receives the raw fields of one message (``fields[0]`` is the message id)."""

_log = logging.getLogger(__name__)


def install_taps(ib: ib_async.IB, taps: Mapping[int, FieldHandler]) -> None:
    """Route the raw fields of each message id in ``taps`` to its handler, after ib_async's own."""
    handlers: dict[int, Any] = ib.client.decoder.handlers
    for msg_id, tap in taps.items():
        original = handlers[msg_id]
        if getattr(original, "__autotrader_tap__", False):
            continue  # already installed on this instance
        handlers[msg_id] = _wrap(original, tap, msg_id)


def _wrap(
    original: Callable[[list[str]], None], tap: FieldHandler, msg_id: int
) -> Callable[[list[str]], None]:
    def handler(fields: list[str]) -> None:
        raw = list(fields)  # ib_async's handlers may consume the list
        try:
            original(fields)
        finally:
            try:
                tap(raw)
            except BrokerProtocolError:
                _log.exception("TWS message %s breaks the expected layout", msg_id)

    handler.__autotrader_tap__ = True  # type: ignore[attr-defined]
    return handler
