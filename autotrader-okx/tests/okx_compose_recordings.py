"""Compose tests/recordings/TC-*.json from OKX's documented payloads (tests/payloads, protocols.md §2).

``python tests/okx_compose_recordings.py`` rewrites them (``--only TC-ORD-01`` one,
``--check`` fails with a diff when a committed file differs; test_okx_recordings_composed.py
runs it in CI). The shape is the kit's (autotrader_conformance.composing): shared builders
first, then one function per recording, registered with ``@recording("<scenario id>")``.

No demo-account capture was possible when these were written (no network, no keys), so
each recording is assembled from the documented example payloads; every change to a
documented payload is a named field in this module and is listed in the recording's
``source``. When real demo traffic is captured, replace the recordings with it and drop
their functions here (docs/writing-an-adapter.md §7). Other files in tests/recordings
(TC-MD-*, TC-FLT-05, readme/) are written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autotrader_conformance.composing import Composer

T = Path(__file__).resolve().parent
COMPOSER = Composer(T / "recordings")
recording = COMPOSER.recording


def P(name: str) -> Any:
    """A fresh copy of a documented payload."""
    return json.loads((T / "payloads" / f"{name}.json").read_text())


REST = "https://openapi.okx.com"
SIGNED = {
    "OK-ACCESS-KEY": "<ANY>",
    "OK-ACCESS-SIGN": "<ANY>",
    "OK-ACCESS-TIMESTAMP": "<ANY>",
    "OK-ACCESS-PASSPHRASE": "<ANY>",
    "x-simulated-trading": "1",
}
SRC = "https://www.okx.com/docs-v5/en/ (OKX API v5 docs), as digested in protocols.md"
ORDER_ENTRY = {**SIGNED, "expTime": "<ANY>"}
"""Headers of place and amend: signed, plus the ``expTime`` request header OKX documents for them."""
EXPTIME_SOURCE = (
    " expTime: OKX docs 'Transaction timeouts' (REST request header on place/amend, ms epoch; "
    "protocols.md §2.2); its value is ours (signed timestamp + request_expiry_ms), matched as <ANY>."
)


def time_ex() -> dict[str, Any]:
    return {
        "label": "server time",
        "note": "connect() syncs the clock; protocols.md §2.7 [DOC]",
        "request": {"method": "GET", "url": f"{REST}/api/v5/public/time", "params": {}},
        "response": {"status": 200, "json": P("time")},
    }


def place_ok(cl: str, ord_id: str) -> dict[str, Any]:
    body: dict[str, Any] = P("place_ok")
    body["data"][0].update(clOrdId=cl, ordId=ord_id)
    return body


def submit_ex(
    order_body: dict[str, Any],
    reply: Any,
    *,
    status: int = 200,
    label: str = "submit",
    note: str | None = None,
) -> dict[str, Any]:
    ex: dict[str, Any] = {
        "label": label,
        "request": {
            "method": "POST",
            "url": f"{REST}/api/v5/trade/order",
            "headers": ORDER_ENTRY,
            "json": order_body,
        },
        "response": {"status": status, "json": reply},
    }
    if note:
        ex["note"] = note
    return ex


def order_obj(**changes: Any) -> dict[str, Any]:
    """The documented order object (§2.3 order details) with named fields changed."""
    item: dict[str, Any] = P("order_filled_market")["data"][0]
    item.update(changes)
    return item


def live_limit(cl: str, ord_id: str, side: str, px: str, sz: str, **more: Any) -> dict[str, Any]:
    return order_obj(
        clOrdId=cl,
        ordId=ord_id,
        side=side,
        ordType="limit",
        px=px,
        sz=sz,
        state="live",
        accFillSz="0",
        avgPx="",
        fillPx="",
        fillSz="0",
        fillTime="",
        tradeId="",
        fee="0",
        feeCcy="BTC" if side == "buy" else "USDT",
        tgtCcy="",
        **more,
    )


def get_order_ex(
    params: dict[str, Any], item: dict[str, Any], label: str = "query", note: str | None = None
) -> dict[str, Any]:
    ex: dict[str, Any] = {
        "label": label,
        "request": {
            "method": "GET",
            "url": f"{REST}/api/v5/trade/order",
            "params": params,
            "headers": SIGNED,
        },
        "response": {"status": 200, "json": {"code": "0", "data": [item], "msg": ""}},
    }
    if note:
        ex["note"] = note
    return ex


LOGIN = {
    "expect": {
        "op": "login",
        "args": [{"apiKey": "<ANY>", "passphrase": "<ANY>", "timestamp": "<ANY>", "sign": "<ANY>"}],
    },
    "reply": [P("ws_login_ok")],
}
SUBS = [
    {"channel": "orders", "instType": "SPOT"},
    {"channel": "account"},
    {"channel": "positions", "instType": "ANY"},
]
SUBSCRIBE = {
    "expect": {"op": "subscribe", "args": SUBS},
    "reply": [{"id": "<ECHO:id>", "event": "subscribe", "arg": arg, "connId": "a4d3ae55"} for arg in SUBS],
}


def push(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = P("orders_push_filled")
    body["data"][0].update(changes)
    return body


COMPOSED = (
    "composed: assembled by tests/okx_compose_recordings.py from OKX's documented example payloads "
    "(tests/payloads, protocols.md §2); every change to a documented payload is named in source"
)
"""No OKX flow here was captured from the broker: each recording says so (the kit requires it)."""


def finish(rec: dict[str, Any]) -> dict[str, Any]:
    """The recording as written: id first, provenance (COMPOSED unless given) after source."""
    provenance = rec.pop("provenance", COMPOSED)
    if any("expTime" in ex["request"].get("headers", {}) for ex in rec.get("http", [])):
        rec["source"] += EXPTIME_SOURCE
    rec = {"id": rec["id"], **{k: v for k, v in rec.items() if k != "id"}}
    ordered: dict[str, Any] = {}
    for key, value in rec.items():
        ordered[key] = value
        if key == "source":
            ordered["provenance"] = provenance
    return ordered


CL = "atmc8x2k1q7zr1"  # client order ids in the core generator's format (<= 24 lowercase alnum)


@recording("TC-CON-01")
def tc_con_01() -> dict[str, Any]:
    """TC-CON-01: connect syncs the clock, disconnect twice."""
    return finish(
        {
            "id": "TC-CON-01",
            "description": "connect() syncs the clock with the public time endpoint; disconnect twice.",
            "source": f"{SRC} §2.7 [DOC] public time",
            "input": {},
            "expect": {},
            "http": [time_ex()],
        }
    )


@recording("TC-INS-01")
def tc_ins_01() -> dict[str, Any]:
    """TC-INS-01: tradable instruments."""
    return finish(
        {
            "id": "TC-INS-01",
            "description": "Spot instruments with tickSz/lotSz/minSz as exact decimals.",
            "source": f"{SRC} §2.9 [DOC] GET /api/v5/public/instruments response, unchanged",
            "input": {"symbol": "BTC-USDT"},
            "expect": {
                "tick_size": "0.1",
                "lot_size": "0.00000001",
                "min_quantity": "0.00001",
                "min_notional": "0",
                "base": "BTC",
                "quote": "USDT",
                "asset_class": "crypto_spot",
            },
            "http": [
                time_ex(),
                {
                    "label": "instruments",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/public/instruments",
                        "params": {"instType": "SPOT"},
                    },
                    "response": {"status": 200, "json": P("instruments")},
                },
            ],
        }
    )


@recording("TC-BAL-01")
def tc_bal_01() -> dict[str, Any]:
    """TC-BAL-01: balances."""
    return finish(
        {
            "id": "TC-BAL-01",
            "description": "Trading-account balance: total = cashBal, available = availBal.",
            "source": f"{SRC} §2.4 [DOC, abridged] GET /api/v5/account/balance, unchanged",
            "input": {},
            "expect": {
                "balances": {"USDT": {"total": "4850.435693622894", "available": "4834.317093622894"}}
            },
            "http": [
                time_ex(),
                {
                    "label": "balance",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/account/balance",
                        "params": {},
                        "headers": SIGNED,
                    },
                    "response": {"status": 200, "json": P("balance")},
                },
            ],
        }
    )


@recording("TC-POS-01")
def tc_pos_01() -> dict[str, Any]:
    """TC-POS-01: positions."""
    return finish(
        {
            "id": "TC-POS-01",
            "description": "An isolated-margin BTC-USDT position (posSide net: pos carries the sign).",
            "source": f"{SRC} §2.4 [DOC, abridged] GET /api/v5/account/positions, unchanged",
            "input": {},
            "expect": {"positions": {"BTC-USDT": {"quantity": "0.00190433573", "average_price": "62961.4"}}},
            "http": [
                time_ex(),
                {
                    "label": "positions",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/account/positions",
                        "params": {},
                        "headers": SIGNED,
                    },
                    "response": {"status": 200, "json": P("positions")},
                },
            ],
        }
    )


@recording("TC-ORD-01")
def tc_ord_01() -> dict[str, Any]:
    """TC-ORD-01: market sell, fill on the stream."""
    cl = "atmc8x2k1q7zr2"
    ord_id = "452197707845865472"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "sell",
        "ordType": "market",
        "sz": "0.001",
        "tgtCcy": "base_ccy",
    }
    return finish(
        {
            "id": "TC-ORD-01",
            "description": "Market sell of 0.001 BTC; accepted by REST, filled (taker) on the orders channel.",
            "source": f"{SRC} §2.3 [DOC] place reply, §2.5 [DOC] orders push. Derived: clOrdId/ordId set to this "
            "order; the push's ordType market, tgtCcy base_ccy, px empty, execType T (taker); "
            "fill size, price and fee unchanged from the documented push.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "sell",
                "quantity": "0.001",
                "client_order_id": cl,
                "order_type": "market",
            },
            "expect": {
                "fill_quantity": "0.001",
                "fill_price": "31527.1",
                "fee": "0.02522168",
                "fee_currency": "USDT",
            },
            "http": [time_ex(), submit_ex(body, place_ok(cl, ord_id))],
            "stream": {
                "auto_reply": {"ping": "pong"},
                "connections": [
                    [
                        LOGIN,
                        SUBSCRIBE,
                        {"after_http": "submit"},
                        {"push": push(clOrdId=cl, ordType="market", tgtCcy="base_ccy", px="", execType="T")},
                    ]
                ],
            },
        }
    )


@recording("TC-ORD-02")
def tc_ord_02() -> dict[str, Any]:
    """TC-ORD-02: limit lifecycle."""
    cl = "atmc8x2k1q7zr3"
    ord_id = "1752588852617379840"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.001",
    }
    cancel_reply = P("cancel_ok")
    cancel_reply["data"][0].update(clOrdId=cl, ordId=ord_id)
    return finish(
        {
            "id": "TC-ORD-02",
            "description": "Limit buy rests (state live), is found by clOrdId, canceled by ordId; the cancel reply "
            "only acknowledges, so the order is queried again and is canceled.",
            "source": f"{SRC} §2.3 [DOC] place/cancel replies and order object; price/size from the documented "
            "orders-pending excerpt (px 13013.5, sz 0.001). Derived: clOrdId/ordId, state live/canceled, "
            "fill fields empty.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.001",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {},
            "http": [
                time_ex(),
                submit_ex(body, place_ok(cl, ord_id)),
                get_order_ex(
                    {"instId": "BTC-USDT", "clOrdId": cl}, live_limit(cl, ord_id, "buy", "13013.5", "0.001")
                ),
                {
                    "label": "cancel",
                    "request": {
                        "method": "POST",
                        "url": f"{REST}/api/v5/trade/cancel-order",
                        "headers": SIGNED,
                        "json": {"instId": "BTC-USDT", "ordId": ord_id},
                    },
                    "response": {"status": 200, "json": cancel_reply},
                },
                get_order_ex(
                    {"instId": "BTC-USDT", "clOrdId": cl},
                    live_limit(cl, ord_id, "buy", "13013.5", "0.001", cancelSource="1")
                    | {"state": "canceled"},
                    label="query after cancel",
                ),
            ],
        }
    )


@recording("TC-ORD-03")
def tc_ord_03() -> dict[str, Any]:
    """TC-ORD-03: by client and broker id."""
    cl = "atmc8x2k1q7zr4"
    ord_id = "1752588852617379841"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.001",
    }
    item = live_limit(cl, ord_id, "buy", "13013.5", "0.001")
    return finish(
        {
            "id": "TC-ORD-03",
            "description": "The same resting limit order found by clOrdId and by ordId.",
            "source": f"{SRC} §2.3 [DOC] place reply, GET /api/v5/trade/order (ordId or clOrdId). Derived: ids, "
            "state live, px/sz from the orders-pending excerpt, fill fields empty.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.001",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {},
            "http": [
                time_ex(),
                submit_ex(body, place_ok(cl, ord_id)),
                get_order_ex({"instId": "BTC-USDT", "clOrdId": cl}, item, label="query by clOrdId"),
                get_order_ex({"instId": "BTC-USDT", "ordId": ord_id}, item, label="query by ordId"),
            ],
        }
    )


@recording("TC-ORD-04")
def tc_ord_04() -> dict[str, Any]:
    """TC-ORD-04: open orders."""
    orders = [
        ("atmc8x2k1q7zr5", "1752588852617379842", "buy", "13013.5", "0.001"),
        ("atmc8x2k1q7zr6", "1752588852617379843", "sell", "99999.9", "0.002"),
    ]
    http = [time_ex()]
    for cl, oid, side, px, sz in orders:
        http.append(
            submit_ex(
                {
                    "instId": "BTC-USDT",
                    "tdMode": "cash",
                    "clOrdId": cl,
                    "side": side,
                    "ordType": "limit",
                    "px": px,
                    "sz": sz,
                },
                place_ok(cl, oid),
            )
        )
    http.append(
        {
            "label": "open orders",
            "request": {
                "method": "GET",
                "url": f"{REST}/api/v5/trade/orders-pending",
                "params": {"instType": "SPOT", "instId": "BTC-USDT", "limit": "100"},
                "headers": SIGNED,
            },
            "response": {
                "status": 200,
                "json": {
                    "code": "0",
                    "msg": "",
                    "data": [live_limit(cl, oid, side, px, sz) for cl, oid, side, px, sz in reversed(orders)],
                },
            },
        }
    )
    return finish(
        {
            "id": "TC-ORD-04",
            "description": "Two resting limit orders listed by orders-pending (newest first).",
            "source": f"{SRC} §2.3 [DOC] place reply; orders-pending items are the documented order object. Derived: "
            "ids, sides, px/sz, state live, fill fields empty.",
            "input": {
                "symbol": "BTC-USDT",
                "orders": [
                    {"client_order_id": cl, "side": side, "quantity": sz, "limit_price": px}
                    for cl, oid, side, px, sz in orders
                ],
            },
            "expect": {},
            "http": http,
        }
    )


@recording("TC-ORD-05")
def tc_ord_05() -> dict[str, Any]:
    """TC-ORD-05: native amend."""
    cl = "atmc8x2k1q7zr7"
    ord_id = "1752588852617379844"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.001",
    }
    amend_reply = P("amend_ok")
    amend_reply["data"][0].update(clOrdId=cl, ordId=ord_id, reqId="")
    return finish(
        {
            "id": "TC-ORD-05",
            "description": "Native amend-order of a resting limit (new total size and price); the reply only "
            "acknowledges, the order query shows the new terms.",
            "source": f"{SRC} §2.3 [DOC] amend-order request/reply (newSz is the new total size). Derived: ids, "
            "order object with the amended sz/px, state live.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.001",
                "limit_price": "13013.5",
                "client_order_id": cl,
                "new_quantity": "0.002",
                "new_limit_price": "13000.1",
            },
            "expect": {},
            "http": [
                time_ex(),
                submit_ex(body, place_ok(cl, ord_id)),
                {
                    "label": "amend",
                    "request": {
                        "method": "POST",
                        "url": f"{REST}/api/v5/trade/amend-order",
                        "headers": ORDER_ENTRY,
                        "json": {"instId": "BTC-USDT", "ordId": ord_id, "newSz": "0.002", "newPx": "13000.1"},
                    },
                    "response": {"status": 200, "json": amend_reply},
                },
                get_order_ex(
                    {"instId": "BTC-USDT", "clOrdId": cl},
                    live_limit(cl, ord_id, "buy", "13000.1", "0.002"),
                    label="query after amend",
                ),
            ],
        }
    )


@recording("TC-ERR-01")
def tc_err_01() -> dict[str, Any]:
    """TC-ERR-01: insufficient funds."""
    cl = "atmc8x2k1q7zr8"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "1000",
    }
    rej = P("place_rejected_not_activated")
    rej["data"][0].update(
        clOrdId=cl, sCode="51008", sMsg="Order failed. Insufficient USDT balance in account."
    )
    return finish(
        {
            "id": "TC-ERR-01",
            "description": "A buy larger than the USDT balance: HTTP 200, code 1, item sCode 51008.",
            "source": f"{SRC} §2.3 [FIX nautilus http_place_order_rejected.json] rejection envelope; §2.8 code "
            "51008 'Order failed. Insufficient {ccy} balance'. Derived: clOrdId, sCode/sMsg.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "1000",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {"code": "51008"},
            "http": [time_ex(), submit_ex(body, rej)],
        }
    )


@recording("TC-ERR-02")
def tc_err_02() -> dict[str, Any]:
    """TC-ERR-02: unknown order."""
    cl = "atmc8x2k1q7zr9"
    cancel_fail = P("cancel_ok")
    cancel_fail.update(code="1", msg="All operations failed")
    cancel_fail["data"][0].update(
        clOrdId=cl, ordId="", sCode="51400", sMsg="Cancellation failed as the order does not exist."
    )
    return finish(
        {
            "id": "TC-ERR-02",
            "description": "Query (51603) and cancel (51400) of an order OKX does not know.",
            "source": f"{SRC} §2.8 codes 51603 'Order does not exist' and 51400 'Cancel failed'; cancel envelope "
            "from §2.3 [DOC] with code 1 and the failed item. Query reply: top-level code with empty data.",
            "input": {"symbol": "BTC-USDT", "client_order_id": cl},
            "expect": {},
            "http": [
                time_ex(),
                {
                    "label": "query",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/trade/order",
                        "params": {"instId": "BTC-USDT", "clOrdId": cl},
                        "headers": SIGNED,
                    },
                    "response": {
                        "status": 200,
                        "json": {"code": "51603", "msg": "Order does not exist", "data": []},
                    },
                },
                {
                    "label": "cancel",
                    "request": {
                        "method": "POST",
                        "url": f"{REST}/api/v5/trade/cancel-order",
                        "headers": SIGNED,
                        "json": {"instId": "BTC-USDT", "clOrdId": cl},
                    },
                    "response": {"status": 200, "json": cancel_fail},
                },
            ],
        }
    )


@recording("TC-ERR-03")
def tc_err_03() -> dict[str, Any]:
    """TC-ERR-03: invalid order (lot size)."""
    cl = "atmc8x2k1q7zra"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.000000015",
    }
    rej = P("place_rejected_not_activated")
    rej["data"][0].update(
        clOrdId=cl, sCode="51121", sMsg="Order quantity must be a multiple of the lot size."
    )
    return finish(
        {
            "id": "TC-ERR-03",
            "description": "Size not a multiple of lotSz 0.00000001: OKX refuses with 51121.",
            "source": f"{SRC} §2.3 rejection envelope [FIX nautilus]; §2.8 code 51121; §2.9 lotSz rule. Derived: "
            "clOrdId, sCode/sMsg.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.000000015",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {"code": "51121"},
            "http": [time_ex(), submit_ex(body, rej)],
        }
    )


@recording("TC-ERR-04")
def tc_err_04() -> dict[str, Any]:
    """TC-ERR-04: bad credentials."""
    return finish(
        {
            "id": "TC-ERR-04",
            "description": "Unknown API key: HTTP 401 with code 50111 on the first signed request.",
            "source": f"{SRC} §2.8 [REC nautilus http_error_invalid_access_key.json] body, HTTP 401, no data key.",
            "input": {
                "secret_values": [
                    "85d5e4c8-0000-4d8e-9b5b-fake00000001",
                    "22582BD0CFF14C41EDBF1AB98506286D",
                    "fake-Passphrase-1",
                ]
            },
            "expect": {"code": "50111"},
            "http": [
                time_ex(),
                {
                    "label": "balance",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/account/balance",
                        "params": {},
                        "headers": SIGNED,
                    },
                    "response": {"status": 401, "json": P("invalid_key")},
                },
            ],
        }
    )


@recording("TC-ERR-05")
def tc_err_05() -> dict[str, Any]:
    """TC-ERR-05: malformed reply."""
    cl = "atmc8x2k1q7zrb"
    ord_id = "1752588852617379845"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.001",
    }
    truncated = json.dumps(place_ok(cl, ord_id), separators=(",", ":"))[:60]
    ex = submit_ex(body, None)
    ex["response"] = {"status": 200, "text": truncated}
    ex["note"] = "the documented place reply cut off after 60 bytes (connection lost mid-body)"
    return finish(
        {
            "id": "TC-ERR-05",
            "description": "The place reply arrives truncated (not JSON): BrokerProtocolError; the order is then "
            "found resting by clOrdId.",
            "source": f"{SRC} §2.3 [DOC] place reply (truncated on purpose) and order object. Derived: ids, state "
            "live, fill fields empty.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.001",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {},
            "http": [
                time_ex(),
                ex,
                get_order_ex(
                    {"instId": "BTC-USDT", "clOrdId": cl},
                    live_limit(cl, ord_id, "buy", "13013.5", "0.001"),
                    label="lookup",
                ),
            ],
        }
    )


@recording("TC-RES-01")
def tc_res_01() -> dict[str, Any]:
    """TC-RES-01: rate limited."""
    return finish(
        {
            "id": "TC-RES-01",
            "description": "HTTP 429 {code 50011} without Retry-After (OKX documents none): the adapter waits one "
            "2 s rate-limit window, then the balance request succeeds.",
            "source": f"{SRC} §2.6 [FIX nautilus http_error_rate_limit.json] body with HTTP 429; no rate-limit "
            "headers are documented (§2.6 ⚠); §2.4 [DOC] balance.",
            "input": {},
            "expect": {"retry_after": "2"},
            "http": [
                time_ex(),
                {
                    "label": "rate limited",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/account/balance",
                        "params": {},
                        "headers": SIGNED,
                    },
                    "response": {"status": 429, "json": P("rate_limited")},
                },
                {
                    "label": "balance",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/account/balance",
                        "params": {},
                        "headers": SIGNED,
                    },
                    "response": {"status": 200, "json": P("balance")},
                },
            ],
        }
    )


def unknown_outcome(sid: str, cl: str, ord_id: str, failure: dict[str, Any], what: str) -> dict[str, Any]:
    """TC-RES-02 and TC-RES-03: the place request's outcome is unknown; the lookup finds the order."""
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "buy",
        "ordType": "limit",
        "px": "13013.5",
        "sz": "0.001",
    }
    ex = submit_ex(body, None)
    ex["response"] = failure
    return finish(
        {
            "id": sid,
            "description": f"The place request ends in {what}; the lookup by clOrdId finds the order resting, "
            "so it is never sent again.",
            "source": f"{SRC} §2.3 [DOC] order object for the lookup. Derived: ids, state live, fill fields empty.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "buy",
                "quantity": "0.001",
                "limit_price": "13013.5",
                "client_order_id": cl,
            },
            "expect": {"submits": 1},
            "http": [
                time_ex(),
                ex,
                get_order_ex(
                    {"instId": "BTC-USDT", "clOrdId": cl},
                    live_limit(cl, ord_id, "buy", "13013.5", "0.001"),
                    label="lookup",
                ),
            ],
        }
    )


