"""Decimal conversions at the edges: user input and broker payloads.

Floats are refused everywhere: ``Decimal(0.1)`` is not ``Decimal("0.1")`` and
that difference is money.  Broker payloads carry decimal *strings*; those are
converted directly, never through ``float``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from autotrader_core.errors import BrokerProtocolError, InvalidOrder

__all__ = [
    "decimal_from_wire",
    "loads_exact",
    "optional_decimal_from_wire",
    "require_decimal",
    "round_to_step",
    "wire_field",
]


def require_decimal(
    value: object,
    *,
    field: str,
    positive: bool = True,
    allow_zero: bool = False,
) -> Decimal:
    """Validate user input as a finite ``Decimal``.

    Accepts ``Decimal``, ``int`` and decimal strings; refuses ``float``, ``bool``,
    NaN, infinities and (by default) zero and negative values. Strings must be
    ASCII without ``_``: ``Decimal`` itself reads ``"٩٩"`` and ``"１２"`` as 99 and 12
    and ``"1_5"`` as 15, none of which a trader meant to type. Surrounding whitespace
    is refused, not stripped.

    Raises:
        InvalidOrder: with a message naming the field and what to pass instead.
    """
    if isinstance(value, (bool, float)):
        raise InvalidOrder(
            f"{field} must be a Decimal, int or decimal string, not {type(value).__name__} "
            f"({value!r}); floats lose precision: use Decimal({str(value)!r})"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if value != value.strip():  # refused, not stripped: " 101" is a paste or a parsing bug
            raise InvalidOrder(f"{field} has leading or trailing whitespace: {value!r}")
        if not _plain_number(value):
            raise InvalidOrder(f"{field} is not a plain decimal number (ASCII digits, no '_'): {value!r}")
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InvalidOrder(f"{field} is not a decimal number: {value!r}") from None
    else:
        raise InvalidOrder(f"{field} must be a Decimal, int or decimal string, not {type(value).__name__}")
    if not result.is_finite():
        raise InvalidOrder(f"{field} must be a finite number, got {value!r}")
    if positive and (result < 0 or (result == 0 and not allow_zero)):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise InvalidOrder(f"{field} must be {bound}, got {value!r}")
    return result


def _plain_number(text: str) -> bool:
    """ASCII and no digit-group underscores (what every broker and user means by a number).

    Two string checks, not a regex: this runs on every decimal field of every payload.
    """
    return text.isascii() and "_" not in text


def decimal_from_wire(
    value: object, *, field: str, payload: Any = None, broker: str | None = None
) -> Decimal:
    """Convert a broker's decimal string (or integer) to ``Decimal``.

    Raises:
        BrokerProtocolError: for floats, non-numbers and non-finite values, with the payload.
    """
    if isinstance(value, str):
        try:
            if not _plain_number(value):
                raise InvalidOperation
            result = Decimal(value)
        except InvalidOperation:
            raise BrokerProtocolError(
                f"field {field!r} is not a decimal string: {value!r}", payload=payload, broker=broker
            ) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    else:
        raise BrokerProtocolError(
            f"field {field!r} must be a decimal string, got {type(value).__name__}",
            payload=payload,
            broker=broker,
        )
    if not result.is_finite():
        raise BrokerProtocolError(f"field {field!r} is not finite: {value!r}", payload=payload, broker=broker)
    return result


def optional_decimal_from_wire(
    value: object, *, field: str, payload: Any = None, broker: str | None = None
) -> Decimal | None:
    """Like :func:`decimal_from_wire` but maps ``None`` and ``""`` to ``None``."""
    if value is None or value == "":
        return None
    return decimal_from_wire(value, field=field, payload=payload, broker=broker)


def wire_field(payload: Mapping[str, Any], key: str, *, broker: str | None = None) -> Any:
    """Read a required field from a broker payload.

    Raises:
        BrokerProtocolError: when the field is missing, with the payload attached
            (never a bare ``KeyError``).
    """
    try:
        return payload[key]
    except (KeyError, TypeError):
        raise BrokerProtocolError(f"missing field {key!r}", payload=payload, broker=broker) from None


def round_to_step(value: Decimal, step: Decimal, *, mode: str = "nearest") -> Decimal:
    """Round ``value`` to a multiple of ``step``.

    Args:
        mode: ``"nearest"`` (half up), ``"down"`` or ``"up"``.
    """
    if step <= 0:
        return value
    units = value / step
    if mode == "down":
        whole = units.to_integral_value(rounding="ROUND_FLOOR")
    elif mode == "up":
        whole = units.to_integral_value(rounding="ROUND_CEILING")
    else:
        whole = units.to_integral_value(rounding="ROUND_HALF_UP")
    result = whole * step
    exponent = step.as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        result = result.quantize(step)  # keep the step's scale: 0.10 not 0.1000
    return result


_EXACT = json.JSONDecoder(parse_float=Decimal)
"""The standard library's parser with every JSON float as a ``Decimal`` (one, built once:
``json.loads(text, parse_float=...)`` builds a decoder per call)."""


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every number written with a fraction or an exponent as a ``Decimal``.

    orjson parses first (four to five times faster than the standard library); only text in
    which it found a float — an amount written as a JSON number — is parsed again by the
    standard library with those numbers as ``Decimal``, so ``0.1`` stays exactly ``0.1``.
    What orjson refuses and the standard library reads (an integer past 64 bits, ``NaN``)
    is read as before.

    Raises:
        ValueError: not JSON.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if not _has_float(value):
            return value
    return _EXACT.decode(text if isinstance(text, str) else text.decode())


def _has_float(value: object) -> bool:
    # One loop over the parsed value, not a generator per container: every message comes here.
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            return True
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False
