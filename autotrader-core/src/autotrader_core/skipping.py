"""One bad payload item never costs the others.

A list reply (open orders, a fills page, balances, instruments) or a stream
can carry one item an adapter cannot parse: an order type added after the
adapter was written, a fill with price 0, a garbage frame. Raising would lose
every other item (and end the stream). Instead the adapter parses item by item
with :func:`parse_each`, and each bad item is *reported*: a typed
:class:`~autotrader_core.errors.BrokerProtocolError`, an ERROR log line, a call
to ``AdapterTelemetry.bad_item`` and a :class:`BadItem` record holding the raw
item with secrets removed. A skipped item that may hold a fill says so loudly:
a fill is never dropped without an alert.

Usage in an adapter::

    self.bad_items = BadItemLog("okx", telemetry=lambda: self.telemetry)
    reports = self.bad_items.parse_each(rows, parse_order, what="open order")
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from autotrader_core.errors import BrokerProtocolError
from autotrader_core.logs import REDACTED, redact
from autotrader_core.models import utc_now

if TYPE_CHECKING:
    from autotrader_core.adapter import AdapterTelemetry

__all__ = ["PARSE_ERRORS", "BadItem", "BadItemLog", "as_protocol_error", "parse_each", "scrub"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

PARSE_ERRORS: tuple[type[Exception], ...] = (
    BrokerProtocolError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    InvalidOperation,
)
"""What a parser of one item may raise on an item off the documented shape."""

_MAX_LOGGED = 500
# Credential-looking field names, compared without case, "_" or "-" (apiKey, api-key, api_key…);
# wider than logs.redact's list because raw broker payloads spell them every way.
_SECRET_PARTS = (
    "secret",
    "passphrase",
    "password",
    "token",
    "signature",
    "authorization",
    "apikey",
    "privatekey",
)
_SECRET_NAMES = frozenset({"sign", "jwt", "key"})


def scrub(value: Any) -> Any:
    """``value`` with every credential-named field masked, at any depth (then :func:`redact`)."""
    if isinstance(value, dict):
        return {str(k): REDACTED if _is_secret(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return redact(value)


def _is_secret(name: str) -> bool:
    folded = name.lower().replace("_", "").replace("-", "")
    return folded in _SECRET_NAMES or any(part in folded for part in _SECRET_PARTS)


@dataclass(frozen=True, slots=True)
class BadItem:
    """One payload item an adapter skipped because it could not parse it."""

    broker: str
    what: str
    """What the item was meant to be: ``"open order"``, ``"fill"``, ``"stream frame"``…"""
    error: BrokerProtocolError
    raw: Any
    """The item as received, secrets removed (credential-named fields masked)."""
    may_hold_fill: bool = False
    """The item may have been a fill: the OMS did not get it, a person must look."""
    timestamp: datetime = field(default_factory=utc_now)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready dict for journals and status displays."""
        return {
            "broker": self.broker,
            "what": self.what,
            "error_type": type(self.error).__name__,
            "error_message": str(self.error)[:1000],
            "raw": self.raw,
            "may_hold_fill": self.may_hold_fill,
            "timestamp": self.timestamp.isoformat(),
        }


def parse_each(
    items: Iterable[Any],
    parse: Callable[[Any], T],
    *,
    what: str,
    on_bad: Callable[[Any, BrokerProtocolError], None],
    broker: str | None = None,
) -> list[T]:
    """``[parse(item) for item in items]``, except that an item ``parse`` refuses is skipped.

    ``on_bad(raw_item, error)`` is called for each refused item, with the failure as a
    :class:`BrokerProtocolError` (a ``KeyError`` or ``ValueError`` from a parser is
    wrapped in one naming ``what``). Errors outside :data:`PARSE_ERRORS` propagate.
    """
    parsed: list[T] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except PARSE_ERRORS as exc:
            on_bad(item, as_protocol_error(exc, what=what, raw=item, broker=broker))
    return parsed


def as_protocol_error(
    exc: BaseException, *, what: str, raw: Any, broker: str | None = None
) -> BrokerProtocolError:
    """A :class:`BrokerProtocolError` for ``exc`` carrying ``raw`` (scrubbed) as its payload.

    A parser's own ``BrokerProtocolError`` keeps its message and code; its payload
    (which may be a raw sub-object) is replaced by the scrubbed item.
    """
    if isinstance(exc, BrokerProtocolError):
        text = exc.message.split(" (payload: ", 1)[0]
        error = BrokerProtocolError(text, payload=scrub(raw), broker=exc.broker or broker, code=exc.code)
    else:
        error = BrokerProtocolError(
            f"cannot parse {what}: {type(exc).__name__}: {exc}", payload=scrub(raw), broker=broker
        )
    error.__cause__ = exc
    return error


class BadItemLog:
    """An adapter's record of skipped payload items (bounded, oldest dropped first).

    Args:
        broker: The adapter's name, put on every record and error.
        telemetry: Returns the adapter's current telemetry (looked up on each report:
            the engine installs its own after the adapter is built).
        maxlen: How many records to keep.
    """

    def __init__(
        self,
        broker: str,
        *,
        telemetry: Callable[[], AdapterTelemetry] | None = None,
        maxlen: int = 500,
    ) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self.broker = broker
        self._telemetry = telemetry
        self._items: deque[BadItem] = deque(maxlen=maxlen)
        self.total = 0
        """Items ever reported."""

    def report(self, what: str, raw: Any, error: BaseException, *, may_hold_fill: bool = False) -> BadItem:
        """Record, log (ERROR) and signal one skipped item; returns the record."""
        safe = scrub(raw)
        typed = as_protocol_error(error, what=what, raw=safe, broker=self.broker)
        item = BadItem(self.broker, what, typed, safe, may_hold_fill=may_hold_fill)
        self._items.append(item)
        self.total += 1
        shown = repr(safe)
        if len(shown) > _MAX_LOGGED:
            shown = shown[:_MAX_LOGGED] + "…"
        alert = " A FILL MAY BE MISSING: reconcile this account." if may_hold_fill else ""
        logger.error(
            "%s: skipped one %s the adapter cannot parse (%s).%s Item: %s",
            self.broker,
            what,
            typed,
            alert,
            shown,
            extra={"broker": self.broker, "bad_item": what, "may_hold_fill": may_hold_fill},
        )
        if self._telemetry is not None:
            try:
                self._telemetry().bad_item(what, typed, may_hold_fill=may_hold_fill)
            except Exception:  # telemetry must never cost the stream; the log line above stands
                logger.exception("%s: telemetry failed while reporting a bad %s", self.broker, what)
        return item

    def parse_each(
        self, items: Iterable[Any], parse: Callable[[Any], T], *, what: str, may_hold_fill: bool = False
    ) -> list[T]:
        """:func:`parse_each` reporting every refused item here."""

        def on_bad(raw: Any, error: BrokerProtocolError) -> None:
            self.report(what, raw, error, may_hold_fill=may_hold_fill)

        return parse_each(items, parse, what=what, on_bad=on_bad, broker=self.broker)

    def drain(self) -> list[BadItem]:
        """Remove and return every record, oldest first."""
        items = list(self._items)
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BadItem]:
        return iter(list(self._items))

    def __repr__(self) -> str:
        return f"<BadItemLog {self.broker} {len(self._items)} kept, {self.total} reported>"