@recording("TC-RES-02")
def tc_res_02() -> dict[str, Any]:
    """TC-RES-02: the place request gets HTTP 503."""
    return unknown_outcome(
        "TC-RES-02", "atmc8x2k1q7zrc", "1752588852617379846", {"status": 503, "text": ""}, "HTTP 503"
    )


@recording("TC-RES-03")
def tc_res_03() -> dict[str, Any]:
    """TC-RES-03: the place request times out."""
    return unknown_outcome(
        "TC-RES-03", "atmc8x2k1q7zrd", "1752588852617379847", {"exception": "timeout"}, "a read timeout"
    )


@recording("TC-RES-06")
def tc_res_06() -> dict[str, Any]:
    """TC-RES-06: venue_time() reads OKX's clock (the expiry guarantee is proved by it)."""
    return finish(
        {
            "id": "TC-RES-06",
            "description": "venue_time() asks OKX's clock: one unsigned GET /api/v5/public/time, read exactly.",
            "source": f"{SRC} §2.7 [DOC] public time (unchanged).",
            "input": {},
            "expect": {"server_time": "2020-08-10T02:26:23.085+00:00"},
            "http": [dict(time_ex(), note="venue_time(); protocols.md §2.7 [DOC]")],
        }
    )


@recording("TC-STR-01")
def tc_str_01() -> dict[str, Any]:
    """TC-STR-01: documented push."""
    cl = "atmc8x2k1q7zre"
    ord_id = "452197707845865472"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "sell",
        "ordType": "limit",
        "px": "31527.1",
        "sz": "0.001",
    }
    return finish(
        {
            "id": "TC-STR-01",
            "description": "A limit sell fills completely as maker; the fill arrives on the orders channel.",
            "source": f"{SRC} §2.2 [DOC] login reply, §2.5 [DOC] subscribe ack format and orders push (only clOrdId "
            "set to this order), §2.3 [DOC] place reply.",
            "input": {
                "symbol": "BTC-USDT",
                "side": "sell",
                "quantity": "0.001",
                "limit_price": "31527.1",
                "client_order_id": cl,
            },
            "expect": {
                "fill_quantity": "0.001",
                "fill_price": "31527.1",
                "fee": "0.02522168",
                "fee_currency": "USDT",
            },
            "http": [time_ex(), submit_ex(body, place_ok(cl, ord_id))],
            "stream": {
                "auto_reply": {"ping": "pong"},
                "connections": [[LOGIN, SUBSCRIBE, {"after_http": "submit"}, {"push": push(clOrdId=cl)}]],
            },
        }
    )


