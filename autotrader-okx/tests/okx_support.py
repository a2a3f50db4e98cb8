"""Test support: fake credentials, JSON helpers, and OKX payloads copied from protocols.md §2.

Payloads are [DOC] unless noted; values are the documentation's own. Tests that need a
variant (a partial fill, a live order) copy a documented payload and change the named
fields, with a "derived:" comment; nothing here was invented to make a test pass.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"
PAYLOADS = Path(__file__).parent / "payloads"
"""Documented OKX payloads (protocols.md §2), one file each, values unchanged."""
REST = "https://openapi.okx.com"

# Fake credentials (the secret is the sample from OKX's docs, used by the signing vectors).
API_KEY = "85d5e4c8-0000-4d8e-9b5b-fake00000001"
API_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
PASSPHRASE = "fake-Passphrase-1"


def load_json(text: str | bytes) -> Any:
    """JSON with Decimal numbers (never floats)."""
    return json.loads(text, parse_float=Decimal)


def recording(name: str) -> dict[str, Any]:
    """Load ``tests/recordings/<name>.json``."""
    loaded: dict[str, Any] = load_json((RECORDINGS / f"{name}.json").read_text())
    return loaded


def _payload(name: str) -> str:
    return (PAYLOADS / f"{name}.json").read_text()


# §2.3 place order reply [DOC]
PLACE_OK = _payload("place_ok")
# §2.3 cancel reply [DOC]
CANCEL_OK = _payload("cancel_ok")
# §2.3 amend reply [DOC] (comma before subCode restored, as the digest notes)
AMEND_OK = _payload("amend_ok")
# §2.3 order details [DOC]
ORDER_FILLED_MARKET = _payload("order_filled_market")
# §2.3 fills item [DOC]
FILL_ITEM = _payload("fill_item")
# §2.4 balance [DOC, abridged]
BALANCE = _payload("balance")
# §2.4 positions [DOC, abridged]
POSITIONS = _payload("positions")
# §2.5 orders channel push [DOC]
ORDERS_PUSH_FILLED = _payload("orders_push_filled")
# §2.7 server time [DOC]
TIME = _payload("time")
# §2.9 instruments [DOC]
INSTRUMENTS = _payload("instruments")
# §2.3 rejected place [FIX — nautilus_trader http_place_order_rejected.json]
PLACE_REJECTED_NOT_ACTIVATED = _payload("place_rejected_not_activated")
# §2.6 rate limit [FIX — nautilus http_error_rate_limit.json]
RATE_LIMITED = _payload("rate_limited")
# §2.8 invalid key [REC — nautilus http_error_invalid_access_key.json], HTTP 401
INVALID_KEY = _payload("invalid_key")
# §2.2 WS login replies [DOC]
WS_LOGIN_OK = _payload("ws_login_ok")
WS_LOGIN_FAILED = _payload("ws_login_failed")
