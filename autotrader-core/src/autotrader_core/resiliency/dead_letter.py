"""Dead letters: operations that failed for good, kept for an operator to look at.

In memory and bounded (oldest dropped first); a :class:`DeadLetterStore` can
be attached so the durability work can persist every letter as it arrives.
Letters hold only safe fields: never credentials, never raw broker payloads.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from autotrader_core.errors import AutotraderError
from autotrader_core.models import Order, utc_now
from autotrader_core.resiliency.retry import attempts_of

__all__ = ["DeadLetter", "DeadLetterQueue", "DeadLetterStore"]

logger = logging.getLogger(__name__)

_MAX_MESSAGE = 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One operation that failed for good."""

    operation: str
    """``"submit"``, ``"cancel"``, ``"modify"``…"""
    client_order_id: str
    symbol: str
    error_type: str
    """Class name of the final error, e.g. ``"RequestTimeout"``."""
    error_message: str
    attempts: int = 1
    timestamp: datetime = field(default_factory=utc_now)
    payload: Mapping[str, str] = field(default_factory=dict)
    """Safe order fields (side, type, quantity, prices, status, ids, error code) as strings."""

    @classmethod
    def from_error(
        cls,
        operation: str,
        order: Order,
        error: BaseException,
        *,
        attempts: int | None = None,
        timestamp: datetime | None = None,
    ) -> DeadLetter:
        """Build a letter from the order and its final error.

        ``attempts`` defaults to what the retry helpers recorded on the error (else 1).
        """
        payload: dict[str, str] = {
            "side": order.side.value,
            "order_type": order.order_type.value,
            "quantity": str(order.quantity),
            "time_in_force": order.time_in_force.value,
            "status": order.status.value,
            "filled_quantity": str(order.filled_quantity),
        }
        optional = {
            "limit_price": order.limit_price,
            "stop_price": order.stop_price,
            "broker_order_id": order.broker_order_id,
            "broker": order.broker or None,
            "tag": order.tag,
        }
        payload.update({key: str(value) for key, value in optional.items() if value is not None})
        if isinstance(error, AutotraderError):
            if error.code is not None:
                payload["error_code"] = error.code
            if error.broker is not None:
                payload["error_broker"] = error.broker
        if attempts is None:
            attempts = attempts_of(error) or 1
        return cls(
            operation=operation,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            error_type=type(error).__name__,
            error_message=str(error)[:_MAX_MESSAGE],
            attempts=attempts,
            timestamp=timestamp if timestamp is not None else utc_now(),
            payload=payload,
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready dict (timestamp in ISO 8601) for journals and status displays."""
        return {
            "operation": self.operation,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "attempts": self.attempts,
            "timestamp": self.timestamp.isoformat(),
            "payload": dict(self.payload),
        }


@runtime_checkable
class DeadLetterStore(Protocol):
    """Durable sink for dead letters (implemented by the durability work)."""

    def append(self, letter: DeadLetter) -> None:
        """Persist one letter; called synchronously by :meth:`DeadLetterQueue.put`."""


class DeadLetterQueue:
    """Bounded in-memory queue of dead letters, oldest first.

    Args:
        maxlen: How many letters to keep; the oldest is dropped when full.
        store: Optional durable sink that receives every letter put.
    """

    def __init__(self, maxlen: int = 1000, *, store: DeadLetterStore | None = None) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self._letters: deque[DeadLetter] = deque(maxlen=maxlen)
        self._store = store
        self.dropped = 0
        """Letters pushed out because the queue was full."""
        self.total = 0
        """Letters ever put."""

    @property
    def maxlen(self) -> int:
        """Capacity of the queue."""
        maxlen = self._letters.maxlen
        assert maxlen is not None
        return maxlen

    def put(self, letter: DeadLetter) -> None:
        """Add a letter (and hand it to the store, if any)."""
        if len(self._letters) == self._letters.maxlen:
            self.dropped += 1
        self._letters.append(letter)
        self.total += 1
        logger.warning(
            "dead letter: %s %s %s failed after %d attempt(s): %s",
            letter.operation,
            letter.symbol,
            letter.client_order_id,
            letter.attempts,
            letter.error_type,
        )
        if self._store is not None:
            try:
                self._store.append(letter)
            except Exception:  # keep the in-memory copy even if persisting fails
                logger.exception("dead letter store failed for %s", letter.client_order_id)

    def drain(self) -> list[DeadLetter]:
        """Remove and return every letter, oldest first."""
        letters = list(self._letters)
        self._letters.clear()
        return letters

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(list(self._letters))  # a copy: puts during iteration are safe

    def __repr__(self) -> str:
        return f"<DeadLetterQueue {len(self._letters)}/{self.maxlen} dropped={self.dropped}>"
