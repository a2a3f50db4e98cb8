"""A stateful OKX v5 venue on 127.0.0.1 (REST ``/api/v5`` and the private WebSocket ``orders`` channel).

Payload shapes are protocols.md §2.3–2.5's documented ones (place/cancel/amend acks, order
details, orders-pending, fills, the ``orders`` channel push); ``instruments`` and ``balance``
are the adapter's recorded payloads, handed in by its test. The rules that matter for
in-flight requests are OKX's:

* ``clOrdId`` must be unique among **live** orders (``51016``); it is reusable after the
  order filled or was canceled (§2.3);
* the optional ``expTime`` header (ms) makes a place or amend expire: refused when the
  venue's clock is past it when the request reaches the matching engine (§2.2);
* a cancel or amend of a finished order is refused (``51400`` / ``51503``); a lookup of an
  unknown order answers ``51603``.

Matching: one price per instrument (:attr:`OkxVenue.prices`); a market order fills at it,
a crossing limit order fills at it, any other rests. Fees: 0.1 % of the base, as OKX's
negative ``fee`` in the base currency for buys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from autotrader_core.enums import OrderSide, OrderStatus

from autotrader_conformance.inflight.venue import LoopbackVenue, VenueClock, VenueFill, VenueOrder
from autotrader_conformance.inflight.wire import VenueReply, VenueRequest

__all__ = ["OkxVenue"]

_STATE = {
    OrderStatus.ACCEPTED: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.REJECTED: "canceled",
}
_FEE_RATE = Decimal("0.001")


def _s(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _ok(data: list[dict[str, Any]]) -> VenueReply:
    return VenueReply(200, {"code": "0", "msg": "", "data": data, "inTime": "0", "outTime": "0"})


def _failed(item: dict[str, Any], code: str, msg: str) -> VenueReply:
    """OKX's per-item refusal: HTTP 200, ``code`` "1", the item's ``sCode``/``sMsg``."""
    return VenueReply(
        200, {"code": "1", "msg": "Operation failed.", "data": [dict(item, sCode=code, sMsg=msg)]}
    )


class OkxVenue(LoopbackVenue):
    """OKX v5 spot (cash), stateful, on loopback (see the module docs).

    Args:
        instruments: The recorded ``GET /api/v5/public/instruments`` payload.
        balance: The recorded ``GET /api/v5/account/balance`` payload.
        prices: The market price per instrument id.
        clock: The venue's clock.
    """

    name: ClassVar[str] = "okx"
    ws_path: ClassVar[str] = "/ws/v5/private"

    def __init__(
        self,
        *,
        instruments: Mapping[str, Any],
        balance: Mapping[str, Any],
        prices: Mapping[str, Decimal],
        clock: VenueClock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.instruments = dict(instruments)
        self.balance = dict(balance)
        self.prices = dict(prices)

    # -- the REST API ------------------------------------------------------------------
    def handle(self, request: VenueRequest) -> VenueReply:
        """Route one request (see the module docs for the rules)."""
        route = request.route
        p = request.params
        if route == "GET /api/v5/public/time":
            return _ok([{"ts": str(self.clock.now_ms())}])
        if route == "GET /api/v5/public/instruments":
            return VenueReply(200, self.instruments)
        if route == "GET /api/v5/account/balance":
            return VenueReply(200, self.balance)
        if route == "GET /api/v5/account/positions":
            return _ok([])
        if route in ("POST /api/v5/trade/order", "POST /api/v5/trade/amend-order"):
            expiry = request.headers.get("exptime")
            if expiry and self.clock.now_ms() > int(expiry):
                self.log.append((route, -50102))
                return VenueReply(
                    200,
                    {
                        "code": "1",
                        "msg": "Operation failed.",
                        "data": [
                            {
                                "sCode": "51002",
                                "sMsg": "Order expired.",
                                "ordId": "",
                                "clOrdId": (request.json() or {}).get("clOrdId", ""),
                            }
                        ],
                    },
                )
        if route == "POST /api/v5/trade/order":
            return self._place(request.json())
        if route == "POST /api/v5/trade/cancel-order":
            return self._cancel(request.json())
        if route == "POST /api/v5/trade/amend-order":
            return self._amend(request.json())
        if route == "GET /api/v5/trade/order":
            order = self._lookup(p)
            if order is None:
                return VenueReply(200, {"code": "51603", "msg": "Order does not exist", "data": []})
            return _ok([self._order_shape(order)])
        if route == "GET /api/v5/trade/orders-pending":
            inst = p.get("instId")
            return _ok(
                [
                    self._order_shape(o)
                    for o in reversed(self.orders)
                    if o.is_open and inst in (None, o.symbol)
                ]
            )
        if route in ("GET /api/v5/trade/fills", "GET /api/v5/trade/fills-history"):
            inst = p.get("instId")
            begin = int(p.get("begin", "0"))
            rows = [
                self._fill_shape(f)
                for f in reversed(self.fills)
                if inst in (None, f.symbol) and f.time_ms >= begin
            ]
            return _ok(rows)
        return VenueReply(404, {"code": "50000", "msg": f"loopback venue: no route {route}", "data": []})

    def _lookup(self, p: Mapping[str, Any]) -> VenueOrder | None:
        if p.get("ordId"):
            order = next((o for o in self.orders if str(o.order_id) == str(p["ordId"])), None)
        else:
            order = self.find(client_order_id=str(p.get("clOrdId", ""))) if p.get("clOrdId") else None
        return order if order is not None and order.symbol == p.get("instId") else None

    def _place(self, body: Mapping[str, Any]) -> VenueReply:
        cid = str(body.get("clOrdId", ""))
        inst = str(body.get("instId", ""))
        item = {"clOrdId": cid, "ordId": "", "tag": "", "ts": str(self.clock.now_ms()), "subCode": ""}
        if inst not in self.prices:
            return _failed(item, "51001", "Instrument ID does not exist.")
        if cid and any(o.is_open and o.client_order_id == cid for o in self.orders):
            return _failed(item, "51016", "Client order ID already exists.")
        order = self.new_order(
            client_order_id=cid,
            symbol=inst,
            side=OrderSide.BUY if body.get("side") == "buy" else OrderSide.SELL,
            order_type=str(body.get("ordType", "limit")),
            quantity=Decimal(str(body["sz"])),
            price=Decimal(str(body["px"])) if body.get("px") not in (None, "") else None,
            time_in_force="GTC",
        )
        order.order_id = str(700000000000000000 + int(order.order_id))
        self._push(order)
        self._match(order)
        return _ok([dict(item, ordId=order.order_id, sCode="0", sMsg="Order placed")])

    def _match(self, order: VenueOrder) -> None:
        market = self.prices[order.symbol]
        crosses = order.order_type == "market" or (
            order.price is not None
            and (order.price >= market if order.side is OrderSide.BUY else order.price <= market)
        )
        if not crosses:
            return
        quantity = order.quantity - order.filled
        fee_ccy = order.symbol.split("-")[0] if order.side is OrderSide.BUY else order.symbol.split("-")[-1]
        fee_base = quantity if order.side is OrderSide.BUY else quantity * market
        fill = self.add_fill(order, quantity, market, fee_base * _FEE_RATE, fee_ccy)
        self._push(order, fill)

    def _cancel(self, body: Mapping[str, Any]) -> VenueReply:
        order = self._lookup(body)
        item = {
            "clOrdId": str(body.get("clOrdId", "")),
            "ordId": str(body.get("ordId", "")),
            "ts": str(self.clock.now_ms()),
        }
        if order is None or not order.is_open:
            return _failed(
                item,
                "51400",
                "Order cancellation failed as the order has been filled, canceled or does not exist.",
            )
        order.status = OrderStatus.CANCELED
        order.updated_ms = self.clock.now_ms()
        self._push(order)
        return _ok([dict(item, clOrdId=order.client_order_id, ordId=order.order_id, sCode="0", sMsg="")])

    def _amend(self, body: Mapping[str, Any]) -> VenueReply:
        order = self._lookup(body)
        item = {
            "clOrdId": str(body.get("clOrdId", "")),
            "ordId": str(body.get("ordId", "")),
            "ts": str(self.clock.now_ms()),
            "reqId": str(body.get("reqId", "")),
            "subCode": "",
        }
        if order is None or not order.is_open:
            return _failed(
                item, "51503", "Order modification failed as the order has been filled or canceled."
            )
        if body.get("newSz") not in (None, ""):
            size = Decimal(str(body["newSz"]))
            if size <= order.filled:
                return _failed(item, "51512", "New size must exceed the filled size.")
            order.quantity = size
        if body.get("newPx") not in (None, ""):
            order.price = Decimal(str(body["newPx"]))
        order.updated_ms = self.clock.now_ms()
        self._push(order, amended=True)
        self._match(order)
        return _ok([dict(item, clOrdId=order.client_order_id, ordId=order.order_id, sCode="0", sMsg="")])

    # -- payload shapes (protocols.md §2.3, §2.5) -------------------------------------------
    def _order_shape(self, order: VenueOrder, fill: VenueFill | None = None) -> dict[str, Any]:
        average = order.quote_filled / order.filled if order.filled else None
        fees = sum((f.fee for f in self.fills if f.order_id == order.order_id), Decimal(0))
        return {
            "accFillSz": _s(order.filled),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": _s(average),
            "cTime": str(order.created_ms),
            "cancelSource": "",
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": order.client_order_id,
            "fee": _s(-fees),
            "feeCcy": fill.fee_asset if fill else (self._fee_ccy(order)),
            "fillPx": _s(fill.price) if fill else "",
            "fillSz": _s(fill.quantity) if fill else "0",
            "fillTime": str(fill.time_ms) if fill else "",
            "instId": order.symbol,
            "instType": "SPOT",
            "isTpLimit": "false",
            "lever": "",
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": order.order_id,
            "ordType": order.order_type,
            "pnl": "0",
            "posSide": "",
            "px": _s(order.price),
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": "",
            "reduceOnly": "false",
            "side": order.side.value.lower(),
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": _STATE[order.status],
            "stpId": "",
            "stpMode": "",
            "sz": _s(order.quantity),
            "tag": "",
            "tdMode": "cash",
            "tgtCcy": "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": str(fill.trade_id) if fill else "",
            "tradeQuoteCcy": order.symbol.split("-")[-1],
            "uTime": str(order.updated_ms),
        }

    def _fee_ccy(self, order: VenueOrder) -> str:
        return order.symbol.split("-")[0] if order.side is OrderSide.BUY else order.symbol.split("-")[-1]

    def _fill_shape(self, fill: VenueFill) -> dict[str, Any]:
        return {
            "side": fill.side.value.lower(),
            "fillSz": _s(fill.quantity),
            "fillPx": _s(fill.price),
            "fillPxVol": "",
            "fillFwdPx": "",
            "fee": _s(-fill.fee),
            "fillPnl": "0",
            "ordId": fill.order_id,
            "feeRate": "-0.001",
            "instType": "SPOT",
            "fillPxUsd": "",
            "instId": fill.symbol,
            "clOrdId": fill.client_order_id,
            "posSide": "net",
            "billId": f"9{fill.trade_id}",
            "subType": "1",
            "fillMarkVol": "",
            "tag": "",
            "fillTime": str(fill.time_ms),
            "execType": "T",
            "fillIdxPx": "",
            "tradeId": str(fill.trade_id),
            "fillMarkPx": "",
            "feeCcy": fill.fee_asset,
            "ts": str(fill.time_ms),
            "tradeQuoteCcy": fill.symbol.split("-")[-1],
        }

    # -- the private stream (protocols.md §2.5) ---------------------------------------------
    def _push(self, order: VenueOrder, fill: VenueFill | None = None, *, amended: bool = False) -> None:
        data = self._order_shape(order, fill)
        data.update(
            amendResult="0" if amended else "",
            amendSource="",
            code="0",
            msg="",
            reqId="",
            execType="T" if fill else "",
            fillFee=_s(-fill.fee) if fill else "0",
            fillFeeCcy=fill.fee_asset if fill else "",
            fillNotionalUsd="",
            notionalUsd="",
            lastPx="",
        )
        arg = {"channel": "orders", "instType": "SPOT", "uid": "loopback"}
        self.emit(json.dumps({"arg": arg, "data": [data]}))

    async def stream_session(self, ws: Any) -> None:
        """``login``, then one ``subscribe`` for every channel, then the ``orders`` pushes; ``ping`` → ``pong``."""
        subscribed = False
        while not subscribed:
            raw = await ws.recv()
            if raw == "ping":
                await ws.send("pong")
                continue
            frame = json.loads(raw)
            if frame.get("op") == "login":
                await ws.send(json.dumps({"event": "login", "code": "0", "msg": "", "connId": "loopback"}))
            elif frame.get("op") == "subscribe":
                for arg in frame.get("args", []):
                    await ws.send(
                        json.dumps(
                            {
                                "id": frame.get("id", ""),
                                "event": "subscribe",
                                "arg": arg,
                                "connId": "loopback",
                            }
                        )
                    )
                subscribed = True
        pongs = asyncio.ensure_future(_answer_pings(ws))
        try:
            await self.pump(ws)
        finally:
            pongs.cancel()


async def _answer_pings(ws: Any) -> None:
    """OKX's keep-alive: the text ``ping`` is answered with ``pong`` (anything else is ignored)."""
    with contextlib.suppress(Exception):  # the connection closed
        async for raw in ws:
            if raw == "ping":
                await ws.send("pong")
