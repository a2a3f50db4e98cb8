"""Line-delimited JSON between the remote adapter and the broker server (Decimals as strings)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from autotrader_core import errors

__all__ = ["error_from_wire", "error_to_wire", "pack", "unpack"]


def pack(message: dict[str, Any]) -> bytes:
    """One message as one line."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def unpack(line: bytes) -> dict[str, Any]:
    """Parse one line (floats never appear; if they did they would stay Decimal)."""
    message = json.loads(line, parse_float=Decimal)
    if not isinstance(message, dict):
        raise errors.BrokerProtocolError("crash broker sent a non-object line")
    return message


def error_to_wire(exc: errors.AutotraderError) -> dict[str, Any]:
    """The error's class name and text, so the client raises the same type."""
    return {
        "type": type(exc).__name__,
        "message": exc.message,
        "code": None if exc.code is None else str(exc.code),
    }


def error_from_wire(body: dict[str, Any]) -> errors.AutotraderError:
    """Rebuild the typed error the server raised."""
    cls = getattr(errors, str(body.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.AutotraderError)):
        cls = errors.BrokerProtocolError
    return cls(str(body.get("message")), broker="paper", code=body.get("code"))
