"""A loopback stand-in for Coinbase Advanced Trade REST (protocols.md §3.3, §3.7, §3.9).

``GET /api/v3/brokerage/time``, the products list and one product (the documented
BTC-USD object), and ``POST /api/v3/brokerage/orders`` (the documented success reply,
echoing the request's ``client_order_id``, product, side and order configuration).
Coinbase's create reply carries no fills (they come on the ``user`` channel), so one kind
of order is measured. JWTs are not verified: the benchmark measures the clients.

Run: ``python standin.py <port>`` (prints ``READY <port>``).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from standin_http import Reply, Routes, json_reply, serve

PRODUCT = json.loads(
    '{"product_id":"BTC-USD","price":"68923.67","price_percentage_change_24h":"-0.28560028286595","volume_24h":"11005.02587005","volume_percentage_change_24h":"164.92748862719962","base_increment":"0.00000001","quote_increment":"0.01","quote_min_size":"1","quote_max_size":"150000000","base_min_size":"0.00000001","base_max_size":"3400","base_name":"Bitcoin","quote_name":"US Dollar","watched":false,"is_disabled":false,"new":false,"status":"online","cancel_only":false,"limit_only":false,"post_only":false,"trading_disabled":false,"auction_mode":false,"product_type":"SPOT","quote_currency_id":"USD","base_currency_id":"BTC","fcm_trading_session_details":null,"mid_market_price":"","alias":"","alias_to":["BTC-USDC"],"base_display_symbol":"BTC","quote_display_symbol":"USD","view_only":false,"price_increment":"0.01","display_name":"BTC-USD","product_venue":"CBE","approximate_quote_24h_volume":"758506771.41","new_at":"2023-01-01T00:00:00Z","market_cap":"","base_cbrn":"","quote_cbrn":"","product_cbrn":"","icon_color":"","icon_url":"","display_name_overwrite":"","is_alpha_testing":false,"about_description":"","best_bid_price":"","best_ask_price":""}'
)


def _time(_: dict[str, str], __: bytes) -> Reply:
    now = time.time()
    iso = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json_reply({"iso": iso, "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))})


def _products(_: dict[str, str], __: bytes) -> Reply:
    return json_reply({"products": [PRODUCT], "num_products": 1})


def _product(_: dict[str, str], __: bytes) -> Reply:
    return json_reply(PRODUCT)


def _create(_: dict[str, str], body: bytes) -> Reply:
    request = json.loads(body or b"{}")
    order_id = str(uuid.uuid4())
    return json_reply(
        {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": order_id,
            "success_response": {
                "order_id": order_id,
                "product_id": request.get("product_id", "BTC-USD"),
                "side": request.get("side", "BUY"),
                "client_order_id": request.get("client_order_id", ""),
            },
            "order_configuration": request.get("order_configuration", {}),
        }
    )


def _transaction_summary(_: dict[str, str], __: bytes) -> Reply:
    # CCXT reads its fee rates from here in load_markets (shape of Coinbase's API reference).
    return json_reply(
        {
            "total_volume": 0,
            "total_fees": 0,
            "fee_tier": {
                "pricing_tier": "Advanced 1",
                "usd_from": "0",
                "usd_to": "10000",
                "taker_fee_rate": "0.012",
                "maker_fee_rate": "0.006",
            },
            "advanced_trade_only_volume": 0,
            "advanced_trade_only_fees": 0,
            "coinbase_pro_volume": 0,
            "coinbase_pro_fees": 0,
        }
    )


ROUTES: Routes = {
    ("GET", "/api/v3/brokerage/transaction_summary"): _transaction_summary,
    ("GET", "/api/v3/brokerage/time"): _time,
    ("GET", "/api/v3/brokerage/products"): _products,
    ("GET", "/api/v3/brokerage/market/products"): _products,
    ("GET", "/api/v3/brokerage/products/BTC-USD"): _product,
    ("POST", "/api/v3/brokerage/orders"): _create,
}

if __name__ == "__main__":
    serve(ROUTES, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