@recording("TC-STR-02")
def tc_str_02() -> dict[str, Any]:
    """TC-STR-02: drop mid-fill."""
    cl = "atmc8x2k1q7zrf"
    ord_id = "452197707845865472"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "sell",
        "ordType": "limit",
        "px": "31527.1",
        "sz": "0.003",
    }

    def rest_fill(trade_id: str, bill_id: str, ts: str) -> dict[str, Any]:
        item: dict[str, Any] = P("fill_item")
        item.update(
            side="sell",
            clOrdId=cl,
            ordId=ord_id,
            fillSz="0.001",
            fillPx="31527.1",
            fee="-0.02522168",
            feeCcy="USDT",
            feeRate="-0.0008",
            execType="M",
            tradeId=trade_id,
            billId=bill_id,
            fillTime=ts,
            ts=ts,
        )
        return item

    first = push(
        clOrdId=cl,
        sz="0.003",
        state="partially_filled",
        accFillSz="0.001",
        fee="-0.02522168",
        tradeId="242589207",
        fillTime="1654084353263",
        uTime="1654084353264",
    )
    last = push(
        clOrdId=cl,
        sz="0.003",
        state="filled",
        accFillSz="0.003",
        fee="-0.07566504",
        tradeId="242589209",
        fillTime="1654084355263",
        uTime="1654084355264",
    )
    return finish(
        {
            "id": "TC-STR-02",
            "description": "Sell 0.003 fills in three trades of 0.001. The stream drops after the first; the second "
            "happens while disconnected; after reconnect, login and re-subscribe the adapter catches "
            "up through /trade/fills (which returns the first two), then the third is pushed. Each "
            "fill must be counted once.",
            "source": f"{SRC} §2.5 [DOC] orders push and §2.3 [DOC] fills item. Derived: clOrdId/ordId, sz 0.003, "
            "state/accFillSz/fee (cumulative) per step, tradeId/billId/fillTime per trade, fills item side "
            "sell with the push's fill price/fee in USDT (maker).",
            "input": {
                "symbol": "BTC-USDT",
                "side": "sell",
                "quantity": "0.003",
                "limit_price": "31527.1",
                "client_order_id": cl,
            },
            "expect": {
                "fills": [
                    {
                        "trade_id": "242589207",
                        "quantity": "0.001",
                        "price": "31527.1",
                        "fee": "0.02522168",
                        "fee_currency": "USDT",
                    },
                    {
                        "trade_id": "242589208",
                        "quantity": "0.001",
                        "price": "31527.1",
                        "fee": "0.02522168",
                        "fee_currency": "USDT",
                    },
                    {
                        "trade_id": "242589209",
                        "quantity": "0.001",
                        "price": "31527.1",
                        "fee": "0.02522168",
                        "fee_currency": "USDT",
                    },
                ],
                "connections": 2,
            },
            "http": [
                time_ex(),
                submit_ex(body, place_ok(cl, ord_id)),
                {
                    "label": "catch-up",
                    "note": "after the reconnect: fills since shortly before the last frame seen",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/trade/fills",
                        "params": {"instType": "SPOT", "begin": "<ANY>", "limit": "100"},
                        "headers": SIGNED,
                    },
                    "response": {
                        "status": 200,
                        "json": {
                            "code": "0",
                            "msg": "",
                            "data": [
                                rest_fill("242589208", "680800019754098690", "1654084354263"),
                                rest_fill("242589207", "680800019754098688", "1654084353263"),
                            ],
                        },
                    },
                },
            ],
            "stream": {
                "auto_reply": {"ping": "pong"},
                "connections": [
                    [
                        LOGIN,
                        SUBSCRIBE,
                        {"after_http": "submit"},
                        {"push": first},
                        {"sleep": 0.1},
                        {"drop": True},
                    ],
                    [LOGIN, SUBSCRIBE, {"after_http": "catch-up"}, {"push": last}],
                ],
            },
        }
    )


