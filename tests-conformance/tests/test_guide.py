"""The adapter guide ships with the kit, and the kit's messages point at what the user has."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from autotrader_conformance import guide
from autotrader_conformance.catalogue import get_spec
from autotrader_conformance.recordings import RecordingError, dump_recording, load_recording
from autotrader_conformance.replays import decide_scenario
from autotrader_core.capabilities import Feature
from autotrader_core.errors import RequestTimeout
from autotrader_core.rest import RestClient


def test_the_guide_is_readable_from_the_installed_kit(capsys: pytest.CaptureFixture[str]) -> None:
    assert guide.main([]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Writing an autotrader broker adapter")
    assert "## 5. Recording schema" in text
    assert guide.main(["--path"]) == 0
    assert Path(capsys.readouterr().out.strip()) == guide.guide_path()


def test_a_missing_recording_points_at_the_shipped_guide(tmp_path: Path) -> None:
    decision = decide_scenario(get_spec("TC-ORD-02"), set(Feature), skip_scenarios={}, recordings=tmp_path)
    assert decision.action == "fail"
    assert "see the adapter guide: python -m autotrader_conformance.guide" in decision.reason
    assert "docs/writing-an-adapter.md" not in decision.reason


def _recipe_namespace() -> dict[str, Any]:
    """Run the guide's recording-transport recipe as written (its first code block of that name)."""
    text = guide.guide_text()
    start = text.index("```python\n# scripts/recording.py") + len("```python\n")
    namespace: dict[str, Any] = {"__name__": "recipe"}
    exec(compile(text[start : text.index("```", start)], "writing-an-adapter.md", "exec"), namespace)
    return namespace


@pytest.mark.anyio
async def test_the_recording_recipe_records_a_fake_exchange_through_the_rest_client(tmp_path: Path) -> None:
    """The guide's recipe, run as written: host rewriting, a timeout, exact numbers, a loadable file."""
    recipe = _recipe_namespace()

    def fake_exchange(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/order" and request.method == "POST":
            raise httpx.ReadTimeout("held", request=request)
        return httpx.Response(
            200,
            content=b'{"serverTime": 1, "price": 1.50}',
            headers={"Content-Type": "application/json", "Date": "Sun, 06 Dec 2026 04:00:00 GMT"},
        )

    recorder = recipe["RecordingTransport"](
        httpx.MockTransport(fake_exchange), origin=("http://127.0.0.1:8123", "https://api.mybroker.test")
    )
    client = RestClient(
        broker="mybroker",
        base_url="http://127.0.0.1:8123",
        error_mapper=lambda reply, text: None,
        default_headers={"X-MBX-APIKEY": "real-key"},
        transport=recorder,
    )
    async with client:
        await client.request("GET", "/api/v3/time", params={"timestamp": 123, "symbol": "BTCUSDT"})
        recorder.label = "submit"
        with pytest.raises(RequestTimeout):
            await client.request("POST", "/api/v3/order", json_body={"quantity": Decimal("0.00100")})
    time, submit = recorder.exchanges
    assert time["request"] == {
        "method": "GET",
        "url": "https://api.mybroker.test/api/v3/time",
        "params": {"timestamp": "<ANY>", "symbol": "BTCUSDT"},
        "headers": {"x-mbx-apikey": "<ANY>"},
    }
    assert submit["label"] == "submit" and submit["response"] == {"exception": "timeout"}
    recording = {
        "id": "TC-X-01",
        "description": "composed",
        "source": "the guide's recipe",
        "provenance": "composed: a fake exchange of this test",
        "http": recorder.exchanges,
    }
    path = tmp_path / "TC-X-01.json"
    path.write_text(dump_recording(recording))
    assert '"price": 1.50' in path.read_text()  # written as the broker sent it: not rounded, not a string
    loaded = load_recording(path)
    assert loaded.http[0].response.json == {"serverTime": 1, "price": Decimal("1.50")}
    assert loaded.http[0].response.headers["date"] == "Sun, 06 Dec 2026 04:00:00 GMT"
    assert loaded.http[1].request.body == {"quantity": "0.00100"}  # the core sends decimal strings
    assert "real-key" not in path.read_text()


def test_dump_recording_refuses_floats_and_invalid_recordings() -> None:
    with pytest.raises(TypeError, match=r"float 0\.1"):
        dump_recording(
            {
                "id": "TC-X-01",
                "description": "d",
                "source": "s",
                "provenance": "composed: t",
                "input": {"p": [0.1]},
            }
        )
    with pytest.raises(RecordingError, match="description: required"):
        dump_recording({"id": "TC-X-01", "source": "s"})
