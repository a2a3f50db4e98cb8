"""The JSON API against a real engine on the paper broker, in process (httpx's ASGI transport).

Every read endpoint, every action, and the refusals an operator or a script would hit:
no token, a wrong token, a read-only token on an action, malformed or oversized bodies,
unknown orders and routes — each a JSON answer with the right status, never a trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from autotrader_core.enums import OrderStatus, TradingState
from autotrader_core.errors import AuthenticationError, RequestTimeout, RiskRejected
from autotrader_core.models import Order
from web_support import CONTROL_TOKEN, READ_TOKEN, Session

pytestmark = pytest.mark.anyio

READS = [
    "/api/status",
    "/api/orders",
    "/api/orders?open=false",
    "/api/fills",
    "/api/positions",
    "/api/balances",
    "/api/breakers",
    "/api/dead-letters",
    "/api/failure-rates",
    "/api/reconciliation",
    "/api/quotes",
    "/api/rate-limits",
    "/api/alerts",
    "/api/state",
]
ACTIONS = [
    "/api/actions/halt",
    "/api/actions/reducing-only",
    "/api/actions/resume",
    "/api/actions/cancel-all",
    "/api/actions/flatten",
    "/api/actions/kill",
]


async def resting(session: Session, price: str = "60000", qty: str = "0.01") -> Order:
    """A limit buy far below the market: it rests at the paper broker."""
    return await session.engine.submit_order("BTCUSDT", "buy", D(qty), order_type="limit", limit_price=price)


async def broker_open_ids(session: Session) -> set[str]:
    """Client order ids the paper broker itself still has open."""
    return {r.client_order_id or "" for r in await session.adapter.get_open_orders()}


def refusal(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"]
    assert "Traceback" not in response.text
    return body


# -- authentication ------------------------------------------------------------------------
@pytest.mark.parametrize("path", READS)
async def test_every_read_needs_a_token(session: Session, path: str) -> None:
    refusal(await session.client.get(path), 401, "unauthorized")
    bad = {"Authorization": "Bearer not-a-token-at-all-000000"}
    refusal(await session.client.get(path, headers=bad), 401, "unauthorized")
    basic = {"Authorization": f"Basic {CONTROL_TOKEN}"}
    refusal(await session.client.get(path, headers=basic), 401, "unauthorized")
    assert (await session.client.get(path, headers=session.headers(READ_TOKEN))).status_code == 200
    assert (await session.client.get(path, headers=session.headers())).status_code == 200


async def test_401_names_the_bearer_scheme(session: Session) -> None:
    response = await session.client.get("/api/status")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ACTIONS)
async def test_every_action_needs_a_control_token(session: Session, path: str) -> None:
    refusal(await session.client.post(path, json={}), 401, "unauthorized")
    body = refusal(
        await session.client.post(path, json={}, headers=session.headers(READ_TOKEN)), 403, "forbidden"
    )
    assert "wallboard" in body["message"] and "read-only" in body["message"]
    assert session.engine.control.trading_state is TradingState.ACTIVE
    assert session.engine.control.kill_report is None


async def test_read_only_token_cannot_cancel_an_order(session: Session) -> None:
    order = await resting(session)
    response = await session.client.post(
        f"/api/orders/{order.client_order_id}/cancel", headers=session.headers(READ_TOKEN)
    )
    refusal(response, 403, "forbidden")
    assert order.client_order_id in await broker_open_ids(session)


# -- reads ---------------------------------------------------------------------------------
async def test_status_shows_the_engine_with_decimals_as_strings(session: Session) -> None:
    await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    body = (await session.client.get("/api/status", headers=session.headers())).json()
    assert body["account_label"] == "paper/paper/default"
    assert body["connected"] is True and body["trading_state"] == "active"
    assert body["orders_filled"] == 1 and body["fills_total"] == 1
    assert body["filled_notional"] == "650.0000" or D(body["filled_notional"]) == D("650")
    assert isinstance(body["filled_notional"], str)
    assert body["positions"] == {"BTCUSDT": "0.01"}
    assert body["killed"] is False and body["kill_report"] is None


async def test_orders_open_recent_and_filters(session: Session) -> None:
    filled = await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    rest = await resting(session)
    eth = await session.engine.submit_order("ETHUSDT", "buy", D("0.1"), order_type="limit", limit_price="100")
    get = session.client.get
    h = session.headers(READ_TOKEN)

    open_ids = [o["client_order_id"] for o in (await get("/api/orders", headers=h)).json()["orders"]]
    assert open_ids == [rest.client_order_id, eth.client_order_id]  # oldest first
    only_btc = (await get("/api/orders?symbol=BTCUSDT", headers=h)).json()["orders"]
    assert [o["client_order_id"] for o in only_btc] == [rest.client_order_id]
    assert only_btc[0]["limit_price"] == "60000" and only_btc[0]["remaining_quantity"] == "0.01"

    recent = (await get("/api/orders?open=false", headers=h)).json()["orders"]
    assert {o["client_order_id"] for o in recent} == {
        filled.client_order_id,
        rest.client_order_id,
        eth.client_order_id,
    }
    done = (await get("/api/orders?open=false&status=filled", headers=h)).json()["orders"]
    assert [o["client_order_id"] for o in done] == [filled.client_order_id]
    assert done[0]["is_open"] is False and done[0]["average_fill_price"] is not None
    sells = (await get("/api/orders?open=false&side=sell", headers=h)).json()["orders"]
    assert sells == []
    one = (await get("/api/orders?open=false&limit=1", headers=h)).json()["orders"]
    assert len(one) == 1

    refusal(await get("/api/orders?status=bogus", headers=h), 422, "invalid_query")
    refusal(await get("/api/orders?limit=0", headers=h), 422, "invalid_query")
    refusal(await get("/api/orders?limit=abc", headers=h), 422, "invalid_query")
    refusal(await get("/api/orders?open=maybe", headers=h), 422, "invalid_query")
    refusal(await get("/api/orders?side=up", headers=h), 422, "invalid_query")


async def test_one_order_and_an_unknown_one(session: Session) -> None:
    order = await resting(session)
    h = session.headers(READ_TOKEN)
    body = (await session.client.get(f"/api/orders/{order.client_order_id}", headers=h)).json()
    assert body["client_order_id"] == order.client_order_id and body["status"] == "accepted"
    refusal(await session.client.get("/api/orders/no-such-order", headers=h), 404, "unknown_order")


async def test_fills_positions_and_pnl(session: Session) -> None:
    await session.engine.submit_order("BTCUSDT", "buy", D("0.02"))
    await session.engine.submit_order("BTCUSDT", "sell", D("0.01"))
    h = session.headers(READ_TOKEN)
    fills = (await session.client.get("/api/fills", headers=h)).json()["fills"]
    assert [f["side"] for f in fills] == ["sell", "buy"]  # newest first
    assert fills[0]["price"] == "65000.00" and fills[0]["quantity"] == "0.01"
    assert D(fills[0]["notional"]) == D("650")
    assert (await session.client.get("/api/fills?symbol=ETHUSDT", headers=h)).json()["fills"] == []
    assert len((await session.client.get("/api/fills?limit=1", headers=h)).json()["fills"]) == 1

    body = (await session.client.get("/api/positions", headers=h)).json()
    (position,) = body["positions"]
    assert position["symbol"] == "BTCUSDT" and position["quantity"] == "0.01" and position["side"] == "buy"
    # Bought and sold at one price: realized PnL is minus the sell's share of fees, a Decimal string.
    assert D(body["realized_pnl"]["BTCUSDT"]) < 0
    assert body["realized_pnl"]["BTCUSDT"] == position["realized_pnl"]


async def test_balances_breakers_dead_letters_failure_rates_alerts(session: Session) -> None:
    h = session.headers(READ_TOKEN)
    balances = (await session.client.get("/api/balances", headers=h)).json()["balances"]
    usdt = next(b for b in balances if b["asset"] == "USDT")
    assert isinstance(usdt["total"], str) and D(usdt["locked"]) == D(usdt["total"]) - D(usdt["available"])
    breakers = (await session.client.get("/api/breakers", headers=h)).json()
    assert breakers["engine"] == "closed"
    assert (await session.client.get("/api/dead-letters", headers=h)).json() == {"dead_letters": []}
    assert (await session.client.get("/api/failure-rates", headers=h)).json()["failure_rates"] == {}
    await session.engine.control.halt(actor="cli", reason="drill")
    alerts = (await session.client.get("/api/alerts", headers=h)).json()["alerts"]
    assert alerts[0]["source"] == "control" and "halt by cli" in alerts[0]["message"]


async def test_reconciliation_drift_and_quote_ages(session: Session) -> None:
    h = session.headers(READ_TOKEN)
    body = (await session.client.get("/api/reconciliation", headers=h)).json()["reconciliation"]
    assert body == {"at_start": None, "last_run": None, "orphan_fills": []}  # no journal, no run yet
    await session.engine.reconcile_open_orders()
    last_run = (await session.client.get("/api/reconciliation", headers=h)).json()["reconciliation"][
        "last_run"
    ]
    assert last_run["looked_up"] == 0 and last_run["at"].startswith("20")
    await session.engine.subscribe(["BTCUSDT"])
    with anyio.fail_after(5):
        while "BTCUSDT" not in (
            quotes := (await session.client.get("/api/quotes", headers=h)).json()["quotes"]
        ):
            await anyio.sleep(0.05)
    quote = quotes["BTCUSDT"]
    assert D(quote["bid"]) < D(quote["ask"]) and quote["age"] is not None and quote["stale"] is None


async def test_breaker_changes_and_dead_letters_show_up(session: Session) -> None:
    # The hub hears breaker changes through the engine's hook; dead letters come from the seam.
    session.engine.plugins.hooks.hook.autotrader_on_breaker_state(name="paper-requests", state="open")  # type: ignore[union-attr]
    h = session.headers(READ_TOKEN)
    breakers = (await session.client.get("/api/breakers", headers=h)).json()
    assert breakers["breakers"] == {"paper-requests": "open"}
    alerts = (await session.client.get("/api/alerts", headers=h)).json()["alerts"]
    assert alerts[0]["level"] == "critical" and "paper-requests opened" in alerts[0]["message"]


async def test_rate_limit_usage_and_reconnects_come_from_the_engine_hooks(session: Session) -> None:
    hook = session.engine.plugins.hooks.hook  # type: ignore[union-attr]
    h = session.headers(READ_TOKEN)
    assert (await session.client.get("/api/rate-limits", headers=h)).json() == {"rate_limits": {}}
    hook.autotrader_on_rate_limit_wait(name="paper-orders", seconds=0.25)
    hook.autotrader_on_rate_limit_wait(name="paper-orders", seconds=1.5)
    hook.autotrader_on_reconnect(broker="paper", reason="server_notice")
    usage = (await session.client.get("/api/rate-limits", headers=h)).json()["rate_limits"]["paper-orders"]
    assert usage["waits"] == 2 and usage["waited_seconds"] == 1.75 and usage["longest_wait"] == 1.5
    assert usage["last_wait_at"].endswith("+00:00")
    alerts = (await session.client.get("/api/alerts", headers=h)).json()["alerts"]
    assert alerts[0]["message"] == "paper stream reconnected: server_notice"


async def test_state_is_everything_the_page_shows(session: Session) -> None:
    order = await resting(session)
    await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    body = (await session.client.get("/api/state", headers=session.headers(READ_TOKEN))).json()
    assert body["you"] == {"name": "wallboard", "role": "read"}
    assert [o["client_order_id"] for o in body["open_orders"]] == [order.client_order_id]
    assert len(body["fills"]) == 1 and body["positions"][0]["quantity"] == "0.01"
    assert body["status"]["trading_state"] == "active"
    assert {"balances", "breakers", "dead_letters", "rate_limits", "alerts", "realized_pnl"} <= set(body)


# -- actions -------------------------------------------------------------------------------
async def test_halt_reducing_only_resume_are_audited_with_the_token_name(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    post = session.client.post
    with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
        body = (
            await post("/api/actions/halt", json={"reason": "maintenance"}, headers=session.headers())
        ).json()
    assert body == {"ok": True, "action": "halt", "actor": "web:alice", "trading_state": "halted"}
    with pytest.raises(RiskRejected):
        await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    audit = [r for r in caplog.records if r.name == "autotrader.audit"]
    assert audit and audit[-1].actor == "web:alice" and audit[-1].action == "halt"  # type: ignore[attr-defined]
    assert audit[-1].reason == "maintenance"  # type: ignore[attr-defined]

    body = (await post("/api/actions/reducing-only", headers=session.headers())).json()
    assert body["trading_state"] == "reducing"
    body = (await post("/api/actions/resume", headers=session.headers())).json()
    assert body["trading_state"] == "active"
    assert (await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))).status is OrderStatus.FILLED


async def test_cancel_one_order_cancels_it_at_the_paper_broker(session: Session) -> None:
    keep, target = await resting(session), await resting(session, "59000")
    assert target.client_order_id in await broker_open_ids(session)
    response = await session.client.post(
        f"/api/orders/{target.client_order_id}/cancel", headers=session.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["order"]["client_order_id"] == target.client_order_id
    assert target.status is OrderStatus.CANCELED
    assert await broker_open_ids(session) == {keep.client_order_id}

    again = await session.client.post(
        f"/api/orders/{target.client_order_id}/cancel", headers=session.headers()
    )
    refusal(again, 409, "order_not_open")
    unknown = await session.client.post("/api/orders/nope-123/cancel", headers=session.headers())
    refusal(unknown, 404, "unknown_order")


async def test_a_broker_failure_is_a_502_and_lands_in_the_dead_letter_queue(session: Session) -> None:
    order = await resting(session)
    session.adapter.faults.fail_next(
        "cancel", AuthenticationError("api key revoked", broker="paper"), times=5
    )
    response = await session.client.post(
        f"/api/orders/{order.client_order_id}/cancel", headers=session.headers()
    )
    body = refusal(response, 502, "broker_error")
    assert "AuthenticationError" in body["message"] and "api key revoked" in body["message"]
    assert order.client_order_id in await broker_open_ids(session)  # nothing pretended
    # A submit whose outcome is unknown waits in the dead-letter queue for a human.
    session.adapter.faults.fail_next("submit", RequestTimeout("no reply", broker="paper"), times=20)
    with pytest.raises(RequestTimeout):
        await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    letters = (await session.client.get("/api/dead-letters", headers=session.headers(READ_TOKEN))).json()
    (letter,) = letters["dead_letters"]
    assert letter["operation"] == "submit" and letter["error_type"] == "RequestTimeout"
    assert letter["payload"]["quantity"] == "0.01"


async def test_cancel_all_and_per_symbol(session: Session) -> None:
    btc = [await resting(session), await resting(session, "59000")]
    eth = await session.engine.submit_order("ETHUSDT", "buy", D("0.1"), order_type="limit", limit_price="100")
    body = (
        await session.client.post(
            "/api/actions/cancel-all", json={"symbol": "ETHUSDT"}, headers=session.headers()
        )
    ).json()
    assert body["requested"] == [eth.client_order_id] and body["failures"] == {}
    assert await broker_open_ids(session) == {o.client_order_id for o in btc}
    body = (await session.client.post("/api/actions/cancel-all", headers=session.headers())).json()
    assert sorted(body["requested"]) == sorted(o.client_order_id for o in btc)
    assert await broker_open_ids(session) == set()


async def test_flatten_one_symbol_then_all(session: Session) -> None:
    await session.engine.submit_order("BTCUSDT", "buy", D("0.02"))
    await session.engine.submit_order("ETHUSDT", "buy", D("0.5"))
    body = (
        await session.client.post(
            "/api/actions/flatten", json={"symbol": "BTCUSDT"}, headers=session.headers()
        )
    ).json()
    assert [o["symbol"] for o in body["orders"]] == ["BTCUSDT"]
    positions = session.engine.control.positions()
    assert positions["BTCUSDT"].is_flat and positions["ETHUSDT"].quantity == D("0.5")
    body = (await session.client.post("/api/actions/flatten", json={}, headers=session.headers())).json()
    assert [o["symbol"] for o in body["orders"]] == ["ETHUSDT"]
    assert all(p.is_flat for p in session.engine.control.positions().values())


async def test_kill_switch_then_resume_is_refused(session: Session) -> None:
    order = await resting(session)
    await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    response = await session.client.post(
        "/api/actions/kill", json={"reason": "drill"}, headers=session.headers()
    )
    body = response.json()
    assert response.status_code == 200 and body["trading_state"] == "halted"
    assert body["kill_report"]["reason"] == "drill (by web:alice)" and body["kill_report"]["canceled"] == 1
    assert order.status is OrderStatus.CANCELED
    status = (await session.client.get("/api/status", headers=session.headers())).json()
    assert status["killed"] is True and status["kill_report"]["reason"] == "drill (by web:alice)"
    refusal(await session.client.post("/api/actions/resume", headers=session.headers()), 409, "conflict")


# -- bad requests --------------------------------------------------------------------------
async def test_malformed_and_invalid_bodies_are_422(session: Session) -> None:
    post = session.client.post
    h = {**session.headers(), "Content-Type": "application/json"}
    refusal(await post("/api/actions/halt", content=b"{not json", headers=h), 422, "malformed_json")
    refusal(await post("/api/actions/halt", content=b"\xff\xfe", headers=h), 422, "malformed_json")
    refusal(await post("/api/actions/halt", content=b"[1, 2]", headers=h), 422, "invalid_body")
    body = refusal(
        await post("/api/actions/halt", json={"reason": "x", "force": True}, headers=h), 422, "invalid_body"
    )
    assert "force" in body["message"]
    refusal(await post("/api/actions/halt", json={"reason": "x" * 201}, headers=h), 422, "invalid_body")
    refusal(await post("/api/actions/flatten", json={"symbol": "../../etc"}, headers=h), 422, "invalid_body")
    refusal(await post("/api/actions/resume", json={"now": 1}, headers=h), 422, "invalid_body")
    assert session.engine.control.trading_state is TradingState.ACTIVE
    assert all(p.is_flat for p in session.engine.control.positions().values())


async def test_oversized_body_is_413_by_length_and_while_streaming(session: Session) -> None:
    limit = session.plane.settings.max_body_bytes
    big = b'{"reason": "' + b"x" * limit + b'"}'
    response = await session.client.post("/api/actions/halt", content=big, headers=session.headers())
    refusal(response, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    response = await session.client.post("/api/actions/halt", content=chunks(), headers=session.headers())
    refusal(response, 413, "payload_too_large")
    assert session.engine.control.trading_state is TradingState.ACTIVE


async def test_unknown_route_and_wrong_method_are_json(session: Session) -> None:
    refusal(await session.client.get("/api/nothing", headers=session.headers()), 404, "not_found")
    refusal(
        await session.client.get("/api/actions/kill", headers=session.headers()), 405, "method_not_allowed"
    )
    assert session.engine.control.kill_report is None


async def test_an_unexpected_failure_is_a_json_500_without_a_trace(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autotrader_web import views

    def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "status_view", broken)
    response = await session.client.get("/api/status", headers=session.headers())
    body = refusal(response, 500, "internal_error")
    assert "secret internals" not in response.text and "RuntimeError" not in body["message"]


# -- the page shell ------------------------------------------------------------------------
async def test_page_and_assets_need_no_token_and_hold_no_data(session: Session) -> None:
    await session.engine.submit_order("BTCUSDT", "buy", D("0.01"))
    page = await session.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="login"' in page.text and "BTCUSDT" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    script = await session.client.get("/static/app.js")
    assert script.status_code == 200 and "Authorization" in script.text
    assert "localStorage" not in script.text and "document.cookie" not in script.text
    assert (await session.client.get("/static/style.css")).status_code == 200
    assert "set-cookie" not in page.headers
