"""HttpReply: what error tables and usage-header hooks read, whichever transport carried the request."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.errors import AutotraderError, BrokerError
from autotrader_core.rest import RestClient
from autotrader_core.transports import HttpReply, ReplyHeaders
from pytest_httpx import HTTPXMock


def test_headers_are_case_insensitive_and_repeats_join_like_httpx() -> None:
    headers = ReplyHeaders(
        [(b"X-MBX-USED-WEIGHT-1M", b"12"), (b"Set-Thing", b"a"), (b"set-thing", b"b"), (b"Retry-After", b"3")]
    )
    assert headers.get("x-mbx-used-weight-1m") == "12"
    assert headers["RETRY-AFTER"] == "3"
    assert headers["set-thing"] == "a, b"
    assert headers.get_list("Set-Thing") == ["a", "b"]
    assert "retry-after" in headers and "missing" not in headers
    assert headers.get("missing") is None
    assert list(headers) == ["x-mbx-used-weight-1m", "set-thing", "retry-after"]
    assert len(headers) == 3
    assert headers.raw[0] == (b"X-MBX-USED-WEIGHT-1M", b"12")
    with pytest.raises(KeyError):
        headers["missing"]


def test_reply_repr_and_header_repr_show_no_values() -> None:
    reply = HttpReply(
        401,
        [(b"X-Echo-Key", b"secret-api-key-value")],
        b"{}",
        method="GET",
        url="https://api.example/api/v3/account?signature=deadbeef&timestamp=1",
    )
    shown = f"{reply!r} {reply.headers!r}"
    assert "secret-api-key-value" not in shown
    assert "deadbeef" not in shown
    assert reply.path == "/api/v3/account"
    assert "/api/v3/account" in repr(reply)


def test_text_uses_the_charset_and_never_raises() -> None:
    latin = HttpReply(200, [], "prix: 5€".encode("cp1252"), encoding="cp1252", method="GET", url="http://h/x")
    assert latin.text == "prix: 5€"
    broken = HttpReply(200, [], b'{"a":"\xff"}', method="GET", url="http://h/x")
    assert broken.text == '{"a":"\ufffd"}'
    assert HttpReply(200, [], b'{"q":"1.5"}', method="GET", url="http://h/x").json() == {"q": "1.5"}


@pytest.mark.parametrize("charset", ["base64", "idna", "undefined", "utf\x00", "no-such-codec", ""])
def test_a_charset_that_is_no_text_codec_reads_as_utf8(charset: str) -> None:
    """Whatever charset a server (or httpx's reading of it) names, ``text`` never raises."""
    reply = HttpReply(200, [], '{"a":"é"}'.encode(), encoding=charset, method="GET", url="http://h/x")
    assert reply.encoding == "utf-8"
    assert reply.json() == {"a": "é"}


@pytest.mark.anyio
async def test_httpx_path_hands_the_mapper_the_same_reply_type(httpx_mock: HTTPXMock) -> None:
    """pytest-httpx (the stock transport) and the lean/aiohttp transports give mappers one type."""
    seen: list[HttpReply] = []

    def mapper(reply: HttpReply, body: Any) -> AutotraderError | None:
        seen.append(reply)
        return BrokerError(f"refused on {reply.path}") if reply.status_code == 400 else None

    httpx_mock.add_response(
        url="https://api.example/v1/order?symbol=BTCUSDT",
        json={"price": 1.10},
        headers={"X-Used": "7"},
    )
    httpx_mock.add_response(url="https://api.example/v1/order?symbol=ETHUSDT", status_code=400, json={})
    async with RestClient(broker="demo", base_url="https://api.example", error_mapper=mapper) as rest:
        body = await rest.request("GET", "/v1/order", params={"symbol": "BTCUSDT"})
        with pytest.raises(BrokerError, match="refused on /v1/order"):
            await rest.request("GET", "/v1/order", params={"symbol": "ETHUSDT"})
    assert body == {"price": Decimal("1.10")}
    assert all(type(reply) is HttpReply for reply in seen)
    assert seen[0].headers.get("x-used") == "7"
    assert (seen[0].method, seen[0].path) == ("GET", "/v1/order")


def test_a_custom_transport_never_imports_httpx() -> None:
    """Adapters on the lean transport don't pay httpx's import time (about 45 ms)."""
    code = (
        "import sys\n"
        "from autotrader_core.rest import RestClient\n"
        "from autotrader_core.lean_transport import LeanHttpTransport\n"
        "from autotrader_core.transports import HttpReply\n"
        "RestClient(broker='x', base_url='http://127.0.0.1:9', error_mapper=lambda r, b: None,\n"
        "           transport=LeanHttpTransport())\n"
        "print(sorted(m for m in sys.modules if m == 'httpx' or m.startswith('httpx.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