@recording("TC-BAD-01")
def tc_bad_01() -> dict[str, Any]:
    """TC-BAD-01: one order of an unknown type."""
    orders = [
        ("atmc8x2k1q7zr5", "1752588852617379842", "buy", "13013.5", "0.001"),
        ("atmc8x2k1q7zr6", "1752588852617379843", "sell", "99999.9", "0.002"),
    ]
    unknown = live_limit("", "1752588852617379844", "buy", "13000.1", "0.001")
    unknown["ordType"] = "some_future_type"
    listed = [live_limit(cl, oid, side, px, sz) for cl, oid, side, px, sz in reversed(orders)]
    return finish(
        {
            "id": "TC-BAD-01",
            "description": "orders-pending lists our two resting orders and, between them, an order placed by another "
            "tool with an ordType this adapter does not know: the two come back, the third is reported.",
            "source": f"{SRC} §2.3 [DOC] order object (as in TC-ORD-04's orders-pending reply).",
            "provenance": "composed: TC-ORD-04's orders-pending reply (documented order object, protocols.md §2.3) "
            "plus one variation: an order without clOrdId (another tool's), ordId 1752588852617379844 and ordType "
            "some_future_type (no such OKX type: it stands for one added after this adapter, as elp and rpi were)",
            "input": {"symbol": "BTC-USDT"},
            "expect": {"client_order_ids": [cl for cl, *_ in orders], "reported": 1},
            "http": [
                time_ex(),
                {
                    "label": "open orders",
                    "request": {
                        "method": "GET",
                        "url": f"{REST}/api/v5/trade/orders-pending",
                        "params": {"instType": "SPOT", "instId": "BTC-USDT", "limit": "100"},
                        "headers": SIGNED,
                    },
                    "response": {
                        "status": 200,
                        "json": {"code": "0", "msg": "", "data": [listed[0], unknown, listed[1]]},
                    },
                },
            ],
        }
    )


