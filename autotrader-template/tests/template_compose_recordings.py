"""Compose recordings in code: ``python tests/template_compose_recordings.py [--check] [--only ID]``.

The shape every adapter's composer has (docs/writing-an-adapter.md §7): shared builders
first, then one function per recording, registered with ``@recording("<scenario id>")``
and returning the file's content; the kit's :class:`Composer` validates and writes it.
``--check`` (run by ``test_template_recordings_composed.py``) fails with a diff when a
committed file differs from what is composed. The other files in ``recordings/`` are
written by hand; a captured recording replaces a composed one, and its function goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autotrader_conformance.composing import Composer

COMPOSER = Composer(Path(__file__).parent / "recordings")
recording = COMPOSER.recording

REST = "https://api.testnet.template.invalid"
SOURCE = "the template venue's protocol, written down in autotrader-template/src/autotrader_template (imaginary venue)"
PROVENANCE = "composed: template venue, imaginary (the venue does not exist; payloads follow the shapes its modules document)"
SIGNED = {"TV-KEY": "<ANY>", "TV-TIMESTAMP": "<ANY>", "TV-SIGNATURE": "<ANY>"}


def connect_ex() -> dict[str, Any]:
    """connect() reads the venue's clock."""
    return {
        "label": "connect",
        "request": {"method": "GET", "url": f"{REST}/v1/time"},
        "response": {"status": 200, "json": {"serverTime": 1700000000000}},
    }


def venue_fill(trade_id: str, quantity: str, price: str, fee: str, time: int) -> dict[str, Any]:
    """One trade as the venue writes it (in an order reply and on the fills channel)."""
    return {
        "tradeId": trade_id,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "feeAsset": "USD",
        "time": time,
    }


@recording("TC-CON-01")
def tc_con_01() -> dict[str, Any]:
    """TC-CON-01: connect, disconnect."""
    return {
        "id": "TC-CON-01",
        "description": "connect reads the server time; disconnect closes the client",
        "source": SOURCE,
        "provenance": PROVENANCE,
        "input": {},
        "expect": {},
        "http": [connect_ex()],
    }


@recording("TC-ORD-01")
def tc_ord_01() -> dict[str, Any]:
    """TC-ORD-01: a market buy filled in two trades; the stream repeats the second."""
    first = venue_fill("9001", "0.004", "30000.10", "0.012", 1764000000100)
    second = venue_fill("9002", "0.006", "30000.20", "0.018", 1764000000200)
    return {
        "id": "TC-ORD-01",
        "description": "market buy filled in two trades in the reply; the stream repeats one",
        "source": SOURCE,
        "provenance": PROVENANCE,
        "input": {"symbol": "BTCUSD", "side": "buy", "quantity": "0.010", "client_order_id": "tvord01"},
        "expect": {
            "fill_quantity": "0.010",
            "fill_price": "30000.16",
            "fee": "0.030",
            "fee_currency": "USD",
            "fills": [
                {"trade_id": "9001", "quantity": "0.004", "price": "30000.10", "fee": "0.012"},
                {"trade_id": "9002", "quantity": "0.006", "price": "30000.20", "fee": "0.018"},
            ],
        },
        "http": [
            connect_ex(),
            {
                "label": "submit",
                "request": {
                    "method": "POST",
                    "url": f"{REST}/v1/orders",
                    "headers": SIGNED,
                    "json": {
                        "symbol": "BTCUSD",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantity": "0.010",
                        "clientOrderId": "tvord01",
                    },
                },
                "response": {
                    "status": 200,
                    "json": {
                        "orderId": "101",
                        "clientOrderId": "tvord01",
                        "status": "FILLED",
                        "fills": [first, second],
                    },
                },
            },
        ],
        "stream": {
            "connections": [
                [
                    {
                        "expect": {"op": "login", "key": "<ANY>", "timestamp": "<ANY>", "signature": "<ANY>"},
                        "reply": [{"op": "login", "ok": True}],
                    },
                    {
                        "expect": {"op": "subscribe", "channels": ["orders", "fills"]},
                        "reply": [{"op": "subscribe", "ok": True}],
                    },
                    {"after_http": "submit"},
                    {
                        "push": {
                            "channel": "fills",
                            "data": {
                                "symbol": "BTCUSD",
                                "side": "BUY",
                                "clientOrderId": "tvord01",
                                **venue_fill("9002", "0.006", "30000.20", "0.018", 1764000000300),
                            },
                        }
                    },
                ]
            ]
        },
    }


if __name__ == "__main__":
    raise SystemExit(COMPOSER.main())
