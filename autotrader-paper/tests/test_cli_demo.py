"""The `autotrader` command with the paper adapter installed: what a new user runs first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from autotrader_core.cli import main


def test_plugins_lists_the_paper_adapter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^paper \d+\.\d+\.\d+ ", out, re.MULTILINE)
    assert "streaming_fills" in out


def test_paper_session_trades_and_prints_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
    assert main(["paper", "--seconds", "4", "--interval", "0.02", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "paper session summary" in out
    orders = int(re.search(r"orders\s+(\d+) \(filled (\d+)", out).group(1))  # type: ignore[union-attr]
    fills = int(re.search(r"fills\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert orders > 0
    assert fills > 0
    assert list(tmp_path.glob("session-*.pid")) == []  # the session cleans up its pid file
