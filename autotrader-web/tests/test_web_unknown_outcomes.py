"""An order whose outcome is unknown, as the API shows it and as an operator settles it.

The paper broker's fault plan drops a submit before it reaches the book
(``RequestTimeout``, ``after_apply=False``) on a venue declared with no re-send guarantee
(``lose_next_submit``), so the resolver never guesses and the order stays unknown until someone settles it.
"""

from __future__ import annotations

import logging
from decimal import Decimal as D
from typing import Any

import pytest
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import TransientError
from autotrader_core.models import Order
from web_support import READ_TOKEN, Session, lose_next_submit

pytestmark = pytest.mark.anyio


async def lost_submit(session: Session, price: str = "60000") -> Order:
    """A limit buy whose request never reached the paper book and whose reply was lost."""
    lose_next_submit(session.adapter)
    with pytest.raises(TransientError):
        await session.engine.submit_order(
            "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=price, tag="lost"
        )
    [order] = [o for o in session.engine.control.open_orders() if o.tag == "lost"]
    assert [u.client_order_id for u in session.engine.control.unknown_outcomes()] == [order.client_order_id]
    return order


def refusal(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"], body
    assert "Traceback" not in response.text
    return body


def settle_path(order_id: str) -> str:
    return f"/api/orders/{order_id}/settle"


async def test_unknown_orders_are_listed_and_in_the_page_state(session: Session) -> None:
    order = await lost_submit(session)
    for token in (READ_TOKEN, None):
        headers = session.headers(token) if token else session.headers()
        [listed] = (await session.client.get("/api/unknown", headers=headers)).json()["unknown_outcomes"]
        assert listed["client_order_id"] == order.client_order_id
        assert listed["operation"] == "submit" and listed["reason"] == "reply lost in transit"
        assert listed["since"] and listed["order"]["quantity"] == "0.01" and listed["order"]["side"] == "buy"
    state = (await session.client.get("/api/state", headers=session.headers())).json()
    assert [u["client_order_id"] for u in state["unknown_outcomes"]] == [order.client_order_id]
    status = (await session.client.get("/api/status", headers=session.headers())).json()
    assert status["unknown_orders"] == [order.client_order_id]
    alerts = (await session.client.get("/api/alerts", headers=session.headers())).json()["alerts"]
    assert any(f"outcome unknown for {order.client_order_id}" in a["message"] for a in alerts), alerts
    refusal(await session.client.get("/api/unknown"), 401, "unauthorized")


async def test_an_operator_settles_an_unknown_order_audited_with_the_token_name(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    order = await lost_submit(session)
    cid = order.client_order_id
    with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
        response = await session.client.post(
            settle_path(cid),
            json={"as": "rejected", "reason": "not in the venue's order history"},
            headers=session.headers(),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["action"] == "settle_unknown" and body["actor"] == "web:alice"
    assert body["settled_as"] == "rejected" and body["still_unknown"] is False
    assert body["order"]["status"] == "rejected" and body["order"]["is_open"] is False
    assert order.status is OrderStatus.REJECTED
    assert session.engine.control.unknown_outcomes() == []
    [audit] = [r for r in caplog.records if r.name == "autotrader.audit"]
    assert audit.action == "settle_unknown" and audit.actor == "web:alice"  # type: ignore[attr-defined]
    assert audit.client_order_id == cid and audit.as_ == "rejected"  # type: ignore[attr-defined]
    assert audit.reason == "not in the venue's order history"  # type: ignore[attr-defined]
    assert audit.outcome == "settled"  # type: ignore[attr-defined]
    assert audit.created > 0  # when
    listed = (await session.client.get("/api/unknown", headers=session.headers())).json()
    assert listed == {"unknown_outcomes": []}
    alerts = (await session.client.get("/api/alerts", headers=session.headers())).json()["alerts"]
    assert any("settle_unknown by web:alice" in a["message"] for a in alerts), alerts
    assert any(a["source"] == "unknown" and f"{cid} settled: rejected" in a["message"] for a in alerts), (
        alerts
    )


async def test_look_up_asks_the_broker_again_and_needs_no_reason(session: Session) -> None:
    order = await lost_submit(session)
    response = await session.client.post(
        settle_path(order.client_order_id), json={"as": "look_up"}, headers=session.headers()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # The paper book never saw it and the venue gives no re-send guarantee: still unknown, not guessed.
    assert body["still_unknown"] is True and body["order"]["status"] == "pending_submit"
    assert session.engine.control.unknown_outcomes()


async def test_settle_refusals_are_typed_and_change_nothing(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    order = await lost_submit(session)
    cid = order.client_order_id
    post = session.client.post
    good = {"as": "canceled", "reason": "the venue shows it canceled"}
    with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
        refusal(await post(settle_path(cid), json=good), 401, "unauthorized")
        body = refusal(
            await post(settle_path(cid), json=good, headers=session.headers(READ_TOKEN)), 403, "forbidden"
        )
        assert "read-only" in body["message"]
        refusal(
            await post(settle_path("no-such-order"), json=good, headers=session.headers()),
            404,
            "unknown_order",
        )
        body = refusal(
            await post(settle_path(cid), json={"as": "gone", "reason": "x"}, headers=session.headers()),
            422,
            "invalid_body",
        )
        assert "as:" in body["message"] and "look_up" in body["message"]
        refusal(
            await post(settle_path(cid), json={"reason": "x"}, headers=session.headers()), 422, "invalid_body"
        )
        for reason in ("", "   "):
            body = refusal(
                await post(
                    settle_path(cid), json={"as": "rejected", "reason": reason}, headers=session.headers()
                ),
                422,
                "reason_required",
            )
        refusal(
            await post(settle_path(cid), json={**good, "force": True}, headers=session.headers()),
            422,
            "invalid_body",
        )
        refusal(
            await post(
                settle_path(cid), json={"as": "rejected", "reason": "x" * 201}, headers=session.headers()
            ),
            422,
            "invalid_body",
        )
        refusal(
            await post(settle_path(cid), content=b"{not json", headers=session.headers()),
            422,
            "malformed_json",
        )
        big = {"as": "rejected", "reason": "x" * session.plane.settings.max_body_bytes}
        refusal(await post(settle_path(cid), json=big, headers=session.headers()), 413, "payload_too_large")
    # Nothing above reached the engine: no audit line, the order still unknown and open.
    assert [r for r in caplog.records if r.name == "autotrader.audit"] == []
    assert order.is_open and [u.client_order_id for u in session.engine.control.unknown_outcomes()] == [cid]

    # A fill is never invented: the paper broker lists none for it.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
        body = refusal(
            await post(
                settle_path(cid),
                json={"as": "filled", "reason": "I think it filled"},
                headers=session.headers(),
            ),
            409,
            "refused",
        )
    assert "never invented" in body["message"]
    assert order.is_open
    # The attempt is audited as what it was: a refusal, not a decision taken.
    [audit] = [r for r in caplog.records if r.name == "autotrader.audit"]
    assert audit.outcome == "refused" and "never invented" in audit.error  # type: ignore[attr-defined]


async def test_an_order_whose_outcome_is_known_is_not_settled(session: Session) -> None:
    known = await session.engine.submit_order(
        "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price="60000"
    )
    response = await session.client.post(
        settle_path(known.client_order_id),
        json={"as": "canceled", "reason": "it is not unknown"},
        headers=session.headers(),
    )
    refusal(response, 409, "outcome_not_unknown")
    assert known.status is OrderStatus.ACCEPTED
    order = await lost_submit(session)
    ok = await session.client.post(
        settle_path(order.client_order_id),
        json={"as": "working", "reason": "open at the venue"},
        headers=session.headers(),
    )
    assert ok.status_code == 200 and order.status is OrderStatus.ACCEPTED
    again = await session.client.post(
        settle_path(order.client_order_id),
        json={"as": "canceled", "reason": "twice"},
        headers=session.headers(),
    )
    refusal(again, 409, "outcome_not_unknown")
