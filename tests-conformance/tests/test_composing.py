"""The recording composer: deterministic files, provenance insisted on, ``--check`` shows the drift."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from autotrader_conformance.composing import Composer
from autotrader_conformance.recordings import RecordingError, load_recording


def _con_01(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "id": "TC-CON-01",
        "description": "connect reads the server time — «é» stays unescaped",
        "source": "protocols.md §1.7 [DOC] server time",
        "provenance": "composed: the documented server time example",
        "input": {},
        "expect": {},
        "http": [
            {
                "label": "connect",
                "request": {"method": "GET", "url": "https://api.x.test/v1/time"},
                "response": {"status": 200, "json": {"serverTime": 1700000000000}},
            }
        ],
    }
    content.update(overrides)
    return content


def _composer(folder: Path, build: Any = _con_01) -> Composer:
    composer = Composer(folder)

    @composer.recording("TC-CON-01")
    def tc_con_01() -> dict[str, Any]:
        return build()  # type: ignore[no-any-return]

    return composer


def _run(composer: Composer, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return composer.main(list(argv), out=out), out.getvalue()


def test_writes_a_loadable_recording_and_rewriting_changes_nothing(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    assert _run(composer, "--only", "TC-CON-01") == (0, "1 recordings composed, 1 changed: TC-CON-01\n")
    path = tmp_path / "TC-CON-01.json"
    first = path.read_bytes()
    assert load_recording(path).provenance.startswith("composed")
    assert '"id": "TC-CON-01",\n  "description"' in first.decode()  # key order as built, indent 2
    assert "«é»" in first.decode()  # as the committed files have it
    assert first.endswith(b"}\n")
    assert _run(composer) == (0, "1 recordings composed, 0 changed\n")
    assert path.read_bytes() == first


def test_check_passes_on_what_it_composed_and_fails_with_a_diff_on_a_hand_edit(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    assert composer.main([], out=io.StringIO()) == 0
    assert _run(composer, "--check") == (0, "1 recordings are exactly what the composer makes\n")
    path = tmp_path / "TC-CON-01.json"
    path.write_text(path.read_text().replace("1700000000000", "1700000000001"))
    status, out = _run(composer, "--check")
    assert status == 1
    assert '-          "serverTime": 1700000000001\n' in out
    assert '+          "serverTime": 1700000000000\n' in out
    assert "1 committed recordings differ from what the composer makes: TC-CON-01" in out
    assert "1700000000001" in path.read_text()  # --check writes nothing


def test_check_fails_on_a_missing_file(tmp_path: Path) -> None:
    status, out = _run(_composer(tmp_path), "--check")
    assert status == 1
    assert "(missing)" in out
    assert not (tmp_path / "TC-CON-01.json").exists()


def test_a_recording_without_provenance_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    composer = _composer(tmp_path, lambda: {k: v for k, v in _con_01().items() if k != "provenance"})
    with pytest.raises(RecordingError, match="provenance: required"):
        composer.main([], out=io.StringIO())
    assert not (tmp_path / "TC-CON-01.json").exists()


def test_a_kit_recording_is_checked_against_the_schema_and_its_file_name(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="http"):
        _composer(tmp_path, lambda: _con_01(http={})).render("TC-CON-01")
    with pytest.raises(RecordingError, match="does not match the file name"):
        _composer(tmp_path, lambda: _con_01(id="TC-CON-02")).render("TC-CON-01")


def test_an_own_transcript_format_still_needs_source_and_a_provenance_kind(tmp_path: Path) -> None:
    composer = Composer(tmp_path, kit_schema=False, indent=1, ensure_ascii=True)
    composer.add("flows/connect", lambda: {"source": "docs", "provenance": "composed: docs", "script": ["é"]})
    composer.add("flows/guessed", lambda: {"source": "docs", "provenance": "guessed: nothing"})
    assert _run(composer, "--only", "flows/connect")[0] == 0
    assert (tmp_path / "flows" / "connect.json").read_text() == (
        '{\n "source": "docs",\n "provenance": "composed: docs",\n "script": [\n  "\\u00e9"\n ]\n}\n'
    )
    with pytest.raises(RecordingError, match="provenance: must read"):
        composer.render("flows/guessed")


def test_unknown_names_and_double_registration_are_refused(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    status, out = _run(composer, "--only", "TC-ORD-01")
    assert status == 2
    assert out == "not composed here: TC-ORD-01 (known: TC-CON-01)\n"
    with pytest.raises(ValueError, match="composed twice"):
        composer.add("TC-CON-01", _con_01)


def test_a_kit_recording_is_checked_against_its_scenario(tmp_path: Path) -> None:
    composer = Composer(tmp_path)
    composer.add("TC-ORD-01", lambda: _con_01(id="TC-ORD-01", input={"symbol": "BTCUSDT"}))
    with pytest.raises(RecordingError, match=r"input\.side: required by TC-ORD-01"):
        composer.render("TC-ORD-01")


def test_a_float_sleep_is_written_as_written(tmp_path: Path) -> None:
    stream = {"connections": [[{"sleep": 0.3}, {"push": {"px": "31527.10"}}]]}
    text = _composer(tmp_path, lambda: _con_01(stream=stream)).render("TC-CON-01")
    assert '"sleep": 0.3\n' in text
    assert '"px": "31527.10"' in text
