"""What a starting gateway concludes from the event stream's last messages (``_catch_up``), without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import nats.js.errors
import pytest
from autotrader_core.control import AccountId
from autotrader_core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from autotrader_core.events import OrderAccepted, OrderCanceled, OrderFilled
from autotrader_core.journal import JournalEntry
from autotrader_core.models import Fill, Order
from autotrader_nats import _catch_up
from autotrader_nats._catch_up import event_of_entry, missed_entries, stored_event_seqs
from autotrader_nats.wire import dumps, join_events

pytestmark = pytest.mark.anyio

ORDERS = "at.evt.order."
ACCOUNT = AccountId("paper", "paper", "default")
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass
class FakeStream:
    """A stream's messages by sequence (a gap: deleted), and how many were read back."""

    messages: dict[int, tuple[str, bytes]]
    first: int = 1
    reads: list[int] = field(default_factory=list)

    async def stream_info(self, name: str) -> Any:
        last = max(self.messages, default=self.first - 1)
        return SimpleNamespace(state=SimpleNamespace(first_seq=self.first, last_seq=last))

    async def get_msg(self, name: str, seq: int) -> Any:
        self.reads.append(seq)
        if seq not in self.messages:
            raise nats.js.errors.NotFoundError
        subject, data = self.messages[seq]
        return SimpleNamespace(subject=subject, data=data)


def order_message(*seqs: int | None) -> tuple[str, bytes]:
    bodies = [dumps({"type": "order", **({} if s is None else {"seq": s})}) for s in seqs]
    return ORDERS + "grid", bodies[0] if len(bodies) == 1 else join_events(ACCOUNT, bodies)


BALANCES = ("at.evt.account", dumps({"type": "balances", "balances": []}))


async def test_the_floor_is_the_oldest_record_the_last_messages_name() -> None:
    stream = FakeStream({1: order_message(3, 4), 2: BALANCES, 3: order_message(7), 5: order_message(9, 10)})
    assert await stored_event_seqs(stream, "S", ORDERS) == (3, {3, 4, 7, 9, 10})  # seq 4: deleted, skipped


async def test_only_the_last_messages_are_read_back() -> None:
    messages = {i: order_message(i * 10) for i in range(1, 400)}
    stream = FakeStream(messages)
    floor, stored = await stored_event_seqs(stream, "S", ORDERS)
    assert len(stream.reads) == _catch_up.SCANNED_MESSAGES
    assert floor == (400 - _catch_up.SCANNED_MESSAGES) * 10 and max(stored) == 3990


async def test_a_stream_that_never_lost_a_message_and_holds_no_order_event_misses_every_journaled_one() -> (
    None
):
    assert await stored_event_seqs(FakeStream({1: BALANCES, 2: BALANCES}), "S", ORDERS) == (0, set())
    assert await stored_event_seqs(FakeStream({}), "S", ORDERS) == (0, set())


@pytest.mark.parametrize(
    "stream",
    [
        FakeStream({1: order_message(None), 2: BALANCES}),  # written before events named their records
        FakeStream({7: BALANCES}, first=7),  # its order events expired or were purged
        FakeStream(dict.fromkeys(range(1, _catch_up.SCANNED_AT_MOST + 10), BALANCES)),  # none near its end
    ],
    ids=["records-unnamed", "messages-lost", "none-near-the-end"],
)
async def test_nothing_is_said_when_the_stream_cannot_tell(stream: FakeStream) -> None:
    floor, _ = await stored_event_seqs(stream, "S", ORDERS)
    assert floor is None
    assert len(stream.reads) <= _catch_up.SCANNED_AT_MOST


def an_entry(seq: int, kind: str = "event", payload: object = None) -> JournalEntry:
    return JournalEntry(seq, kind, "c1", T0, payload)


async def test_missed_entries_are_those_neither_stored_nor_queued() -> None:
    async def after_the_floor() -> AsyncIterator[JournalEntry]:  # Journal.entries(after_seq=3)
        for seq in range(4, 12):
            yield an_entry(seq)

    missed = await missed_entries(after_the_floor(), stored={3, 5, 6}, skip=[10])
    assert [e.seq for e in missed] == [4, 7, 8, 9, 11]


def an_order(status: OrderStatus) -> Order:
    return Order(
        client_order_id="c1",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.5"),
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal("90"),
        status=status,
        broker_order_id="B1",
        created_at=T0,
        updated_at=T0,
    )


def test_an_event_record_is_published_again_as_the_event_it_recorded() -> None:
    fill = Fill("t1", "c1", "BTCUSDT", OrderSide.BUY, Decimal("0.5"), Decimal("90"), Decimal("0.01"), "USDT")
    entry = an_entry(4, "event", OrderFilled(fill))
    assert event_of_entry(entry, an_order(OrderStatus.FILLED)) == OrderFilled(fill)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderStatus.CANCELED, OrderCanceled("c1", None, T0)),
        (OrderStatus.ACCEPTED, OrderAccepted("c1", "B1", T0)),
        (OrderStatus.FILLED, None),  # its fills have rows of their own
    ],
)
def test_a_report_record_is_published_again_as_the_state_the_order_settled_in(
    status: OrderStatus, expected: object
) -> None:
    entry = an_entry(4, "report")
    assert event_of_entry(entry, an_order(status)) == expected
