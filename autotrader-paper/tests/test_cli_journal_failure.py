"""`autotrader paper` exits non-zero when its journal failed and trading was halted (issue 17 item 3)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from autotrader_core import cli
from autotrader_core.engine import ExecutionEngine
from autotrader_core.journal import Journal, JournalStorage, StoredRow


class FullDisk(JournalStorage):
    """Storage whose every write fails, as on a full disk."""

    def open(self) -> int:
        return 0

    def write(self, rows: Sequence[StoredRow]) -> None:
        raise OSError(28, "No space left on device")

    def read(self, after_seq: int, limit: int, kinds: Sequence[str] | None = None) -> list[StoredRow]:
        return []

    def identity(self, claim: str | None = None) -> str | None:
        return claim

    def close(self) -> None:
        pass


def test_paper_session_exits_non_zero_after_a_journal_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))

    def with_failing_journal(*args: Any, **kwargs: Any) -> ExecutionEngine:
        return ExecutionEngine(*args, journal=Journal(FullDisk()), **kwargs)

    monkeypatch.setattr(cli, "ExecutionEngine", with_failing_journal)
    code = cli.main(["paper", "--seconds", "3", "--interval", "0.02", "--seed", "7"])
    err = capsys.readouterr().err
    assert code == 1
    assert "journal failed, trading was halted" in err and "No space left" in err
