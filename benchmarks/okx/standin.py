"""A loopback stand-in for OKX v5 REST (documented shapes, protocols.md §2.3, §2.7, §2.9).

``GET /api/v5/public/time``, ``GET /api/v5/public/instruments`` (one spot instrument,
BTC-USDT, the documented object) and ``POST /api/v5/trade/order`` (the documented
success reply: HTTP 200, ``code "0"`` and one ``data`` item with ``sCode "0"``, echoing
the request's ``clOrdId``). OKX's place reply carries no fills (they come on the private
stream), so one kind of order is measured. Anything else CCXT asks for at start-up
answers an empty ``data`` list (logged on stderr so the benchmark shows it).

Run: ``python standin.py <port>`` (prints ``READY <port>``).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from standin_http import Reply, Routes, json_reply, serve

INSTRUMENT = {
    "alias": "", "auctionEndTime": "", "baseCcy": "BTC", "category": "1", "ctMult": "", "ctType": "", "ctVal": "",
    "ctValCcy": "", "contTdSwTime": "1704876947000", "expTime": "", "futureSettlement": False, "groupId": "1",
    "instFamily": "", "instId": "BTC-USDT", "instType": "SPOT", "lever": "10", "listTime": "1606468572000",
    "lotSz": "0.00000001", "maxIcebergSz": "9999999999.0000000000000000", "maxLmtAmt": "1000000",
    "maxLmtSz": "9999999999", "maxMktAmt": "1000000", "maxMktSz": "", "maxStopSz": "",
    "maxTriggerSz": "9999999999.0000000000000000", "maxTwapSz": "9999999999.0000000000000000", "minSz": "0.00001",
    "optType": "", "openType": "call_auction", "preMktSwTime": "", "quoteCcy": "USDT", "tradeQuoteCcyList": ["USDT"],
    "settleCcy": "", "state": "live", "ruleType": "normal", "stk": "", "tickSz": "0.1", "uly": "",
    "instIdCode": 1000000000, "instCategory": "1",
    "upcChg": [{"param": "tickSz", "newValue": "0.0001", "effTime": "1704876947000"}],
}  # fmt: skip
_order_ids = itertools.count(312269865356374016)


def _ms() -> str:
    return str(int(time.time() * 1000))


def _time(_: dict[str, str], __: bytes) -> Reply:
    return json_reply({"code": "0", "msg": "", "data": [{"ts": _ms()}]})


def _instruments(params: dict[str, str], _: bytes) -> Reply:
    data = [INSTRUMENT] if params.get("instType", "SPOT") == "SPOT" else []
    return json_reply({"code": "0", "msg": "", "data": data})


def _place(_: dict[str, str], body: bytes) -> Reply:
    request = json.loads(body or b"{}")
    now = _ms()
    item = {
        "clOrdId": request.get("clOrdId", ""),
        "ordId": str(next(_order_ids)),
        "tag": request.get("tag", ""),
        "ts": now,
        "sCode": "0",
        "sMsg": "Order placed",
        "subCode": "",
    }
    return json_reply({"code": "0", "msg": "", "data": [item], "inTime": now + "000", "outTime": now + "100"})


def _empty(_: dict[str, str], __: bytes) -> Reply:
    return json_reply({"code": "0", "msg": "", "data": []})


ROUTES: Routes = {
    ("GET", "/api/v5/public/time"): _time,
    ("GET", "/api/v5/public/instruments"): _instruments,
    ("POST", "/api/v5/trade/order"): _place,
    # CCXT's load_markets asks for these too; empty lists are documented answers.
    ("GET", "/api/v5/asset/currencies"): _empty,
}

if __name__ == "__main__":
    serve(ROUTES, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
