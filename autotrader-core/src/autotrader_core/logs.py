"""Structured logs: one key-value record per order event, as JSON when asked.

We use the standard library's ``logging`` with a JSON formatter rather than
structlog: it adds no dependency to the core, and every handler, filter and
log shipper users already have keeps working. Fields go in ``extra=``; the
formatter emits them as top-level JSON keys.

Secrets are redacted twice over: ``SecretStr`` values print as ``**********``
by construction, and any field whose *name* looks like a credential
(``api_key``, ``secret``, ``passphrase``, ``token``, ``signature``,
``authorization``, ``private_key``) is replaced before formatting.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TextIO

from pydantic import SecretBytes, SecretStr

__all__ = ["REDACTED", "JsonFormatter", "configure_logging", "redact"]

REDACTED = "**********"
_SECRET_WORDS = (
    "secret",
    "passphrase",
    "password",
    "token",
    "signature",
    "authorization",
    "api_key",
    "private_key",
)
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(value: Any, *, name: str = "") -> Any:
    """Return ``value`` safe to log: secrets masked, Decimals and enums as strings."""
    if _is_secret_name(name) or isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line: time, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = redact(value, name=key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(*, json_output: bool, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send autotrader's logs to ``stream`` (stderr), as JSON lines or as plain text."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_output:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request line (signed query strings included) at INFO: keep that
    # out of the order audit trail unless debugging.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
