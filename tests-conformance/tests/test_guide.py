"""The adapter guide ships with the kit, and the kit's messages point at what the user has."""

from __future__ import annotations

from pathlib import Path

import pytest
from autotrader_conformance import guide
from autotrader_conformance.catalogue import get_spec
from autotrader_conformance.replays import decide_scenario
from autotrader_core.capabilities import Feature


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
