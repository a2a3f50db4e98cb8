"""DeadLetterQueue: bounded, safe fields only, optional durable store."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import InsufficientFunds, RequestTimeout
from autotrader_core.models import Order
from autotrader_core.resiliency import DeadLetter, DeadLetterQueue, DeadLetterStore, RetryPolicy, retry

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_order(cid: str = "at1") -> Order:
    return Order(
        client_order_id=cid,
        symbol="ETHUSDT",
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=Decimal("1.50"),
        limit_price=Decimal("3000.1"),
        broker="binance",
        tag="mean-revert",
    )


def letter(cid: str = "at1") -> DeadLetter:
    return DeadLetter.from_error("submit", make_order(cid), RequestTimeout("no reply"), timestamp=WHEN)


def test_from_error_keeps_safe_order_fields_and_the_error() -> None:
    error = InsufficientFunds("not enough ETH", broker="binance", code=-2010, broker_message="insufficient")
    dead = DeadLetter.from_error("submit", make_order(), error, attempts=2, timestamp=WHEN)
    assert dead.operation == "submit"
    assert dead.client_order_id == "at1"
    assert dead.symbol == "ETHUSDT"
    assert dead.error_type == "InsufficientFunds"
    assert "not enough ETH" in dead.error_message
    assert dead.attempts == 2
    assert dead.timestamp == WHEN
    assert dead.payload == {
        "side": "sell",
        "order_type": "limit",
        "quantity": "1.50",
        "time_in_force": "gtc",
        "status": "pending_submit",
        "filled_quantity": "0",
        "limit_price": "3000.1",
        "broker": "binance",
        "tag": "mean-revert",
        "error_code": "-2010",
        "error_broker": "binance",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        dead.attempts = 3  # type: ignore[misc]


@pytest.mark.anyio
async def test_attempts_default_to_what_retry_recorded() -> None:
    error = RequestTimeout("t")

    async def always_times_out() -> None:
        raise error

    async def no_sleep(_: float) -> None:
        return None

    with pytest.raises(RequestTimeout):
        await retry(always_times_out, RetryPolicy(max_attempts=4), sleep=no_sleep)
    assert DeadLetter.from_error("cancel", make_order(), error).attempts == 4
    assert DeadLetter.from_error("cancel", make_order(), RequestTimeout("fresh")).attempts == 1


def test_as_dict_is_json_ready() -> None:
    data = letter().as_dict()
    assert json.loads(json.dumps(data))["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert data["error_type"] == "RequestTimeout"


def test_queue_is_bounded_and_drops_the_oldest() -> None:
    queue = DeadLetterQueue(maxlen=3)
    for i in range(5):
        queue.put(letter(f"at{i}"))
    assert len(queue) == 3
    assert [d.client_order_id for d in queue] == ["at2", "at3", "at4"]
    assert queue.dropped == 2
    assert queue.total == 5
    assert queue.maxlen == 3
    assert "3/3" in repr(queue)


def test_drain_empties_the_queue_oldest_first() -> None:
    queue = DeadLetterQueue()
    queue.put(letter("a"))
    queue.put(letter("b"))
    assert [d.client_order_id for d in queue.drain()] == ["a", "b"]
    assert len(queue) == 0
    assert queue.drain() == []


def test_iterating_while_putting_is_safe() -> None:
    queue = DeadLetterQueue()
    queue.put(letter("a"))
    for _ in queue:
        queue.put(letter("b"))
    assert len(queue) == 2


class ListStore:
    def __init__(self, fail: bool = False) -> None:
        self.letters: list[DeadLetter] = []
        self.fail = fail

    def append(self, letter: DeadLetter) -> None:
        if self.fail:
            raise OSError("disk full")
        self.letters.append(letter)


def test_store_receives_every_letter() -> None:
    store = ListStore()
    assert isinstance(store, DeadLetterStore)
    queue = DeadLetterQueue(maxlen=1, store=store)
    queue.put(letter("a"))
    queue.put(letter("b"))
    assert [d.client_order_id for d in store.letters] == ["a", "b"]  # the store keeps what memory drops


def test_failing_store_keeps_the_in_memory_copy() -> None:
    queue = DeadLetterQueue(store=ListStore(fail=True))
    queue.put(letter("a"))
    assert len(queue) == 1


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        DeadLetterQueue(maxlen=0)
