"""Label values with bounded cardinality.

Every distinct label value is a new time series in Prometheus, kept for weeks.
Free text (reject reasons, reconnect reasons, alert sources) must therefore be
reduced to a short stable code, and every label gets a cap on distinct values:
past it, new values are folded into ``other``.
"""

from __future__ import annotations

import re
import threading

__all__ = ["DEFAULT_ACCOUNT", "OTHER", "UNKNOWN", "BoundedLabel", "reason_code", "slug"]

OTHER = "other"
"""Label value for everything past a label's cap."""
UNKNOWN = "unknown"
DEFAULT_ACCOUNT = "default"
"""The ``account`` label when a hook call names no account (the engine's default label too)."""
"""Label value for an empty or unusable input."""

_MAX_CODE_LENGTH = 48
_MAX_WORDS = 4
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_RISK_REASON = re.compile(r"\|\s*reason=([A-Za-z0-9_]+)")
_BROKER_CODE = re.compile(r"\|\s*code=([^|\s]+)")
_NUMERIC = re.compile(r"^[+-]?\d+$")
# A word worth keeping is plain letters: numbers, prices, ids and quoted symbols are
# exactly what makes one reason text differ from the next.
_WORD = re.compile(r"^[a-z][a-z_-]*$")
_MAX_WORD_LENGTH = 20


def slug(text: str, *, max_length: int = _MAX_CODE_LENGTH) -> str:
    """``text`` as a lowercase ``a-z0-9_`` token (``"Half Open!"`` → ``"half_open"``)."""
    value = _NON_SLUG.sub("_", text.lower()).strip("_")[:max_length].rstrip("_")
    return value or UNKNOWN


def reason_code(reason: str, *, client_order_id: str | None = None, code: str | None = None) -> str:
    """Reduce a free-text refusal reason to a short, stable code.

    ``code`` is the hook's own ``code`` argument when the engine had one (a risk
    check's code, or the broker's error code): a symbolic code is the label
    (``"INSUFFICIENT_FUND"`` → ``"insufficient_fund"``), a numeric one is appended
    to the reason's words as below. Without it, the codes are read from the text:

    * a risk refusal (``"... | reason=MAX_ORDER_NOTIONAL"``) gives its own code
      (``"max_order_notional"``);
    * otherwise the first plain words of the message before any ``:`` or ``|``
      (numbers, quoted values and ids dropped), plus the broker's error code when
      the error carries one (``"insufficient_balance_2010"``);
    * the client order id is never part of the result.
    """
    if client_order_id:
        reason = reason.replace(client_order_id, " ")
    code = code.strip() if code else None
    if code and not _NUMERIC.match(code):
        return slug(code)
    risk = _RISK_REASON.search(reason)
    if risk is not None:
        return slug(risk.group(1))
    head = reason.split("|", 1)[0].split(":", 1)[0].lower()
    words: list[str] = []
    for raw in head.split():
        word = raw.strip(".,;()[]{}")
        if _WORD.match(word) and len(word) <= _MAX_WORD_LENGTH:
            words.append(word)
            if len(words) == _MAX_WORDS:
                break
    words_code = slug(" ".join(words)) if words else UNKNOWN
    if code is None:
        found = _BROKER_CODE.search(reason)
        code = found.group(1) if found is not None else None
    return slug(f"{words_code}_{code}") if code else words_code


class BoundedLabel:
    """Remembers up to ``limit`` distinct values of one label; the rest become :data:`OTHER`.

    Thread-safe: hooks run on the event loop while scrapes run on the server thread,
    and several engines in several threads may share one exporter.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"label limit must be at least 1, got {limit}")
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        """The label value to use for ``value``."""
        if not value:
            return UNKNOWN
        if value in self._seen:  # the hot path: no lock for a value already admitted
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
            return value

    def __len__(self) -> int:
        return len(self._seen)
