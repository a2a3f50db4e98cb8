"""``autotrader unknown`` / ``autotrader settle``: an operator settles an order of unknown outcome offline."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from autotrader_core.cli import main
from autotrader_core.enums import OrderStatus
from autotrader_core.journal.sqlite import SqliteJournal

from .test_core_resolver import engine_for, submit_held
from .venue import VenueBroker


def _stopped_with_an_unknown_order(path: Path) -> tuple[VenueBroker, str]:
    broker = VenueBroker()  # no re-send guarantee: the order stays unknown

    async def run() -> str:
        async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
            order = await submit_held(engine, broker)
            return order.client_order_id

    return broker, anyio.run(run)


def test_an_operator_lists_and_settles_an_unknown_order_of_a_stopped_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite3"
    broker, cid = _stopped_with_an_unknown_order(path)
    assert main(["unknown", "--journal", str(path), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["client_order_id"] == cid and row["operation"] == "submit" and "held" in row["reason"]

    assert main(["settle", cid, "--as", "rejected", "--journal", str(path), "--reason", " "]) == 2
    assert "needs --reason" in capsys.readouterr().err
    assert main(["settle", "at-nope", "--as", "rejected", "--journal", str(path), "--reason", "x"]) == 2
    code = main(
        [
            "settle",
            cid,
            "--as",
            "rejected",
            "--journal",
            str(path),
            "--reason",
            "not at the venue",
            "--by",
            "alice",
        ]
    )
    assert code == 0
    assert main(["unknown", "--journal", str(path)]) == 0
    assert "no order in doubt" in capsys.readouterr().out

    async def restart() -> None:  # the next start replays the decision
        async with engine_for(broker, order_timeout=30, journal=SqliteJournal(path, fsync=False)) as engine:
            order = engine.oms.get(cid)
            assert order is not None and order.status is OrderStatus.REJECTED
            assert order.reject_reason == "settled by alice: not at the venue"
            assert engine.unknown_outcomes() == []

    anyio.run(restart)
