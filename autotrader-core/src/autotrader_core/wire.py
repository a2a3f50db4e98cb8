"""Wire readers: one way to read a broker payload field into a typed value.

Every adapter's ``parsing.py`` reads JSON fields into ``Decimal``, ``int``, ``str``,
enums, times and booleans, and must refuse what breaks the documented format with
a :class:`~autotrader_core.errors.BrokerProtocolError` that names the field (never
a bare ``KeyError`` or ``ValueError``). :class:`WireReader` does that once::

    ORDER = WireReader("okx", "order")

    price = ORDER.decimal(item, "px")                 # Decimal, never through float
    filled_at = ORDER.epoch_ms(item, "fillTime")      # aware UTC datetime
    side = ORDER.enum(item, "side", {"buy": OrderSide.BUY, "sell": OrderSide.SELL})
    fee = ORDER.optional_decimal(item, "fee")         # None for a missing, null or "" field

A failure is a :class:`WireFieldError` (a ``BrokerProtocolError``) carrying the
broker, the payload kind, the field and the payload. Payloads may be mappings
(JSON objects, keyed by name) or sequences (IBKR's positional fields, keyed by index).
Plain functions, no parsing library: these reads cost well under a microsecond each,
and the payloads are already decoded JSON (``json.loads(..., parse_float=Decimal)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from autotrader_core.decimals import decimal_from_wire
from autotrader_core.errors import BrokerProtocolError

__all__ = ["WireFieldError", "WireReader", "datetime_from_epoch_ms", "datetime_from_rfc3339"]

E = TypeVar("E")
M = TypeVar("M", bound=Enum)
Key = str | int
"""A field name (JSON object) or index (positional fields)."""

_MISSING = object()
_TRUE = frozenset({"true"})
_FALSE = frozenset({"false"})
_MAX_EPOCH_MS = 253_402_300_800_000  # 10000-01-01: past datetime's range, the slow path's error


class WireFieldError(BrokerProtocolError):
    """A payload field is missing or breaks the documented format.

    Attributes:
        field: The field's name (or index).
        kind: What the payload is (``"order"``, ``"fill"``...), when the reader was told.
    """

    def __init__(
        self, message: str, *, field: Key, kind: str | None, payload: Any = None, broker: str | None = None
    ) -> None:
        where = f"{kind} field {field!r}" if kind else f"field {field!r}"
        super().__init__(f"{where} {message}", payload=payload, broker=broker)
        self.field = field
        self.kind = kind


def datetime_from_epoch_ms(
    value: object,
    *,
    field: Key = "time",
    kind: str | None = None,
    payload: Any = None,
    broker: str | None = None,
) -> datetime:
    """Epoch milliseconds (an integer, or a string of digits) → aware UTC datetime."""
    millis = _integer(
        value, field=field, kind=kind, payload=payload, broker=broker, what="epoch milliseconds"
    )
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise WireFieldError(
            f"is out of range for epoch milliseconds: {value!r}",
            field=field,
            kind=kind,
            payload=payload,
            broker=broker,
        ) from None


def datetime_from_rfc3339(
    value: object,
    *,
    field: Key = "time",
    kind: str | None = None,
    payload: Any = None,
    broker: str | None = None,
) -> datetime:
    """RFC 3339 (``Z`` or an offset, any fraction length) → aware UTC datetime.

    Digits past the microsecond are truncated, never rounded (rounding could move a
    time across a second boundary). A time without an offset is refused: guessing
    the zone of a fill time is not ours to do.
    """
    if not isinstance(value, str):
        raise WireFieldError(
            f"must be an RFC 3339 string, got {type(value).__name__}",
            field=field,
            kind=kind,
            payload=payload,
            broker=broker,
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        text = f"{head}.{(fraction + '000000')[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or len(text) <= 10:  # a date alone is not a time
        raise WireFieldError(
            f"is not RFC 3339: {value!r}", field=field, kind=kind, payload=payload, broker=broker
        )
    if parsed.tzinfo is None:
        raise WireFieldError(
            f"has no UTC offset: {value!r}", field=field, kind=kind, payload=payload, broker=broker
        )
    return parsed.astimezone(UTC)


def _integer(
    value: object, *, field: Key, kind: str | None, payload: Any, broker: str | None, what: str = "an integer"
) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str):
        digits = value[1:] if value.startswith("-") else value
        if digits.isascii() and digits.isdigit():
            return int(value)
    raise WireFieldError(
        f"must be {what}, got {value!r}", field=field, kind=kind, payload=payload, broker=broker
    )


class WireReader:
    """Field readers bound to one broker (and optionally one payload kind).

    Args:
        broker: The adapter name put on every error.
        kind: What the payloads are (``"order"``, ``"fill"``, ``"execution report"``), named
            in every error; :meth:`of` makes a reader for another kind.
    """

    __slots__ = ("broker", "kind")

    def __init__(self, broker: str, kind: str | None = None) -> None:
        self.broker = broker
        self.kind = kind

    def of(self, kind: str) -> WireReader:
        """The same broker's reader for payloads of ``kind``."""
        return WireReader(self.broker, kind)

    def error(self, message: str, *, field: Key, payload: Any) -> WireFieldError:
        """The error this reader raises (for an adapter's own checks)."""
        return WireFieldError(message, field=field, kind=self.kind, payload=payload, broker=self.broker)

    # -- shapes ------------------------------------------------------------------------
    def mapping(self, value: Any) -> Mapping[str, Any]:
        """``value`` itself, checked to be a JSON object (the payload as a whole)."""
        if not isinstance(value, Mapping):
            kind = self.kind or "payload"
            raise BrokerProtocolError(f"{kind} must be a JSON object", payload=value, broker=self.broker)
        return value

    def field(self, payload: Any, key: Key) -> Any:
        """A required field, any type; missing → :class:`WireFieldError`."""
        # The hot path first: a decoded JSON object.
        value = payload.get(key, _MISSING) if type(payload) is dict else self._get(payload, key)
        if value is _MISSING:
            raise self.error("is missing", field=key, payload=payload)
        return value

    def array(self, payload: Any, key: Key) -> list[Any]:
        """A required JSON array."""
        value = self.field(payload, key)
        if not isinstance(value, list):
            raise self.error(f"must be an array, got {type(value).__name__}", field=key, payload=payload)
        return value

    # -- numbers -----------------------------------------------------------------------
    def decimal(self, payload: Any, key: Key) -> Decimal:
        """A required decimal string (or integer) → ``Decimal``; floats and non-numbers refused."""
        # field() inlined: this runs several times per market-data frame.
        value = payload.get(key, _MISSING) if type(payload) is dict else self._get(payload, key)
        if value is _MISSING:
            raise self.error("is missing", field=key, payload=payload)
        if type(value) is str and value.isascii() and "_" not in value:  # the hot path, inlined
            try:
                result = Decimal(value)
            except InvalidOperation:
                pass
            else:
                if result.is_finite():
                    return result
        try:
            return decimal_from_wire(value, field=str(key), payload=payload, broker=self.broker)
        except BrokerProtocolError:
            raise self.error(
                f"must be a finite decimal string, got {value!r}", field=key, payload=payload
            ) from None

    def optional_decimal(self, payload: Any, key: Key) -> Decimal | None:
        """Like :meth:`decimal`, but a missing, ``null`` or ``""`` field is ``None``."""
        value = self._get(payload, key)
        if value is _MISSING or value is None or value == "":
            return None
        return self.decimal(payload, key)

    def integer(self, payload: Any, key: Key) -> int:
        """A required integer: a JSON integer, an integral number, or a string of digits."""
        value = self.field(payload, key)
        if type(value) is int:  # the hot path (ids, times), inlined
            return value
        return _integer(value, field=key, kind=self.kind, payload=payload, broker=self.broker)

    def optional_integer(self, payload: Any, key: Key) -> int | None:
        """Like :meth:`integer`, but a missing, ``null`` or ``""`` field is ``None``."""
        value = self._get(payload, key)
        if value is _MISSING or value is None or value == "":
            return None
        return self.integer(payload, key)

    # -- text and choices --------------------------------------------------------------
    def text(self, payload: Any, key: Key, *, non_empty: bool = False) -> str:
        """A required string (``non_empty``: and not ``""``)."""
        value = payload.get(key, _MISSING) if type(payload) is dict else self._get(payload, key)  # field()
        if value is _MISSING:
            raise self.error("is missing", field=key, payload=payload)
        if type(value) is str and (value or not non_empty):  # the hot path, inlined
            return value
        if not isinstance(value, str):
            raise self.error(f"must be a string, got {type(value).__name__}", field=key, payload=payload)
        if non_empty and not value:
            raise self.error("must not be empty", field=key, payload=payload)
        return value

    def optional_text(self, payload: Any, key: Key) -> str | None:
        """A string, or ``None`` for a missing, ``null`` or ``""`` field."""
        value = self._get(payload, key)
        if value is _MISSING or value is None or value == "":
            return None
        return self.text(payload, key)

    def enum(self, payload: Any, key: Key, table: Mapping[str, E], *, fold_case: bool = False) -> E:
        """A string looked up in ``table`` (the broker's spelling → ours).

        Args:
            fold_case: Compare upper-cased (``table``'s keys must then be upper case).
        """
        value = self.text(payload, key)
        try:
            return table[value.upper() if fold_case else value]
        except KeyError:
            raise self.error(f"has an unknown value {value!r}", field=key, payload=payload) from None

    def enum_member(self, payload: Any, key: Key, enum: type[M]) -> M:
        """A string that is the value of a member of ``enum`` (when the broker spells it our way)."""
        value = self.field(payload, key)
        try:
            return enum(value)
        except ValueError:
            raise self.error(f"has an unknown value {value!r}", field=key, payload=payload) from None

    def boolean(self, payload: Any, key: Key) -> bool:
        """A JSON boolean, or the string ``"true"`` / ``"false"`` (any case); nothing else.

        ``bool("false")`` is ``True``: a lax reading of a flag such as ``reduce_only``
        or ``post_only`` would silently flip it, so every other value is refused.
        """
        value = self.field(payload, key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            folded = value.strip().lower()
            if folded in _TRUE:
                return True
            if folded in _FALSE:
                return False
        raise self.error(f'must be true, false, "true" or "false", got {value!r}', field=key, payload=payload)

    # -- times -------------------------------------------------------------------------
    def epoch_ms(self, payload: Any, key: Key) -> datetime:
        """Epoch milliseconds (integer or digit string) → aware UTC datetime."""
        value = self.field(payload, key)
        if type(value) is int and 0 <= value < _MAX_EPOCH_MS:  # the hot path, inlined
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        return datetime_from_epoch_ms(value, field=key, kind=self.kind, payload=payload, broker=self.broker)

    def optional_epoch_ms(self, payload: Any, key: Key) -> datetime | None:
        """Like :meth:`epoch_ms`, but a missing, ``null`` or ``""`` field is ``None``."""
        value = self._get(payload, key)
        if value is _MISSING or value is None or value == "":
            return None
        return self.epoch_ms(payload, key)

    def rfc3339(self, payload: Any, key: Key) -> datetime:
        """An RFC 3339 time → aware UTC datetime (see :func:`datetime_from_rfc3339`)."""
        return datetime_from_rfc3339(
            self.field(payload, key), field=key, kind=self.kind, payload=payload, broker=self.broker
        )

    def optional_rfc3339(self, payload: Any, key: Key) -> datetime | None:
        """Like :meth:`rfc3339`, but a missing, ``null`` or ``""`` field is ``None``."""
        value = self._get(payload, key)
        if value is _MISSING or value is None or value == "":
            return None
        return self.rfc3339(payload, key)

    # -- lookup ------------------------------------------------------------------------
    @staticmethod
    def _get(payload: Any, key: Key) -> Any:
        if isinstance(key, str):
            if isinstance(payload, Mapping):
                return payload.get(key, _MISSING)
            return _MISSING
        if isinstance(payload, Sequence) and not isinstance(payload, str) and 0 <= key < len(payload):
            return payload[key]
        return _MISSING
