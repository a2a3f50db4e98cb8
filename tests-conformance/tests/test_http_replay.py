"""HTTP replay through pytest-httpx: matching, order, flags, faults and unexpected requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.http_replay import HttpReplay
from autotrader_conformance.recordings import parse_recording
from pytest_httpx import HTTPXMock

URL = "https://api.x.test/v1/order"


def _replay(httpx_mock: HTTPXMock, exchanges: list[dict[str, Any]]) -> tuple[HttpReplay, ReplayMonitor]:
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
    replay = HttpReplay(httpx_mock, recording.http, monitor)
    replay.install()
    return replay, monitor


def _exchange(**request: Any) -> dict[str, Any]:
    response = request.pop("response", {"status": 200, "json": {"ok": True}})
    label = request.pop("label", None)
    flags: dict[str, Any] = {key: request.pop(key) for key in ("optional", "reusable") if key in request}
    entry: dict[str, Any] = {
        "request": {"method": "GET", "url": URL, **request},
        "response": response,
        **flags,
    }
    if label:
        entry["label"] = label
    return entry


@pytest.mark.anyio
async def test_any_params_match_and_decimals_come_back_verbatim(httpx_mock: HTTPXMock) -> None:
    replay, monitor = _replay(
        httpx_mock,
        [
            _exchange(
                params={"symbol": "BTCUSDT", "timestamp": "<ANY>", "signature": "<ANY>"},
                headers={"X-KEY": "<ANY>"},
                label="query",
                response={"status": 200, "json": {"price": "0.10", "qty": Decimal("1.500")}},
            )
        ],
    )
    async with httpx.AsyncClient() as client:
        response = await client.get(
            URL, params={"signature": "abc", "symbol": "BTCUSDT", "timestamp": "17"}, headers={"X-KEY": "k"}
        )
    assert response.text == '{"price":"0.10","qty":1.500}'
    assert response.headers["content-type"] == "application/json"
    assert len(replay.requests_for("query")) == 1
    assert monitor.served_count("query") == 1
    assert monitor.failures == []


@pytest.mark.anyio
async def test_same_request_gets_recorded_replies_in_order(httpx_mock: HTTPXMock) -> None:
    _replay(
        httpx_mock,
        [
            _exchange(response={"status": 200, "text": "first"}),
            _exchange(response={"status": 200, "text": "second"}),
        ],
    )
    async with httpx.AsyncClient() as client:
        assert (await client.get(URL)).text == "first"
        assert (await client.get(URL)).text == "second"


@pytest.mark.anyio
async def test_a_repeated_request_is_caught_as_a_possible_duplicate(httpx_mock: HTTPXMock) -> None:
    replay, monitor = _replay(httpx_mock, [_exchange(method="POST", json={"cid": "c1"}, label="submit")])
    async with httpx.AsyncClient() as client:
        await client.post(URL, json={"cid": "c1"})
        with pytest.raises(httpx.ConnectError):
            await client.post(URL, json={"cid": "c1"})
    assert len(replay.unexpected) == 1
    assert "already used: a repeated request (a duplicate order if this is a submit)" in monitor.failures[0]


@pytest.mark.anyio
async def test_an_unrecorded_request_names_the_closest_exchange_and_the_differences(
    httpx_mock: HTTPXMock,
) -> None:
    _, monitor = _replay(httpx_mock, [_exchange(params={"symbol": "BTCUSDT", "side": "BUY"})])
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(URL, params={"symbol": "BTCUSDT", "side": "SELL", "extra": "1"})
        await client.get(URL, params={"symbol": "BTCUSDT", "side": "BUY"})
    message = monitor.failures[0]
    assert "GET https://api.x.test/v1/order?symbol=BTCUSDT&side=SELL&extra=1" in message
    assert "params.side: expected 'BUY', was 'SELL'" in message
    assert "params.extra: not in the recording" in message


@pytest.mark.anyio
async def test_missing_header_fails_the_exchange(httpx_mock: HTTPXMock) -> None:
    _, monitor = _replay(httpx_mock, [_exchange(headers={"X-KEY": "<ANY>"}, optional=True)])
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(URL)
    assert "header 'X-KEY': missing" in monitor.failures[0]


@pytest.mark.anyio
async def test_form_bodies_are_checked_field_by_field(httpx_mock: HTTPXMock) -> None:
    _, monitor = _replay(
        httpx_mock,
        [
            _exchange(method="POST", form={"symbol": "X", "signature": "<ANY>"}),
            _exchange(method="POST", form={"symbol": "Y", "signature": "<ANY>"}, optional=True),
        ],
    )
    async with httpx.AsyncClient() as client:
        ok = await client.post(URL, data={"symbol": "X", "signature": "s1"})
        assert ok.status_code == 200
        with pytest.raises(httpx.ConnectError):
            await client.post(URL, data={"symbol": "Z", "signature": "s2"})
    assert "form.symbol: expected 'Y', was 'Z'" in monitor.failures[0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "error"),
    [("timeout", httpx.ReadTimeout), ("connect_error", httpx.ConnectError), ("read_error", httpx.ReadError)],
)
async def test_transport_failures_are_replayed(
    httpx_mock: HTTPXMock, kind: str, error: type[Exception]
) -> None:
    _, monitor = _replay(httpx_mock, [_exchange(response={"exception": kind}, label="submit")])
    async with httpx.AsyncClient() as client:
        with pytest.raises(error):
            await client.get(URL)
    assert monitor.served_count("submit") == 1


@pytest.mark.anyio
async def test_optional_and_reusable_flags(httpx_mock: HTTPXMock) -> None:
    _replay(
        httpx_mock,
        [
            _exchange(url="https://api.x.test/v1/time", reusable=True, optional=True),
            _exchange(url="https://api.x.test/v1/never", optional=True),
        ],
    )
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get("https://api.x.test/v1/time")).status_code == 200


@pytest.mark.anyio
async def test_recorded_headers_are_replayed_but_framing_headers_are_not(httpx_mock: HTTPXMock) -> None:
    _replay(
        httpx_mock,
        [
            _exchange(
                response={
                    "status": 429,
                    "headers": {"Retry-After": "1", "Content-Length": "999", "Content-Encoding": "gzip"},
                    "text": "slow",
                }
            )
        ],
    )
    async with httpx.AsyncClient() as client:
        response = await client.get(URL)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.text == "slow"


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
@pytest.mark.anyio
async def test_json_body_with_any_and_decimal_numbers(httpx_mock: HTTPXMock) -> None:
    recording_body = {"qty": "0.1", "ts": "<ANY>", "nested": {"sig": "<ANY>"}}
    _, monitor = _replay(httpx_mock, [_exchange(method="POST", json=recording_body)])
    async with httpx.AsyncClient() as client:
        response = await client.post(URL, json={"qty": "0.1", "ts": 5, "nested": {"sig": "x"}})
    assert response.status_code == 200
    assert monitor.failures == []
