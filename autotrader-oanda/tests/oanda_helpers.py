"""Helpers for the OANDA adapter's own tests: settings, recordings, pytest-httpx replay."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import ANY

from autotrader_core.events import OrderEvent
from autotrader_oanda import OandaAdapter, OandaSettings
from pydantic import SecretStr
from pytest_httpx import HTTPXMock

RECORDINGS = Path(__file__).parent / "recordings"
ACCOUNT = "101-004-1435156-001"
FAKE_TOKEN = "f4ke0000000000000000000000000000-f4ke0000000000000000000000000000"
REST = f"https://api-fxpractice.oanda.com/v3/accounts/{ACCOUNT}"


def make_settings(**overrides: Any) -> OandaSettings:
    """Settings with a fake token; never reads the developer's environment or .env."""
    values: dict[str, Any] = {"token": SecretStr(FAKE_TOKEN), "account_id": ACCOUNT}
    values.update(overrides)
    return OandaSettings(_env_file=None, **values)  # type: ignore[call-arg]


def events_of(adapter: OandaAdapter) -> AsyncGenerator[OrderEvent, None]:
    """The adapter's event stream as the async generator it is (so ``aclosing`` can close it)."""
    stream = adapter.stream_events()
    assert isinstance(stream, AsyncGenerator)
    return stream


def load(name: str) -> dict[str, Any]:
    """A recording (``recordings/<name>.json``), numbers as Decimal."""
    path = RECORDINGS / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def _any(value: Any) -> Any:
    if value == "<ANY>":
        return ANY
    if isinstance(value, dict):
        return {k: _any(v) for k, v in value.items()}
    return value


def replay(httpx_mock: HTTPXMock, name: str, *, skip_optional: bool = False) -> dict[str, Any]:
    """Register a recording's http exchanges with pytest-httpx, in file order."""
    recording = load(name)
    for exchange in recording.get("http", []):
        if skip_optional and exchange.get("optional"):
            continue
        request, response = exchange["request"], exchange["response"]
        matchers: dict[str, Any] = {"method": request["method"], "url": request["url"]}
        if "params" in request:
            matchers["match_params"] = _any(request["params"])
        if "json" in request:
            matchers["match_json"] = _any(request["json"])
        body: dict[str, Any] = {}
        if "json" in response:
            body["content"] = json.dumps(response["json"], default=str).encode()
        elif "text" in response:
            body["text"] = response["text"]
        httpx_mock.add_response(
            status_code=response.get("status", 200),
            headers=response.get("headers", {}),
            is_optional=bool(exchange.get("optional")),
            is_reusable=bool(exchange.get("reusable")),
            **matchers,
            **body,
        )
    return recording


def reply_of(name: str, label: str, index: int = 0) -> dict[str, Any]:
    """The JSON reply of the ``index``-th exchange labelled ``label`` in a recording."""
    exchanges = [x for x in load(name)["http"] if x.get("label") == label]
    body: dict[str, Any] = exchanges[index]["response"]["json"]
    return body
