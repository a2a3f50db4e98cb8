"""Running sessions that ``autotrader kill`` can reach: one pid file per process in ``data_dir``.

A session is registered only while it listens for the kill signals
(:func:`autotrader_core.kill_switch.kill_on_signals` with ``data_dir=``): a
``SIGTERM`` sent to a process that does not handle it would end it *without*
cancelling its orders, so no file may outlive the listener.

A pid file also records when its process started (Linux: ``/proc/<pid>/stat``), so
a file left behind by a ``kill -9`` never sends the signal to an unrelated process
that was given the same pid later. POSIX only (Windows has no ``SIGTERM`` handlers).

For ``autotrader sessions`` it records, besides, the wall-clock start, the command line
and the broker when the registering code names it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Session", "registered_session", "running_sessions", "signal_session", "signal_sessions"]

logger = logging.getLogger(__name__)

_PATTERN = "session-*.pid"


@dataclass(frozen=True, slots=True)
class Session:
    """One registered session."""

    pid: int
    path: Path
    """Its pid file."""
    started_at: str | None = None
    """When it registered (ISO 8601, UTC); ``None`` for a file written by an older version."""
    broker: str | None = None
    """The broker it trades on, when the registering code said so."""
    command: str | None = None
    """Its command line."""
    kill_signal: str | None = None
    """The signal ``autotrader kill`` sends it (e.g. ``"SIGUSR1"``); ``None``: ``SIGTERM``."""

    def kill_signum(self) -> signal.Signals:
        """The signal that engages this session's kill switch (``SIGTERM`` unless it registered another)."""
        try:
            return signal.Signals[self.kill_signal] if self.kill_signal else signal.SIGTERM
        except KeyError:  # a name this platform does not have
            return signal.SIGTERM


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux); ``None`` where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) is in parentheses and may hold spaces.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


@contextmanager
def registered_session(
    data_dir: Path, *, broker: str | None = None, kill_signal: signal.Signals | None = None
) -> Iterator[Path]:
    """Register this process in ``data_dir`` for the duration; the file is removed on exit.

    Use it only around code that handles ``SIGTERM``
    (:func:`~autotrader_core.kill_switch.kill_on_signals` does both for you).

    Args:
        data_dir: The data directory ``autotrader kill`` and ``autotrader sessions`` look in.
        broker: The broker the session trades on, shown by ``autotrader sessions``.
        kill_signal: The signal ``autotrader kill`` must send to engage the full kill switch,
            when it is not ``SIGTERM`` (``engine.run()`` keeps ``SIGTERM`` for a gentler stop).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    path = data_dir / f"session-{pid}.pid"
    record = {
        "pid": pid,
        "started": _start_time(pid),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": broker,
        "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]) if sys.argv else None,
    }
    if kill_signal is not None:
        record["kill_signal"] = kill_signal.name
    # Written whole, then renamed: a reader never sees a half-written file (and never
    # removes a live session's registration as unreadable).
    partial = data_dir / f".session-{pid}.pid.partial"
    partial.write_text(json.dumps(record))
    os.replace(partial, path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _read(path: Path) -> tuple[int, str | None, dict[str, str | None]] | None:
    """The pid, the /proc start time and the descriptive fields of a pid file."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text.isdigit():  # written by an older version: a bare pid
        return int(text), None, {}
    try:
        data = json.loads(text)
        details = {key: _text(data.get(key)) for key in ("started_at", "broker", "command", "kill_signal")}
        return int(data["pid"]), data.get("started"), details
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _being_written(path: Path, seconds: float = 5.0) -> bool:
    """An empty file changed in the last ``seconds``: created, its one write not landed yet."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size == 0 and time.time() - info.st_mtime < seconds


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but another user's: not one we may signal anyway
        return False
    return started is None or _start_time(pid) in (None, started)


def running_sessions(data_dir: Path) -> list[Session]:
    """Registered sessions still running; files of ended (or unreadable) ones are removed."""
    if not data_dir.is_dir():
        return []
    sessions = []
    for path in sorted(data_dir.glob(_PATTERN)):
        entry = _read(path)
        if entry is None and _being_written(path):
            continue  # an older version's registration, mid-write: look again later
        if entry is None or not _alive(entry[0], entry[1]):
            logger.info("removing stale session file %s", path.name)
            with suppress(OSError):
                path.unlink()
            continue
        pid, _, details = entry
        sessions.append(
            Session(
                pid,
                path,
                details.get("started_at"),
                details.get("broker"),
                details.get("command"),
                details.get("kill_signal"),
            )
        )
    return sessions


def signal_session(data_dir: Path, pid: int, signum: signal.Signals | None = None) -> Session | None:
    """Send ``signum`` to the registered session ``pid`` only; ``None`` when no such session runs.

    ``signum=None``: the session's own kill signal (:meth:`Session.kill_signum`).

    A pid that is not registered in ``data_dir`` is never signalled: it may be any process.
    """
    for session in running_sessions(data_dir):
        if session.pid != pid:
            continue
        try:
            os.kill(session.pid, signum or session.kill_signum())
        except ProcessLookupError:  # ended in between
            session.path.unlink(missing_ok=True)
            return None
        return session
    return None


def signal_sessions(data_dir: Path, signum: signal.Signals | None = None) -> list[Session]:
    """Send ``signum`` (``None``: each session's own kill signal) to every running session; returns those signalled."""
    signalled = []
    for session in running_sessions(data_dir):
        try:
            os.kill(session.pid, signum or session.kill_signum())
        except ProcessLookupError:  # ended in between
            session.path.unlink(missing_ok=True)
            continue
        signalled.append(session)
    return signalled
