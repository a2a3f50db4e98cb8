"""Recording loader: valid files load; every schema problem is reported with its path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from autotrader_conformance.catalogue import get_spec
from autotrader_conformance.recordings import (
    PROVENANCE_KINDS,
    RecordingError,
    load_recording,
    parse_recording,
)

FAKEX = Path(__file__).parent / "recordings_fakex"


def _base(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "TC-BAL-01",
        "description": "balances",
        "source": "protocols.md §1.4",
        "provenance": "composed: protocols.md §1.4 documented example",
        "expect": {"balances": {"USD": {"total": "1", "available": "1"}}},
        "http": [
            {
                "label": "account",
                "request": {
                    "method": "GET",
                    "url": "https://api.x.test/v1/account",
                    "params": {"ts": "<ANY>"},
                },
                "response": {"status": 200, "json": {"balances": []}},
            }
        ],
    }
    data.update(overrides)
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str = "TC-BAL-01.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("path", sorted(FAKEX.glob("TC-*.json")), ids=lambda p: p.stem)
def test_every_shipped_fakex_recording_is_valid(path: Path) -> None:
    recording = load_recording(path, get_spec(path.stem))
    assert recording.id == path.stem
    assert recording.source
    assert recording.provenance.startswith(PROVENANCE_KINDS)


def test_a_valid_recording_loads_with_decimals(tmp_path: Path) -> None:
    path = tmp_path / "TC-BAL-01.json"
    path.write_text(json.dumps(_base()).replace('"1"', "1.10"))
    recording = load_recording(path, get_spec("TC-BAL-01"))
    assert recording.expect["balances"]["USD"]["total"] == Decimal("1.10")
    (exchange,) = recording.http
    assert exchange.label == "account"
    assert exchange.request.params == {"ts": "<ANY>"}
    assert exchange.request.path == "/v1/account"


def test_all_problems_are_listed_with_their_paths(tmp_path: Path) -> None:
    data = _base(source="", bogus=1, input={"symbol": "X"})
    data["http"][0]["request"]["method"] = "FETCH"
    data["http"][0]["response"] = {"status": 999}
    data["http"].append({"request": {"method": "GET", "url": "ftp://x"}, "response": {"exception": "boom"}})
    with pytest.raises(RecordingError) as caught:
        load_recording(_write(tmp_path, data), get_spec("TC-BAL-01"))
    message = str(caught.value)
    for expected in (
        "TC-BAL-01.json is not a valid recording",
        "source: required",
        "bogus: unknown key",
        "http[0].request.method: must be one of",
        "http[0].response.status: required",
        "http[1].request.url: must be an absolute http(s) URL",
        "http[1].response.exception: must be one of timeout",
        "input.symbol: not used by TC-BAL-01",
    ):
        assert expected in message, message


def test_scenario_keys_are_checked(tmp_path: Path) -> None:
    data = _base(id="TC-ORD-02", expect={"fill_price": "1"}, input={"symbol": "X", "side": "buy"})
    with pytest.raises(RecordingError) as caught:
        load_recording(_write(tmp_path, data, "TC-ORD-02.json"), get_spec("TC-ORD-02"))
    message = str(caught.value)
    assert "input.quantity: required by TC-ORD-02" in message
    assert "input.client_order_id: required by TC-ORD-02" in message
    assert "input.limit_price: required by TC-ORD-02" in message
    assert "expect.fill_price: not used by TC-ORD-02" in message


def test_floats_in_values_are_refused() -> None:
    data = _base(expect={"balances": {}}, input={})
    data["id"] = "TC-RES-01"
    data["expect"] = {"retry_after": 1.5}
    with pytest.raises(RecordingError, match="float"):
        parse_recording(data, spec=get_spec("TC-RES-01"))


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not match the file name"):
        load_recording(_write(tmp_path, _base(), "TC-CON-01.json"))


def test_missing_and_broken_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not exist"):
        load_recording(tmp_path / "TC-CON-01.json")
    broken = tmp_path / "TC-CON-01.json"
    broken.write_text("{not json")
    with pytest.raises(RecordingError, match="not valid JSON"):
        load_recording(broken)


def test_query_in_url_becomes_params_but_not_both(tmp_path: Path) -> None:
    data = _base()
    data["http"][0]["request"] = {"method": "GET", "url": "https://api.x.test/v1/account?a=1&b=2&b=3"}
    recording = parse_recording(data)
    assert recording.http[0].request.params == {"a": "1", "b": ["2", "3"]}
    data["http"][0]["request"]["params"] = {"a": "1"}
    with pytest.raises(RecordingError, match="has a query string and params"):
        parse_recording(data)


def test_http_labels_required_by_the_scenario(tmp_path: Path) -> None:
    data = _base(
        id="TC-RES-02",
        input={"symbol": "X", "side": "buy", "quantity": "1", "client_order_id": "c1", "limit_price": "1"},
        expect={"submits": 1},
    )
    with pytest.raises(RecordingError, match="needs an exchange labelled 'submit'"):
        parse_recording(data, spec=get_spec("TC-RES-02"))


def test_stream_steps_are_validated() -> None:
    data = _base(stream={"connections": [[{"push": {}}, {"sleep": 99}, {"drop": False}, {"line": "x"}, 3]]})
    with pytest.raises(RecordingError) as caught:
        parse_recording(data)
    message = str(caught.value)
    assert "stream.connections[0][1].sleep: must be seconds between 0 and 30" in message
    assert "stream.connections[0][2].drop: must be true" in message
    assert "stream.connections[0][3]: must have exactly one of" in message
    assert "stream.connections[0][4]: must be an object" in message


def test_lines_stream_accepts_its_own_steps() -> None:
    data = _base(
        stream={
            "kind": "lines",
            "connections": [[{"request": {"path": "/s"}}, {"line": {"type": "HEARTBEAT"}}, {"drop": True}]],
        }
    )
    recording = parse_recording(data)
    assert recording.stream is not None
    assert recording.stream.kind == "lines"


def test_a_recording_without_provenance_is_refused(tmp_path: Path) -> None:
    """Issue 15: every recording says whether it was captured from the broker or composed."""
    data = _base()
    del data["provenance"]
    with pytest.raises(RecordingError, match=r"provenance: required.*captured.*composed"):
        load_recording(_write(tmp_path, data), get_spec("TC-BAL-01"))


@pytest.mark.parametrize("value", ["", "documented", "composed", "captured:", "invented: by us", 3])
def test_provenance_must_say_captured_or_composed_and_from_what(tmp_path: Path, value: object) -> None:
    with pytest.raises(RecordingError, match="provenance"):
        load_recording(_write(tmp_path, _base(provenance=value)), get_spec("TC-BAL-01"))


def test_provenance_is_exposed(tmp_path: Path) -> None:
    recording = load_recording(_write(tmp_path, _base()), get_spec("TC-BAL-01"))
    assert recording.provenance == "composed: protocols.md §1.4 documented example"
    assert recording.is_composed
    captured = load_recording(
        _write(tmp_path, _base(provenance="captured: Binance testnet, 2026-11-24")), get_spec("TC-BAL-01")
    )
    assert not captured.is_composed


REPOSITORY = Path(__file__).resolve().parents[2]
RECORDED_ADAPTERS = ("binance", "okx", "coinbase", "oanda")
"""Adapters whose tests replay recordings (IBKR's fake TWS transcripts are checked by its own tests)."""


def _recording_files() -> list[Path]:
    files: list[Path] = []
    for adapter in RECORDED_ADAPTERS:
        folder = REPOSITORY / f"autotrader-{adapter}" / "tests" / "recordings"
        files += sorted(folder.rglob("*.json"))
    return files


@pytest.mark.skipif(not _recording_files(), reason="the adapters are not beside the kit (installed alone)")
@pytest.mark.parametrize(
    "path", _recording_files(), ids=lambda p: str(p.relative_to(REPOSITORY)) if p.is_absolute() else str(p)
)
def test_every_adapter_recording_says_where_it_comes_from(path: Path) -> None:
    """Scenario recordings, edge flows and payload files alike carry captured/composed provenance."""
    data = json.loads(path.read_text(encoding="utf-8"))
    provenance = data.get("provenance") if isinstance(data, dict) else None
    assert isinstance(provenance, str), f"{path} has no provenance (captured: … or composed: …)"
    kind, _, detail = provenance.partition(":")
    assert kind in PROVENANCE_KINDS and detail.strip(), f"{path}: provenance {provenance!r}"
