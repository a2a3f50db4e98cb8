"""A loopback stand-in for Binance Spot REST, fast enough not to be the bottleneck.

Served by ``benchmarks/standin_http.py`` (raw asyncio HTTP/1.1, keep-alive). It answers with the documented shapes (protocols.md §1.3,
§1.7, §1.9): ``GET /api/v3/time``, ``GET /api/v3/exchangeInfo`` (one symbol,
BTCUSDT, the documented filter objects; rate limits set very high so neither client
is throttled: the benchmark measures client overhead, not Binance's limits) and
``POST /api/v3/order`` (a FULL reply echoing the request's ``newClientOrderId``, side,
type, quantity and price: a LIMIT order rests on the book with no fills; a MARKET order
is FILLED at once and its reply lists three fills, as a real taker order's FULL reply
does — the documented shape of §1.9, quantity split in three equal parts at three
prices, each with its own ``tradeId`` and commission).

Run: ``python standin.py <port>`` (prints ``READY <port>`` when listening).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from standin_http import Reply, Routes, json_reply, serve

EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1565246363776,
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 100000000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100000000},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 100000000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 100000000},
    ],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "opoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": True,
            "amendAllowed": True,
            "pegInstructionsAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01000000",
                    "maxPrice": "1000000.00000000",
                    "tickSize": "0.01000000",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001000",
                    "maxQty": "9000.00000000",
                    "stepSize": "0.00001000",
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": "0.00000000",
                    "maxQty": "100.00000000",
                    "stepSize": "0.00000000",
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": "5.00000000",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }
    ],
}

_order_ids = itertools.count(28)
_trade_ids = itertools.count(56)
# Three price levels the taker order walks through (documented fills walk down the book too).
_LEVELS = (Decimal("20000.00000000"), Decimal("19999.99000000"), Decimal("19999.98000000"))
_FEE_RATE = Decimal("0.001")
_EIGHT = Decimal("0.00000001")


def _market_fills(quantity: str) -> tuple[list[dict[str, object]], Decimal]:
    """Three fills for a market order of ``quantity``; returns them and the quote total."""
    total = Decimal(quantity)
    part = (total / 3).quantize(_EIGHT)
    sizes = (part, part, total - 2 * part)
    fills: list[dict[str, object]] = []
    quote = Decimal(0)
    for price, size in zip(_LEVELS, sizes, strict=True):
        notional = price * size
        quote += notional
        fills.append(
            {
                "price": f"{price:.8f}",
                "qty": f"{size:.8f}",
                "commission": f"{(notional * _FEE_RATE).quantize(_EIGHT):.8f}",
                "commissionAsset": "USDT",
                "tradeId": next(_trade_ids),
            }
        )
    return fills, quote


def _eight(text: str) -> str:
    """Binance prints order quantities and prices with 8 decimals."""
    return f"{Decimal(text):.8f}"


def _order_reply(params: dict[str, str]) -> bytes:
    now = int(time.time() * 1000)
    reply = {
        "symbol": params.get("symbol", "BTCUSDT"),
        "orderId": next(_order_ids),
        "orderListId": -1,
        "clientOrderId": params.get("newClientOrderId", "6gCrw2kRUAF9CvJDGP16IP"),
        "transactTime": now,
        "price": _eight(params.get("price", "0")),
        "origQty": _eight(params.get("quantity", "0")),
        "executedQty": "0.00000000",
        "origQuoteOrderQty": "0.00000000",
        "cummulativeQuoteQty": "0.00000000",
        "status": "NEW",
        "timeInForce": params.get("timeInForce", "GTC"),
        "type": params.get("type", "LIMIT"),
        "side": params.get("side", "BUY"),
        "workingTime": now,
        "fills": [],
        "selfTradePreventionMode": "NONE",
    }
    if reply["type"] == "MARKET":
        fills, quote = _market_fills(params.get("quantity", "0"))
        reply.update(
            price="0.00000000",
            executedQty=reply["origQty"],
            cummulativeQuoteQty=f"{quote:.8f}",
            status="FILLED",
            fills=fills,
        )
    return json.dumps(reply, separators=(",", ":")).encode()


def _order(params: dict[str, str], body: bytes) -> Reply:
    params = {**params, **dict(parse_qsl(body.decode()))}
    return Reply(
        "200 OK",
        _order_reply(params),
        {"X-MBX-USED-WEIGHT-1M": "1", "X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1D": "1"},
    )


def _time(_: dict[str, str], __: bytes) -> Reply:
    return json_reply({"serverTime": int(time.time() * 1000)}, headers={"X-MBX-USED-WEIGHT-1M": "1"})


def _exchange_info(_: dict[str, str], __: bytes) -> Reply:
    return json_reply(EXCHANGE_INFO, headers={"X-MBX-USED-WEIGHT-1M": "1"})


ROUTES: Routes = {
    ("POST", "/api/v3/order"): _order,
    ("GET", "/api/v3/time"): _time,
    ("GET", "/api/v3/exchangeInfo"): _exchange_info,
}

if __name__ == "__main__":
    serve(ROUTES, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
