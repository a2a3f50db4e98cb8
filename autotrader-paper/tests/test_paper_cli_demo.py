"""The `autotrader` command with the paper adapter installed: what a new user runs first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_autotrader_kill_stops_a_running_paper_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The drill from docs/dry-run.md: a session in one shell, `autotrader kill` in another."""
    env = {**os.environ, "AUTOTRADER_DATA_DIR": str(tmp_path)}
    session = subprocess.Popen(
        [sys.executable, "-m", "autotrader_core.cli", "paper", "--seconds", "60", "--interval", "0.02"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob("session-*.pid")):
            assert session.poll() is None, "the session exited early"
            assert time.monotonic() < deadline, "the session never registered"
            time.sleep(0.05)
        time.sleep(1.0)  # let it trade
        monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
        assert main(["kill"]) == 0
        assert f"session pid {session.pid}" in capsys.readouterr().out
        out, _ = session.communicate(timeout=30)
    finally:
        session.kill()
    assert session.returncode == 0
    assert re.search(r"kill switch\s+signal SIGTERM: canceled \d+", out)
    assert list(tmp_path.glob("session-*.pid")) == []
