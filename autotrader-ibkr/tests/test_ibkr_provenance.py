"""Every transcript says whether it was captured from TWS or composed, and from what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ibkr_fake_tws import TRANSCRIPTS
from ibkr_record_tws import Recorder

FILES = sorted(TRANSCRIPTS.rglob("*.json"))


def test_there_are_transcripts() -> None:
    assert len(FILES) > 30


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TRANSCRIPTS)) for p in FILES])
def test_every_transcript_carries_its_provenance(path: Path) -> None:
    provenance = json.loads(path.read_text()).get("provenance")
    assert isinstance(provenance, str), f"{path.name}: no provenance (captured: … or composed: …)"
    kind, _, detail = provenance.partition(":")
    assert kind in ("captured", "composed") and detail.strip(), provenance


def test_composed_flows_from_public_reports_cite_them() -> None:
    """The flows that reproduce a sequence reported from live TWS name the report."""
    for name in ("reject_201", "order_warning_10349", "fill_time_formats", "reconnect_client_id_in_use"):
        provenance = json.loads((TRANSCRIPTS / f"{name}.json").read_text())["provenance"]
        assert provenance.startswith("composed: ") and "#" in provenance, name


def test_a_recording_is_marked_captured() -> None:
    recorder = Recorder(accounts=[])
    provenance = recorder.transcript("x", "Recorded on 2026-01-01")["provenance"]
    assert provenance == "captured: Recorded on 2026-01-01"
