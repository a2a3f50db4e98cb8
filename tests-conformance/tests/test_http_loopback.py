"""Loopback HTTP replay: same matching as the pytest-httpx replay, over a real socket."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.http_loopback import HttpLoopbackServer
from autotrader_conformance.recordings import parse_recording

pytestmark = pytest.mark.anyio
URL = "https://api.x.test/v1/order"


def _server(exchanges: list[dict[str, Any]]) -> tuple[HttpLoopbackServer, ReplayMonitor]:
    recording = parse_recording(
        {
            "id": "TC-CON-01",
            "description": "d",
            "source": "s",
            "provenance": "composed: test",
            "http": exchanges,
        }
    )
    monitor = ReplayMonitor()
    return HttpLoopbackServer(recording.http, monitor), monitor


def _exchange(method: str = "GET", response: Any = None, **request: Any) -> dict[str, Any]:
    flags: dict[str, Any] = {
        key: request.pop(key) for key in ("optional", "reusable", "label") if key in request
    }
    return {
        "request": {"method": method, "url": URL, **request},
        "response": response or {"status": 200, "json": {"ok": True}},
        **flags,
    }


async def test_answers_from_the_recording_on_the_recorded_origin() -> None:
    server, monitor = _server(
        [
            _exchange(
                "POST",
                params={"symbol": "BTCUSDT", "timestamp": "<ANY>"},
                form={"price": "0.10", "signature": "<ANY>"},
                headers={"X-KEY": "<ANY>"},
                label="submit",
                response={"status": 201, "headers": {"X-Used": "7"}, "json": {"qty": Decimal("1.500")}},
            ),
            _exchange(response={"status": 200, "text": "second"}),
        ]
    )
    async with server, httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post(
            "/v1/order",
            params={"timestamp": "17", "symbol": "BTCUSDT"},
            content=b"price=0.10&signature=abc",
            headers={"X-KEY": "k", "Content-Type": "application/x-www-form-urlencoded"},
        )
        second = await client.get("/v1/order")
    assert (first.status_code, first.text, first.headers["x-used"]) == (201, '{"qty":1.500}', "7")
    assert second.text == "second"
    (request,) = server.replay.requests_for("submit")
    assert str(request.url).startswith("https://api.x.test/v1/order?")  # matched as the broker's URL
    assert server.replay.unrequested() == []
    assert monitor.failures == []


async def test_a_repeat_of_a_used_exchange_is_reported_and_dropped() -> None:
    server, monitor = _server([_exchange("POST", label="submit"), _exchange(reusable=True)])
    async with server, httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/v1/order")
        assert (await client.get("/v1/order")).status_code == 200
        assert (await client.get("/v1/order")).status_code == 200  # reusable: answered again
        with pytest.raises(httpx.TransportError):
            await client.post("/v1/order")  # a second submit: a duplicate order
    assert len(monitor.failures) == 1
    assert "already used" in monitor.failures[0]
    assert len(server.replay.requests_for("submit")) == 1


async def test_unexpected_request_fails_with_the_closest_exchange() -> None:
    server, monitor = _server([_exchange(params={"symbol": "BTCUSDT"})])
    async with server, httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/v1/order", params={"symbol": "ETHUSDT"})
    assert "params.symbol: expected 'BTCUSDT', was 'ETHUSDT'" in monitor.failures[0]
    assert [e.index for e in server.replay.unrequested()] == [0]


async def test_recorded_transport_failures_are_replayed_on_the_socket() -> None:
    server, monitor = _server(
        [_exchange(response={"exception": "timeout"}), _exchange(response={"exception": "read_error"})]
    )
    async with server, httpx.AsyncClient(base_url=server.url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/v1/order")
        with pytest.raises(httpx.TransportError):
            await client.get("/v1/order")
    assert monitor.failures == []
    assert server.replay.unrequested() == []


async def test_exchanges_are_chosen_as_pytest_httpx_chooses_them() -> None:
    """Chosen on method, URL, params and JSON/text body; the form is then checked, not used to choose."""
    server, monitor = _server(
        [_exchange("POST", form={"side": "BUY"}), _exchange("POST", form={"side": "SELL"}, optional=True)]
    )
    async with server, httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(httpx.TransportError):
            await client.post("/v1/order", content=b"side=SELL")
    assert "form.side: expected 'BUY', was 'SELL'" in monitor.failures[0]