@recording("TC-BAD-02")
def tc_bad_02() -> dict[str, Any]:
    """TC-BAD-02: garbage frame between two fills."""
    cl = "atmc8x2k1q7zrg"
    ord_id = "452197707845865472"
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "clOrdId": cl,
        "side": "sell",
        "ordType": "limit",
        "px": "31527.1",
        "sz": "0.002",
    }
    common = {"clOrdId": cl, "sz": "0.002"}
    first = push(
        **common,
        state="partially_filled",
        accFillSz="0.001",
        fee="-0.02522168",
        tradeId="242589211",
        fillTime="1654084353263",
        uTime="1654084353264",
    )
    last = push(
        **common,
        state="filled",
        accFillSz="0.002",
        fee="-0.05044336",
        tradeId="242589212",
        fillTime="1654084354263",
        uTime="1654084354264",
    )
    fill = {"quantity": "0.001", "price": "31527.1", "fee": "0.02522168", "fee_currency": "USDT"}
    return finish(
        {
            "id": "TC-BAD-02",
            "description": "Sell 0.002 fills in two trades of 0.001 pushed on the orders channel; a torn, unparseable "
            "frame arrives between them: both fills arrive, the frame is reported.",
            "source": f"{SRC} §2.2 [DOC] login reply, §2.5 [DOC] orders push, §2.3 [DOC] place reply. Derived: "
            "clOrdId, sz 0.002, state/accFillSz/fee (cumulative) and tradeId/fillTime per trade.",
            "provenance": "composed: the documented orders push (protocols.md §2.5) split into two trades, plus one "
            "variation: a truncated text frame between the two pushes",
            "input": {
                "symbol": "BTC-USDT",
                "side": "sell",
                "quantity": "0.002",
                "limit_price": "31527.1",
                "client_order_id": cl,
            },
            "expect": {
                "fills": [{"trade_id": "242589211", **fill}, {"trade_id": "242589212", **fill}],
                "reported": 1,
            },
            "http": [time_ex(), submit_ex(body, place_ok(cl, ord_id))],
            "stream": {
                "auto_reply": {"ping": "pong"},
                "connections": [
                    [
                        LOGIN,
                        SUBSCRIBE,
                        {"after_http": "submit"},
                        {"push": first},
                        {"push": '{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"accFillSz":"0.0'},
                        {"push": last},
                    ]
                ],
            },
        }
    )


if __name__ == "__main__":
    raise SystemExit(COMPOSER.main())
