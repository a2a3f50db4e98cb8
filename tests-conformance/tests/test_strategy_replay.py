"""StrategyReplay: one trading session from two recordings, each stream on its own server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from autotrader_conformance.recordings import dump_recording
from autotrader_conformance.strategy_replay import RecordedIds, StrategyReplay

pytestmark = pytest.mark.anyio

ACCOUNT = "/v3/accounts/1/"
PRICES = ACCOUNT + "pricing/stream"
TRANSACTIONS = ACCOUNT + "transactions/stream"


def _write(path: Path, http: list[dict[str, Any]], stream: list[dict[str, Any]]) -> Path:
    recording = {
        "id": path.stem,
        "description": "a kit test's session",
        "source": "made up for the kit's own test",
        "provenance": "composed: by hand for this test",
        "http": http,
        "stream": {"kind": "lines", "connections": [stream]},
    }
    path.write_text(dump_recording(recording))
    return path


def _get(path: str, label: str, body: dict[str, str]) -> dict[str, Any]:
    return {
        "label": label,
        "request": {"method": "GET", "url": f"https://api.example{path}"},
        "response": {"status": 200, "json": body},
    }


def _session(tmp_path: Path) -> StrategyReplay:
    trading = _write(
        tmp_path / "TRADE.json",
        [_get("/summary", "summary", {"ok": "yes"}), _get("/never", "never", {})],
        [{"request": {"path": TRANSACTIONS}}, {"line": {"type": "ORDER_FILL", "units": "1"}}],
    )
    quotes = _write(
        tmp_path / "QUOTES.json",
        [_get("/pricing", "quote", {"bid": "1.08000"})],
        [{"request": {"path": PRICES}}, {"line": {"type": "PRICE", "bid": "1.08000"}}],
    )
    return StrategyReplay(trading, quotes)


async def _first_line(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    async with client.stream("GET", url) as reply:
        async for line in reply.aiter_lines():
            return dict(json.loads(line))
    raise AssertionError(f"{url}: no line")


async def test_one_stream_host_routes_each_connection_by_path_and_rest_of_both_files_is_served(
    tmp_path: Path,
) -> None:
    async with _session(tmp_path) as replay, httpx.AsyncClient() as client:
        assert (await _first_line(client, replay.stream_url + TRANSACTIONS))["type"] == "ORDER_FILL"
        assert (await _first_line(client, replay.stream_url + PRICES + "?instruments=EUR_USD"))[
            "type"
        ] == "PRICE"
        assert (await client.get(replay.base_url + "/summary")).json() == {"ok": "yes"}
        assert (await client.get(replay.base_url + "/pricing")).json() == {"bid": "1.08000"}
        assert [r.url.path for r in replay.requests("quote")] == ["/pricing"]
    # The one exchange nobody asked for is reported; both scripts were played.
    assert replay.problems() == ["http[1] 'never' GET https://api.example/never was never requested"]
    with pytest.raises(AssertionError, match="never requested"):
        replay.check()


async def test_an_unplayed_stream_and_an_unexpected_request_are_problems(tmp_path: Path) -> None:
    async with _session(tmp_path) as replay, httpx.AsyncClient() as client:
        await client.get(replay.base_url + "/summary")
        await client.get(replay.base_url + "/never")
        with pytest.raises(httpx.RemoteProtocolError):  # not recorded: the connection is dropped
            await client.get(replay.base_url + "/orders")
    problems = replay.problems()
    assert any("GET https://api.example/orders" in p for p in problems), problems
    assert sum("was never opened" in p for p in problems) == 2, problems  # neither stream played
    assert "http[2] 'quote' GET https://api.example/pricing was never requested" in problems


def test_recorded_ids_are_handed_out_in_order_and_not_one_more() -> None:
    ids = RecordedIds("atreadme01", "atreadme02")
    assert (ids.next_id(), ids.next_id(), ids.prefix) == ("atreadme01", "atreadme02", "at")
    with pytest.raises(AssertionError, match="more orders than the recording has"):
        ids.next_id()
