"""A journal compaction in a child process: the fold's CPU off the serving process's interpreter.

``compact_journal(..., separate_process=True)`` (:mod:`autotrader_core.snapshots`) starts
``python -m autotrader_core.compaction_worker`` and writes one JSON request to its stdin (the
journal's path, the session's instruments, what to keep). The child replays the committed rows
into a scratch OMS — the very fold a compaction in a thread runs — and stores the snapshot and
deletes the rows it folds in one SQLite transaction, on a connection of its own
(:meth:`~autotrader_core.journal.sqlite.SqliteStorage.attach`: the parent holds the journal's
lock and waits for it). It prints one JSON line (what it did) and exits 0; any failure exits
non-zero and leaves the journal as it was.

Why the child may write without the lock: its parent holds the lock for it and does not fold
meanwhile (``Journal.compacting``). A child whose parent died must not commit — a new engine
may already be replaying the journal it would change under it — so the child is killed with
its parent (Linux ``PR_SET_PDEATHSIG``), and inside its transaction, just before the commit,
it checks that its parent is still the process that started it; otherwise it rolls back.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from typing import Any

from autotrader_core.journal.base import Journal
from autotrader_core.journal.codec import decode_instrument
from autotrader_core.journal.sqlite import SqliteStorage
from autotrader_core.snapshots import fold, snapshot_of

__all__ = ["ParentGone", "compact", "main"]

_PR_SET_PDEATHSIG = 1


class ParentGone(RuntimeError):
    """The process that started this compaction is gone: nothing is committed."""


def _die_with_parent() -> None:
    # Linux only; elsewhere the check before the commit stands alone. The signal comes when the
    # parent's *thread* that started us ends: the event loop's, which outlives the compaction
    # (a loop in a short-lived thread would only see its fold killed: a JournalError, retried).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _check_parent(parent_pid: int) -> None:
    if os.getppid() != parent_pid:
        raise ParentGone(f"the process that started this compaction (pid {parent_pid}) is gone")


def compact(request: dict[str, Any]) -> dict[str, int]:
    """Fold and store as the request says; what was done (see the module docstring).

    Raises:
        ParentGone: the parent died (the transaction was rolled back).
        JournalError, CorruptJournal, sqlite3.Error: as a compaction in a thread; nothing changed.
    """
    parent_pid = int(request["parent_pid"])
    storage = SqliteStorage(str(request["path"]), fsync=bool(request["fsync"]))
    storage.attach()
    storage.compaction_hook = lambda _step: _check_parent(parent_pid)
    try:
        instruments = [decode_instrument(i) for i in request["instruments"]]
        up_to = request.get("up_to_seq")
        oms, summary = fold(
            Journal(storage),
            instruments,
            int(request["keep_completed"]),
            None if up_to is None else int(up_to),
        )
        trading_state = request.get("trading_state")
        snapshot = snapshot_of(oms, summary, None if trading_state is None else str(trading_state))
        if snapshot is None:
            return {
                "snapshot_seq": summary.snapshot_seq,
                "rows_folded": 0,
                "rows_deleted": 0,
                "open_orders": oms.open_order_count(),
            }
        deleted = storage.compact(snapshot, oms.archived)
        return {
            "snapshot_seq": summary.last_seq,
            "rows_folded": summary.records,
            "rows_deleted": deleted,
            "open_orders": oms.open_order_count(),
        }
    finally:
        storage.close()


def main() -> int:
    """Read the request from stdin, compact, print the result; the exit status says whether it worked."""
    _die_with_parent()
    try:
        request = json.loads(sys.stdin.buffer.read())
        _check_parent(int(request["parent_pid"]))  # (it may have died before the line above)
        result = compact(request)
    except Exception as exc:  # the parent reads the last line of stderr as the reason
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
