"""Plain JSON from the core's models: Decimals as strings, datetimes as ISO 8601, enums as values.

A Decimal never becomes a float on the way out (``0.1`` stays ``"0.1"``), so what the
page and API clients show is exactly what the OMS holds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["dumps", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` (dataclasses, mappings, sequences, Decimals, ...) to JSON-ready data.

    Decimals become strings, datetimes ISO 8601 strings, enums their value, dataclasses
    dicts of their fields (properties are not included). Anything else unknown becomes
    its ``str()``, never an error: a status read must not fail on a new field type.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False).encode()
