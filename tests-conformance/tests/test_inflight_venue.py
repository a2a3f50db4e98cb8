"""The in-flight harness itself: the stateful Binance venue's rules and the fault proxy's faults."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from autotrader_conformance.inflight import InflightChecks
from autotrader_conformance.inflight.binance import BinanceVenue
from autotrader_conformance.summary import RunFigures, SummaryTable, render
from autotrader_core.enums import OrderStatus
from autotrader_core.oms import OrderManager
from websockets.asyncio.client import connect

pytestmark = pytest.mark.anyio

# The shape of protocols.md §1.9's exchangeInfo symbol, reduced to what the venue reads.
EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "rateLimits": [],
    "symbols": [{"symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "BTC"}],
}


def _venue() -> BinanceVenue:
    return BinanceVenue(
        exchange_info=EXCHANGE_INFO, account={"balances": []}, prices={"ETHBTC": Decimal("0.05")}
    )


def _order(
    venue: BinanceVenue, cid: str, *, market: bool = False, window: int = 600, **extra: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "symbol": "ETHBTC",
        "side": "BUY",
        "type": "MARKET" if market else "LIMIT",
        "quantity": "2",
        "newClientOrderId": cid,
        "timestamp": str(venue.clock.now_ms()),
        "recvWindow": str(window),
        "signature": "loopback",
        **extra,
    }
    if not market:
        fields.setdefault("price", "0.04")
        fields.setdefault("timeInForce", "GTC")
    return fields


async def test_a_held_request_is_refused_when_it_lands_past_its_recv_window() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url) as client:
        venue.faults.on("POST /api/v3/order").hold(0.35)
        reply = await client.post("/api/v3/order", data=_order(venue, "a1", window=300))
        assert reply.status_code == 400
        assert reply.json()["code"] == -1021
        assert venue.orders == []
        reply = await client.post("/api/v3/order", data=_order(venue, "a1", window=300))  # not held
        assert reply.json()["status"] == "NEW"


async def test_duplicate_client_order_ids_are_refused_only_while_the_first_order_is_open() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url) as client:
        assert (await client.post("/api/v3/order", data=_order(venue, "d1"))).status_code == 200
        duplicate = await client.post("/api/v3/order", data=_order(venue, "d1"))
        assert duplicate.json() == {"code": -2010, "msg": "Duplicate order sent."}
        filled = await client.post("/api/v3/order", data=_order(venue, "m1", market=True))
        assert filled.json()["status"] == "FILLED"
        again = await client.post("/api/v3/order", data=_order(venue, "m1", market=True))
        assert again.json()["status"] == "FILLED"  # a filled market order is not open: a second fill
        assert [o.client_order_id for o in venue.orders] == ["d1", "m1", "m1"]
        assert venue.position("ETHBTC") == Decimal(4)


async def test_a_dropped_reply_times_out_but_the_venue_executed() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url, timeout=0.2) as client:
        venue.faults.on("POST /api/v3/order").drop_reply()
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/api/v3/order", data=_order(venue, "x1"))
        lookup = await client.get(
            "/api/v3/order",
            params={
                "symbol": "ETHBTC",
                "origClientOrderId": "x1",
                "signature": "s",
                "timestamp": str(venue.clock.now_ms()),
            },
        )
        assert lookup.json()["status"] == "NEW"
        assert venue.faults.unfired() == []


async def test_reset_trickle_and_oversize() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url, timeout=2) as client:
        venue.faults.on("GET /api/v3/time").reset_before()
        with pytest.raises(httpx.TransportError):
            await client.get("/api/v3/time")
        venue.faults.on("GET /api/v3/time", nth=2).trickle(0.01)
        started = time.monotonic()
        trickled = await client.get("/api/v3/time")
        assert "serverTime" in trickled.json()
        assert time.monotonic() - started >= 0.1  # ~27 bytes, one per 10 ms
        venue.faults.on("GET /api/v3/time", nth=3).oversize(1_000_000)
        async with client.stream("GET", "/api/v3/time") as big:
            assert big.headers["content-length"] == "1000000"
            received = 0
            async for piece in big.aiter_bytes():
                received += len(piece)
        assert received == 1_000_000


async def test_cancel_replace_and_amend_follow_binance_rules() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url) as client:
        placed = (await client.post("/api/v3/order", data=_order(venue, "r1"))).json()
        replaced = await client.post(
            "/api/v3/order/cancelReplace",
            data=_order(
                venue,
                "r1",
                price="0.041",
                cancelReplaceMode="STOP_ON_FAILURE",
                cancelRestrictions="ONLY_NEW",
                cancelOrderId=str(placed["orderId"]),
            ),
        )
        body = replaced.json()
        assert body["cancelResult"] == body["newOrderResult"] == "SUCCESS"
        again = await client.post(
            "/api/v3/order/cancelReplace",
            data=_order(venue, "r1", price="0.042", cancelOrderId=str(placed["orderId"])),
        )
        assert again.json()["code"] == -2022  # the old order is gone: nothing placed
        new_id = body["newOrderResponse"]["orderId"]
        amend = {
            "symbol": "ETHBTC",
            "orderId": str(new_id),
            "newQty": "1",
            "newClientOrderId": "r1",
            "timestamp": str(venue.clock.now_ms()),
            "recvWindow": "600",
            "signature": "s",
        }
        assert (await client.put("/api/v3/order/amend/keepPriority", data=amend)).status_code == 200
        assert (await client.put("/api/v3/order/amend/keepPriority", data=amend)).json()["code"] == -2038
        assert [(o.status, o.quantity) for o in venue.orders] == [
            (OrderStatus.CANCELED, Decimal(2)),
            (OrderStatus.ACCEPTED, Decimal(1)),
        ]


async def test_the_stream_delivers_what_the_venue_executed_late_or_twice() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url) as client:
        async with connect(venue.ws_url) as ws:
            await ws.send(
                json.dumps({"id": "s1", "method": "userDataStream.subscribe.signature", "params": {}})
            )
            assert json.loads(await ws.recv())["result"] == {"subscriptionId": 0}
            with anyio.fail_after(2):
                while not venue.subscribers:
                    await anyio.sleep(0.01)
            venue.faults.stream.twice = True
            venue.faults.stream.delay = 0.1
            await client.post("/api/v3/order", data=_order(venue, "s1", market=True))
            with anyio.fail_after(2):
                frames = [json.loads(await ws.recv())["event"] for _ in range(4)]
        assert [(f["x"], f["c"]) for f in frames] == [
            ("NEW", "s1"),
            ("NEW", "s1"),
            ("TRADE", "s1"),
            ("TRADE", "s1"),
        ]


async def test_the_checks_count_orders_per_client_id_and_compare_positions() -> None:
    async with _venue() as venue, httpx.AsyncClient(base_url=venue.url) as client:
        await client.post("/api/v3/order", data=_order(venue, "c1", market=True))
        await client.post("/api/v3/order", data=_order(venue, "c1", market=True))
    result = InflightChecks(venue, OrderManager()).run({"c1": 1}, ("ETHBTC",))
    assert result.max_orders_per_cid == 2
    assert result.extra_orders == 1
    assert result.lost_fills == 2
    problems = result.problems()
    assert problems[0] == "2 orders at the venue for client order id c1 (at most 1)"
    assert "position ETHBTC: engine 0, venue fills 4" in problems
    figures = result.figures(faults=1)
    assert (figures.duplicates, figures.losses, figures.position_mismatches) == (1, 2, 1)


def test_the_summary_counts_declared_defects_apart_and_shows_the_inflight_columns() -> None:
    table = SummaryTable()
    table.outcome("TestX", "TC-INF-01", "passed", RunFigures(faults=1, orders=1, max_orders_per_cid=1), 0)
    doubled = RunFigures(faults=1, orders=3, duplicates=2, max_orders_per_cid=3, state_mismatches=1)
    table.outcome("TestX", "TC-INF-06", "xfailed", doubled, 0)
    tally = table.tallies["TestX"]
    assert (tally.passed, tally.xfailed, tally.figures.duplicates) == (1, 1, 0)
    assert (tally.known.duplicates, tally.known.max_orders_per_cid, tally.known.state_mismatches) == (2, 3, 1)
    header, _, row = list(render(table.tallies))
    assert "orders/cid max" in header and "state mismatches" in header and header.endswith("xfail")
    assert row.split() == ["TestX", "1", "1", "0", "0", "1", "1", "0", "0", "0", "1", "0", "0", "1"]
