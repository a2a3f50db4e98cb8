"""The gateway's own record of executed commands: the final word on "was this done?".

JetStream de-duplicates a re-published command only within its window (two minutes by
default), and redelivers a command the gateway took but never acknowledged (it was
killed). So the gateway keeps, per command id, whether it started and the reply it
gave, in a small SQLite file beside the account's journal:

* a command already **done** is answered with its recorded reply, never executed again;
* a command **started** but not done (the gateway died while executing it) is never
  executed again either — its outcome is unknown, so the reply says so (a
  ``RequestTimeout``), and the order settles through the journal's reconciliation;
* a submit is also recognised by its client order id in the engine (the journal
  records every intent before it is sent), so a submit is never sent twice even if
  this file were lost;
* a submit the gateway knows to be new (see the gateway's fast path) is not claimed
  first: it is recorded once, done, with its owner and reply (:meth:`CommandLog.record_many`),
  and acknowledged on the stream only once that record is durable.

The file is only opened after the engine holds the account's journal lock, so one
gateway writes it. Calls are blocking: the gateway runs them in worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import TypeVar

__all__ = ["CommandLog", "CommandRecord", "Executed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    target TEXT,
    state TEXT NOT NULL,
    reply TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_target ON commands (target);
"""


Executed = tuple[str, str, str, str | None, bytes]
"""A command executed without a claim: ``(id, kind, owner, target, reply)``."""


class CommandRecord(tuple[str, str, str | None, str, bytes | None]):
    """``(kind, owner, target, state, reply)`` of one command."""

    __slots__ = ()

    @property
    def kind(self) -> str:
        """``submit``, ``cancel``, ..."""
        return self[0]

    @property
    def owner(self) -> str:
        """The strategy that sent it."""
        return self[1]

    @property
    def target(self) -> str | None:
        """The client order id it is about, if any."""
        return self[2]

    @property
    def state(self) -> str:
        """``started`` or ``done``."""
        return self[3]

    @property
    def reply(self) -> bytes | None:
        """The reply sent, once done."""
        return self[4]


class CommandLog:
    """Executed command ids in one SQLite file (WAL; commits survive the process dying).

    Args:
        path: The database file.
        fsync: fsync each commit (power-loss safe) rather than only handing it to the OS.
    """

    def __init__(self, path: Path | str, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create the file and table if needed."""
        with self._lock:
            if self._conn is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
            conn.executescript(_SCHEMA)
            self._conn = conn

    def get(self, command_id: str) -> CommandRecord | None:
        """The record of ``command_id``, or ``None`` if never seen."""
        with self._lock:
            row = (
                self._require()
                .execute("SELECT kind, owner, target, state, reply FROM commands WHERE id = ?", (command_id,))
                .fetchone()
            )
        return None if row is None else CommandRecord(row)

    def owner_of(self, client_order_id: str) -> str | None:
        """The strategy whose submit created ``client_order_id``, if it came through the gateway."""
        with self._lock:
            row = (
                self._require()
                .execute("SELECT owner FROM commands WHERE id = ? AND kind = 'submit'", (client_order_id,))
                .fetchone()
            )
        return None if row is None else str(row[0])

    def claim_many(self, commands: list[tuple[str, str, str, str | None]]) -> list[CommandRecord | None]:
        """Record that each ``(id, kind, owner, target)`` is about to be executed, in one transaction.

        Returns:
            Per command: ``None`` when this call recorded it (go ahead: durable on return),
            else its earlier record (do not execute it again).
        """
        return self.write_batch(commands, [])

    def record_many(self, done: list[Executed]) -> None:
        """Record commands executed without a claim, each with its reply, in one transaction.

        ``(id, kind, owner, target, reply)`` each; a command already recorded keeps its row
        and takes the reply.
        """
        self.write_batch([], [], done)

    def write_batch(
        self,
        commands: list[tuple[str, str, str, str | None]],
        replies: list[tuple[str, bytes]],
        done: Sequence[Executed] = (),
    ) -> list[CommandRecord | None]:
        """:meth:`record_many` for ``done``, :meth:`finish_many` for ``replies``, then
        :meth:`claim_many` for ``commands``, in one transaction.

        A few statements per batch, not one per command: Python's sqlite3 releases and re-takes
        the GIL around each statement, so the writer thread would contend with the event loop
        once per row.
        """
        at = datetime.now(UTC).isoformat()
        with self._lock:
            conn = self._require()
            conn.execute("BEGIN")
            try:
                # Outcomes first: one queued before a claim of its command (a redelivery) is seen by it.
                for executed in _chunks(list(done)):
                    conn.execute(
                        "INSERT INTO commands (id, kind, owner, target, reply, state, at) VALUES "
                        + ", ".join(["(?, ?, ?, ?, ?, 'done', ?)"] * len(executed))
                        + " ON CONFLICT (id) DO UPDATE SET state = 'done', reply = excluded.reply",
                        list(chain.from_iterable((*row, at) for row in executed)),
                    )
                for chunk in _chunks(replies):
                    conn.execute(
                        "UPDATE commands SET state = 'done', reply = v.column2 FROM (VALUES "
                        + ", ".join(["(?, ?)"] * len(chunk))
                        + ") AS v WHERE commands.id = v.column1",
                        list(chain.from_iterable(chunk)),
                    )
                known = self._records(conn, [c[0] for c in commands])
                results: list[CommandRecord | None] = []
                new: list[tuple[str, str, str, str | None, str]] = []
                for command_id, kind, owner, target in commands:
                    record = known.get(command_id)
                    results.append(record)
                    if record is None:  # a second claim of it in this batch finds this one
                        known[command_id] = CommandRecord((kind, owner, target, "started", None))
                        new.append((command_id, kind, owner, target, at))
                for rows in _chunks(new):
                    conn.execute(
                        "INSERT INTO commands (id, kind, owner, target, state, at) VALUES "
                        + ", ".join(["(?, ?, ?, ?, 'started', ?)"] * len(rows)),
                        list(chain.from_iterable(rows)),
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return results

    @staticmethod
    def _records(conn: sqlite3.Connection, ids: list[str]) -> dict[str, CommandRecord]:
        found: dict[str, CommandRecord] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(
                "SELECT id, kind, owner, target, state, reply FROM commands WHERE id IN ("
                + ", ".join("?" * len(chunk))
                + ")",
                chunk,
            )
            for row in rows:
                found[row[0]] = CommandRecord(row[1:])
        return found

    def claim(self, command_id: str, kind: str, owner: str, target: str | None) -> CommandRecord | None:
        """:meth:`claim_many` for one command."""
        return self.claim_many([(command_id, kind, owner, target)])[0]

    def finish_many(self, replies: list[tuple[str, bytes]]) -> None:
        """Record the reply given to each command id, in one transaction.

        Written behind the reply: a command whose reply is lost with a crash stays
        ``started``, and is then answered "outcome unknown", never executed again.
        """
        self.write_batch([], replies)

    def finish(self, command_id: str, reply: bytes) -> None:
        """:meth:`finish_many` for one command."""
        self.finish_many([(command_id, reply)])

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the command log is not open")
        return self._conn


_CHUNK = 256
_T = TypeVar("_T")


def _chunks(items: list[_T]) -> list[list[_T]]:
    # Statement shapes by power of two (at most _CHUNK rows): few of them, all cached by sqlite3.
    chunks = []
    start = 0
    while start < len(items):
        size = min(_CHUNK, 1 << ((len(items) - start).bit_length() - 1))
        chunks.append(items[start : start + size])
        start += size
    return chunks
