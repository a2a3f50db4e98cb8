"""Load documented Coinbase payloads from ``recordings/payloads`` (each file names its source)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "recordings" / "payloads"


def load(name: str) -> Any:
    """The ``payload`` of ``recordings/payloads/<name>.json``, numbers as Decimal."""
    data = json.loads((PAYLOADS / f"{name}.json").read_text(), parse_float=Decimal)
    assert data["source"], f"{name} has no source"
    return data["payload"]


def load_text(name: str) -> str:
    """The payload re-serialised as JSON text (as it would come off the wire)."""
    return json.dumps(json.loads((PAYLOADS / f"{name}.json").read_text())["payload"])


KEY_NAME = "organizations/11111111-2222-3333-4444-555555555555/apiKeys/66666666-7777-8888-9999-000000000000"
"""A made-up CDP key name (the format of a real one, no real ids)."""
API = "https://api.coinbase.com/api/v3/brokerage"


def user_order(**changes: Any) -> dict[str, Any]:
    """The documented user-channel order object (protocols.md §3.5 [DOC]) with fields changed.

    Derived variants: only ids, status and the cumulative figures change; every
    field keeps the documented name and string encoding.
    """
    order = dict(
        json.loads((PAYLOADS / "ws_user_snapshot.json").read_text())["payload"]["events"][0]["orders"][0]
    )
    order.update(changes)
    return order


def user_message(sequence: int, event_type: str, *orders: dict[str, Any]) -> dict[str, Any]:
    """A ``user`` channel message (documented envelope) carrying ``orders`` in one event."""
    return {
        "channel": "user",
        "client_id": "",
        "timestamp": "2023-02-09T20:33:57.609931463Z",
        "sequence_num": sequence,
        "events": [{"type": event_type, "orders": list(orders)}],
    }


def heartbeat(sequence: int, counter: int) -> dict[str, Any]:
    """A documented ``heartbeats`` message with its counters set."""
    message = dict(json.loads((PAYLOADS / "ws_heartbeats.json").read_text())["payload"])
    message["sequence_num"] = sequence
    message["events"] = [dict(message["events"][0], heartbeat_counter=str(counter))]
    return message


def subscriptions(sequence: int = 0) -> dict[str, Any]:
    """The subscriptions confirmation (documented envelope) for user + heartbeats."""
    return {
        "channel": "subscriptions",
        "client_id": "",
        "timestamp": "2026-04-07T14:30:00.000000Z",
        "sequence_num": sequence,
        "events": [{"subscriptions": {"user": ["BTC-USD"], "heartbeats": ["heartbeats"]}}],
    }


def fill_item(**changes: Any) -> dict[str, Any]:
    """The documented fills item (protocols.md §3.3 [DOC]) with ids, side and amounts changed."""
    item = dict(json.loads((PAYLOADS / "fills_doc_item.json").read_text())["payload"]["fills"][0])
    item.update(changes)
    return item
