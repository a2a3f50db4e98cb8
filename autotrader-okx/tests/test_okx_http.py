"""OkxHttp's rate-limit buckets follow OKX's documented scopes."""

from __future__ import annotations

from autotrader_okx import OkxSettings
from autotrader_okx.http import OkxHttp, Paths


def test_order_endpoints_have_one_bucket_per_instrument() -> None:
    http = OkxHttp(OkxSettings(_env_file=None))  # type: ignore[call-arg]
    btc = http.limiter_for("POST", Paths.ORDER, json_body={"instId": "BTC-USDT"})
    eth = http.limiter_for("POST", Paths.ORDER, json_body={"instId": "ETH-USDT"})
    assert btc is not eth
    assert btc is http.limiter_for("POST", Paths.ORDER, json_body={"instId": "BTC-USDT", "sz": "1"})
    assert (btc.capacity, btc.per_seconds) == (60, 2.0)
    query = http.limiter_for("GET", Paths.ORDER, params=[("instId", "BTC-USDT"), ("ordId", "1")])
    assert query is not btc  # the query has its own limit


def test_account_endpoints_share_one_bucket_per_user() -> None:
    http = OkxHttp(OkxSettings(_env_file=None))  # type: ignore[call-arg]
    balance = http.limiter_for("GET", Paths.BALANCE, params=[("ccy", "BTC")])
    assert balance is http.limiter_for("GET", Paths.BALANCE)
    assert (balance.capacity, balance.per_seconds) == (10, 2.0)
    pending = http.limiter_for("GET", Paths.PENDING, params=[("instType", "SPOT"), ("instId", "BTC-USDT")])
    assert pending is http.limiter_for("GET", Paths.PENDING, params=[("instType", "SPOT")])
