"""A loopback stand-in for OANDA v20 REST (documented shapes, protocols.md §4.3-4.4).

``GET /v3/accounts/{id}/summary`` and ``GET /v3/accounts/{id}/instruments`` answer the
adapter's recorded replies (``autotrader-oanda/tests/recordings/TC-INS-01.json``), and
``POST /v3/accounts/{id}/orders`` the documented reply of a MARKET order (HTTP 201,
``orderCreateTransaction`` + ``orderFillTransaction``; TC-ORD-01's reply, composed from
protocols.md §4.3/§4.5), with fresh transaction ids and the request's client id, units
and instrument echoed. Anything else answers 404 (logged on stderr).

Run: ``python standin.py <port>`` (prints ``READY <port>``).
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from standin_http import Reply, Routes, json_reply, serve  # noqa: E402

RECORDINGS = HERE.parent.parent / "autotrader-oanda" / "tests" / "recordings"
ACCOUNT = "101-004-1435156-001"
BASE = f"/v3/accounts/{ACCOUNT}"


def _recorded(scenario: str, label: str) -> dict[str, object]:
    recording = json.loads((RECORDINGS / f"{scenario}.json").read_text())
    (exchange,) = [x for x in recording["http"] if x["label"] == label]
    reply: dict[str, object] = exchange["response"]["json"]
    return reply


SUMMARY = _recorded("TC-INS-01", "summary")
INSTRUMENTS = _recorded("TC-INS-01", "instruments")
FILLED = _recorded("TC-ORD-01", "submit")
_ids = itertools.count(7000, 2)


def _summary(_: dict[str, str], __: bytes) -> Reply:
    return json_reply(SUMMARY, headers={"RequestID": "24928148617851745"})


def _instruments(_: dict[str, str], __: bytes) -> Reply:
    return json_reply(INSTRUMENTS, headers={"RequestID": "24928148617851745"})


def _create(_: dict[str, str], body: bytes) -> Reply:
    order = json.loads(body or b"{}")["order"]
    reply = copy.deepcopy(FILLED)
    create, fill = reply["orderCreateTransaction"], reply["orderFillTransaction"]  # type: ignore[index]
    order_id = next(_ids)
    client = order.get("clientExtensions", {})
    create.update(
        id=str(order_id), batchID=str(order_id), units=order["units"], instrument=order["instrument"]
    )
    create["clientExtensions"] = client
    fill.update(
        id=str(order_id + 1),
        batchID=str(order_id),
        orderID=str(order_id),
        clientOrderID=client.get("id", ""),
        units=order["units"],
        requestedUnits=order["units"],
        instrument=order["instrument"],
    )
    fill["tradeOpened"] = dict(fill["tradeOpened"], tradeID=str(order_id + 1), units=order["units"])
    reply["relatedTransactionIDs"] = [str(order_id), str(order_id + 1)]
    reply["lastTransactionID"] = str(order_id + 1)
    return json_reply(reply, status="201 Created", headers={"RequestID": "24928148617851745"})


ROUTES: Routes = {
    ("GET", f"{BASE}/summary"): _summary,
    ("GET", f"{BASE}/instruments"): _instruments,
    ("POST", f"{BASE}/orders"): _create,
}

if __name__ == "__main__":
    serve(ROUTES, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
