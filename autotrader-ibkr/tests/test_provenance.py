"""Every transcript says whether it was captured from TWS or composed, and from what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_tws import TRANSCRIPTS
from record_tws import Recorder

FILES = sorted(TRANSCRIPTS.rglob("*.json"))


def test_there_are_transcripts() -> None:
    assert len(FILES) > 30


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TRANSCRIPTS)) for p in FILES])
def test_every_transcript_carries_its_provenance(path: Path) -> None:
    provenance = json.loads(path.read_text()).get("provenance")
    assert isinstance(provenance, dict), f"{path.name}: no provenance field"
    assert provenance.get("kind") in ("captured", "composed"), provenance
    sources = provenance.get("from")
    assert isinstance(sources, list) and sources and all(isinstance(s, str) and s for s in sources)


def test_composed_flows_from_public_reports_cite_them() -> None:
    """The flows that reproduce a sequence reported from live TWS name the report."""
    for name in ("reject_201", "order_warning_10349", "fill_time_formats", "reconnect_client_id_in_use"):
        sources = json.loads((TRANSCRIPTS / f"{name}.json").read_text())["provenance"]["from"]
        assert any("#" in source for source in sources), name


def test_a_recording_is_marked_captured() -> None:
    recorder = Recorder(accounts=[])
    provenance = recorder.transcript("x", "Recorded on 2026-01-01")["provenance"]
    assert provenance == {"kind": "captured", "from": ["Recorded on 2026-01-01"]}
