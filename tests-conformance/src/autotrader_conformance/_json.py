"""JSON in and out without floats: numbers are read as Decimal and written back verbatim."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads", "to_plain"]


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every non-integer number as :class:`~decimal.Decimal`."""
    return json.loads(text, parse_float=Decimal)


def dumps(value: Any) -> str:
    """Serialise JSON compactly; a Decimal is written as the number it holds (``1.50`` stays ``1.50``).

    The standard encoder cannot write a Decimal as a bare number, so this one is
    a small recursive writer; it keeps recorded broker payloads byte-faithful.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value!r} as JSON")
        return str(value)
    if isinstance(value, int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in a recording payload: use a decimal string or Decimal")
    if isinstance(value, dict):
        items = (f"{json.dumps(str(key), ensure_ascii=False)}:{dumps(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_plain(value: Any) -> Any:
    """Copy ``value`` with every Decimal turned into the float the stdlib JSON parser would produce.

    Only used to build pytest-httpx ``match_json`` specs: pytest-httpx parses the
    request body with the plain ``json`` module, so a recorded ``1.5`` must be
    compared as the float ``1.5``. Money never flows through this function.
    """
    if isinstance(value, Decimal):
        return json.loads(str(value))
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value
