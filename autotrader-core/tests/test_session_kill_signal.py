"""A session registered with its own kill signal gets that signal from `autotrader kill` (issue 17 item 2)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import pytest
from autotrader_core.sessions import registered_session, running_sessions, signal_session, signal_sessions

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_kill_sends_the_signal_the_session_registered(tmp_path: Path) -> None:
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGUSR1, record)
    try:
        with registered_session(tmp_path, broker="paper", kill_signal=signal.SIGUSR1):
            (session,) = running_sessions(tmp_path)
            assert session.kill_signal == "SIGUSR1" and session.kill_signum() is signal.SIGUSR1
            assert signal_session(tmp_path, os.getpid()) is not None
            assert signal_sessions(tmp_path) == [session]
            deadline = time.monotonic() + 2
            while len(received) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == [signal.SIGUSR1, signal.SIGUSR1]


def test_a_session_without_one_gets_sigterm(tmp_path: Path) -> None:
    with registered_session(tmp_path):
        (session,) = running_sessions(tmp_path)
    assert session.kill_signal is None and session.kill_signum() is signal.SIGTERM
