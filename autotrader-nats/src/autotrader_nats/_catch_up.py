"""Order events the journal holds but the event stream never stored: found at a gateway's start.

The gateway publishes an order event a moment after the engine applied (and journaled) it; a
gateway killed in between leaves the event in its journal only, and the engine does not tell
anyone of the events it replays at start. Every published order event names its journal record
(``"seq"``), so the next gateway reads the stream's last messages, takes the oldest record they
name as the floor, and publishes again every order event journaled after that floor which none
of them holds — with the order as it is now (and, for a fill, the position as it is now).

Consumers already take an event twice without harm (a fill reaches ``on_fill`` once, by its trade
id; an older order state never replaces a newer one), so a doubt is settled by publishing.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

import nats
from autotrader_core.enums import OrderStatus
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderExpired, OrderRejected
from autotrader_core.journal import JournalEntry
from autotrader_core.models import Order

from autotrader_nats.wire import event_bodies, loads

__all__ = ["SCANNED_AT_MOST", "SCANNED_MESSAGES", "event_of_entry", "missed_entries", "stored_event_seqs"]

SCANNED_MESSAGES = 256
"""Order-event messages read back from the stream's end: the newest events published before a
crash are among them (a gateway publishes its events in the order it applied them)."""
SCANNED_AT_MOST = 4096
"""Messages read back in all (balances messages come between the order events)."""


async def stored_event_seqs(js: Any, stream: str, order_subjects: str) -> tuple[int | None, set[int]]:
    """What the event stream holds of the journal: a floor, and the records named above it.

    Reads back up to :data:`SCANNED_MESSAGES` order-event messages (and at most
    :data:`SCANNED_AT_MOST` messages in all) from the end of ``stream``.

    Args:
        js: The JetStream context.
        stream: The event stream.
        order_subjects: The order-event subjects' common prefix (``...evt.order.``).

    Returns:
        ``(floor, stored)``: every journal record of an order event after ``floor`` is held by
        the stream if and only if it is in ``stored``. The floor is the oldest record the last
        messages name; ``0`` when the stream never lost a message and holds no order event at
        all (every journaled event is missing); ``None`` when nothing can be said — its last
        order events were written before events named their records, it holds none and has lost
        messages (expired, purged), or none was found within :data:`SCANNED_AT_MOST` messages:
        nothing is published again then.
    """
    info = await js.stream_info(stream)
    seq, first = int(info.state.last_seq), int(info.state.first_seq)
    found: set[int] = set()
    orders = read = 0
    while seq >= max(first, 1) and orders < SCANNED_MESSAGES and read < SCANNED_AT_MOST:
        read += 1
        try:
            msg = await js.get_msg(stream, seq)
        except nats.js.errors.NotFoundError:  # deleted or expired
            seq -= 1
            continue
        seq -= 1
        if not str(msg.subject).startswith(order_subjects):
            continue  # balances
        orders += 1
        try:
            bodies = event_bodies(loads(msg.data or b""))
        except (ValueError, TypeError):
            continue
        found.update(body["seq"] for body in bodies if type(body.get("seq")) is int)
    if found:
        return min(found), found
    whole_stream = seq < max(first, 1)  # read back to its first message, not stopped by a limit
    if orders == 0 and whole_stream and first <= 1:
        return 0, found
    return None, found


def event_of_entry(entry: JournalEntry, order: Order) -> OrderEvent | None:
    """The order event to publish again for a journal record: the event it recorded, or — for a
    broker report the order was settled from — the event of the state it settled in (``None``:
    nothing to say, e.g. a report of a fill, whose fills have records of their own)."""
    if entry.kind == "event":
        event: OrderEvent = entry.payload
        return event
    status = order.status
    if status is OrderStatus.CANCELED:
        return OrderCanceled(order.client_order_id, None, order.updated_at)
    if status is OrderStatus.EXPIRED:
        return OrderExpired(order.client_order_id, order.updated_at)
    if status is OrderStatus.REJECTED:
        return OrderRejected(order.client_order_id, order.reject_reason or "rejected", None, order.updated_at)
    if status is OrderStatus.FILLED:
        return None
    return OrderAccepted(order.client_order_id, order.broker_order_id, order.updated_at)


async def missed_entries(
    entries: AsyncIterable[JournalEntry], stored: set[int], skip: Iterable[int]
) -> list[JournalEntry]:
    """The records of ``entries`` (the journal's after the floor: :meth:`Journal.entries
    <autotrader_core.journal.Journal.entries>`) whose sequence is neither in ``stored`` nor in
    ``skip`` (events of this run, already queued), in journal order."""
    leave = set(skip) | stored
    return [entry async for entry in entries if entry.seq not in leave]
