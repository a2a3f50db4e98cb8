"""Session registration: `autotrader kill` reaches every listening session, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from autotrader_core.cli import main
from autotrader_core.sessions import registered_session, running_sessions, signal_sessions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LISTENER = """
import sys
from pathlib import Path

import anyio
from autotrader_core.kill_switch import kill_on_signals


class Switch:  # stands in for KillSwitch: kill_on_signals only calls engage()
    async def engage(self, reason: str) -> None:
        print("engaged:", reason, flush=True)


anyio.run(lambda: kill_on_signals(Switch(), data_dir=Path(sys.argv[1])))  # type: ignore[arg-type]
"""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_registered_session_is_listed_until_it_ends(tmp_path: Path) -> None:
    with registered_session(tmp_path) as path:
        assert [s.pid for s in running_sessions(tmp_path)] == [os.getpid()]
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert running_sessions(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["{pid}", '{{"pid": {pid}, "started": null}}', "garbage"])
def test_files_of_ended_processes_are_removed_not_signalled(tmp_path: Path, content: str) -> None:
    stale = tmp_path / "session-1.pid"
    stale.write_text(content.format(pid=_dead_pid()))
    assert signal_sessions(tmp_path) == []
    assert not stale.exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process start times come from /proc")
def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    """A file left by a `kill -9` whose pid now belongs to another process (here: this test)."""
    stale = tmp_path / f"session-{os.getpid()}.pid"
    stale.write_text(json.dumps({"pid": os.getpid(), "started": "1"}))  # started at another time
    assert signal_sessions(tmp_path) == []  # (had it been signalled, this test would have died)
    assert not stale.exists()


def test_autotrader_kill_engages_the_kill_switch_of_a_listening_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob("session-*.pid")):  # registered once its handlers are in place
            assert child.poll() is None, "the listener exited early"
            assert time.monotonic() < deadline, "the listener never registered"
            time.sleep(0.02)
        monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
        assert main(["kill"]) == 0
        assert f"kill switch requested for session pid {child.pid}" in capsys.readouterr().out
        out, _ = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0  # handled, not terminated by the signal
    assert "engaged: signal SIGTERM" in out
    assert list(tmp_path.iterdir()) == []  # it deregistered on the way out


def _start_listeners(data_dir: Path, count: int) -> list[subprocess.Popen[str]]:
    children = [
        subprocess.Popen([sys.executable, "-c", LISTENER, str(data_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    deadline = time.monotonic() + 20
    while len(list(data_dir.glob("session-*.pid"))) < count:
        assert all(child.poll() is None for child in children), "a listener exited early"
        assert time.monotonic() < deadline, "the listeners never registered"
        time.sleep(0.02)
    return children


def test_autotrader_sessions_lists_pid_start_and_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
    assert main(["sessions"]) == 0
    assert f"no running autotrader session registered in {tmp_path}" in capsys.readouterr().out
    with registered_session(tmp_path, broker="binance"):
        assert main(["sessions"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["PID", "STARTED", "(UTC)", "BROKER"]
    pid, started, broker = row.split()[:3]
    assert (int(pid), broker) == (os.getpid(), "binance")
    assert started.startswith(str(time.gmtime().tm_year)) and started.endswith("+00:00")


def test_kill_pid_stops_only_that_session_and_refuses_an_unregistered_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
    first, second = children = _start_listeners(tmp_path, 2)
    try:
        assert main(["sessions"]) == 0
        listed = capsys.readouterr().out
        assert f"{first.pid} " in listed and f"{second.pid} " in listed
        # A pid that is not a registered session (this test's own) is never signalled.
        assert main(["kill", "--pid", str(os.getpid())]) == 1
        out, err = capsys.readouterr()
        assert f"pid {os.getpid()} is not a running autotrader session registered in {tmp_path}" in err
        assert "nothing was signalled" in err and out == ""
        assert main(["kill", "--pid", str(first.pid)]) == 0
        assert capsys.readouterr().out == f"kill switch requested for session pid {first.pid}\n"
        out, _ = first.communicate(timeout=20)
        assert "engaged: signal SIGTERM" in out
        time.sleep(0.3)
        assert second.poll() is None, "kill --pid stopped another session too"
        assert [s.pid for s in running_sessions(tmp_path)] == [second.pid]
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_a_file_being_written_is_not_taken_for_a_stale_one(tmp_path: Path) -> None:
    # `autotrader kill` listing sessions while one registers used to read its empty,
    # half-written file, call it unreadable and delete it: the session was then unkillable.
    path = tmp_path / f"session-{os.getpid()}.pid"
    path.write_text("")
    assert running_sessions(tmp_path) == []
    assert path.exists()
    with registered_session(tmp_path) as registered:
        assert [s.pid for s in running_sessions(tmp_path)] == [os.getpid()]
        assert not list(tmp_path.glob(".session-*"))  # no partial file left behind
    assert not registered.exists()
