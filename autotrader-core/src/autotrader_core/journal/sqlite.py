"""The default journal storage: one embedded SQLite file (stdlib ``sqlite3``, WAL mode).

WAL lets the recovery reader and the writer work at once, and makes a commit one
append to the log. ``fsync=True`` (``PRAGMA synchronous=FULL``) makes every commit
survive a power cut; ``fsync=False`` (``synchronous=NORMAL``) survives the process
being killed but may lose the last commits if the machine loses power.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path

from autotrader_core.journal import schema
from autotrader_core.journal.base import (
    FillKey,
    Journal,
    JournalError,
    JournalStorage,
    StoredRow,
    StoredSnapshot,
    SyncMode,
)
from autotrader_core.journal.identity import JournalIdentity
from autotrader_core.journal.lock import JournalLock
from autotrader_core.settings import EngineSettings

__all__ = [
    "SCHEMA_VERSION",
    "SqliteJournal",
    "SqliteStorage",
    "default_journal_path",
    "journal_from_settings",
]

SCHEMA_VERSION = 2
"""The schema this code writes. 1: round 1 (``journal`` + ``journal_meta``); 2: adds the
snapshot and the compact id tables (:mod:`autotrader_core.journal.schema`)."""


def default_journal_path(data_dir: Path, broker: str | None = None, environment: str | None = None) -> Path:
    """Where a session keeps its journal inside the user's data directory.

    ``<data_dir>/journal.sqlite3``, or with a broker and environment
    ``<data_dir>/journal-<broker>-<environment>.sqlite3`` (characters other than
    letters, digits, ``_`` and ``.`` become ``_``), so sessions on different brokers or
    environments never share a journal.
    """
    parts = [_file_safe(p) for p in (broker, environment) if p]
    return data_dir / ("-".join(["journal", *parts]) + ".sqlite3")


def insert_rows(conn: sqlite3.Connection, head: str, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert ``rows`` with ``head`` (``"INSERT INTO t (a, b) VALUES "``) in a few multi-row statements.

    ``executemany`` runs one statement per row, and Python's sqlite3 releases and re-takes the
    GIL around each: a writer thread then contends with the event loop once per row. Here a
    batch takes one statement per power of two in its size (at most 256 rows each), so a few
    statement shapes are cached and a group commit is a handful of steps.
    """
    if not rows:
        return
    width = len(rows[0])
    group = "(" + ", ".join("?" * width) + ")"
    start = 0
    while start < len(rows):
        size = min(_MAX_ROWS_PER_INSERT, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + size]
        conn.execute(head + ", ".join([group] * size), list(chain.from_iterable(chunk)))
        start += size


_MAX_ROWS_PER_INSERT = 256


def _file_safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", part).strip(".") or "_"


class SqliteStorage(JournalStorage):
    """:class:`JournalStorage` in one SQLite file.

    Args:
        path: The database file (its folder is created if needed).
        fsync: ``True``: every commit is fsynced (power-loss safe). ``False``: committed
            to the OS (safe against the process dying, not against a power cut).

    While open, the file is locked (:mod:`autotrader_core.journal.lock`): a second
    opener, in this process or another, gets a ``ConfigurationError`` naming the pid
    that holds it.
    """

    def __init__(self, path: Path | str, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._file_lock = JournalLock(self.path)
        self.compaction_hook: Callable[[str], None] | None = None
        """Called inside a compaction's transaction, before its commit (crash tests kill there)."""

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        return conn

    def open(self) -> int:
        """Lock the file, create it and the schema if needed; return the highest ``seq``.

        Raises:
            ConfigurationError: another open journal (this process or another) holds the lock.
        """
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file_lock.acquire()
                try:
                    self._conn = self._open_schema()
                except BaseException:
                    self._file_lock.release()
                    raise
            # A compaction may have removed every row up to its snapshot: numbering goes on after it.
            (last,) = self._conn.execute(
                "SELECT MAX(COALESCE((SELECT MAX(seq) FROM journal), 0),"
                " COALESCE((SELECT MAX(seq) FROM journal_snapshot), 0))"
            ).fetchone()
            return int(last)

    def attach(self) -> None:
        """Connect for writing **without** taking the journal's lock: for a helper process that
        the lock's holder started and waits for (the compaction worker,
        :mod:`autotrader_core.compaction_worker`). SQLite's own locking keeps the two writers'
        transactions apart; anything else must :meth:`open` the journal.

        Raises:
            JournalError: the file does not exist (a helper never creates a journal).
        """
        with self._lock:
            if self._conn is None:
                if not self.path.exists():
                    raise JournalError(f"no journal at {self.path}")
                self._conn = self._connect()

    def _open_schema(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            schema.prepare(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def write(self, rows: Sequence[StoredRow]) -> None:
        """Insert ``rows`` in one transaction."""
        with self._lock:
            conn = self._require()
            conn.execute("BEGIN")
            try:
                insert_rows(
                    conn,
                    "INSERT INTO journal (seq, kind, client_order_id, recorded_at, body) VALUES ",
                    [(r.seq, r.kind, r.client_order_id, r.recorded_at, r.body) for r in rows],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read(self, after_seq: int, limit: int, kinds: Sequence[str] | None = None) -> list[StoredRow]:
        """Rows after ``after_seq`` in order, from a short-lived reader connection (WAL: no blocking)."""
        sql = "SELECT seq, kind, client_order_id, recorded_at, body FROM journal WHERE seq > ?"
        params: list[object] = [after_seq]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        conn = self._connect()
        try:
            return [StoredRow(*row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def identity(self, claim: str | None = None) -> str | None:
        """The identity kept in ``journal_meta`` (stored from ``claim`` when there is none)."""
        with self._lock:
            conn = self._require()
            if claim is not None:  # one statement: two processes cannot both claim
                conn.execute(
                    "INSERT OR IGNORE INTO journal_meta (key, value) VALUES ('identity', ?)", (claim,)
                )
            row = conn.execute("SELECT value FROM journal_meta WHERE key = 'identity'").fetchone()
            return None if row is None else str(row[0])

    def read_snapshot(self) -> StoredSnapshot | None:
        """The latest snapshot (``None`` before the first compaction)."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT seq, recorded_at, body FROM journal_snapshot ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
        return None if row is None else StoredSnapshot(int(row[0]), str(row[1]), str(row[2]))

    def read_fill_keys(self, since: str = "") -> list[FillKey]:
        """The identities of compacted fills whose time is ``since`` (ISO 8601) or later (``""``: all)."""
        conn = self._connect()
        try:
            return [
                (str(b), str(s), str(t))
                for b, s, t in conn.execute(
                    "SELECT broker, symbol, trade_id FROM journal_fill_keys WHERE filled_at >= "
                    "COALESCE(julianday(?), 0)",
                    (since,),
                )
            ]
        finally:
            conn.close()

    def has_client_order_id(self, client_order_id: str) -> bool:
        """Whether an intent with this client order id was ever journaled (compacted or not)."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT 1 FROM journal_order_ids WHERE client_order_id = ? UNION ALL "
                "SELECT 1 FROM journal WHERE client_order_id = ? AND kind = 'intent' LIMIT 1",
                (client_order_id, client_order_id),
            ).fetchone()
        finally:
            conn.close()
        return row is not None

    def tail_length(self) -> int:
        """Rows a replay reads after the latest snapshot (dead letters aside)."""
        conn = self._connect()
        try:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM journal WHERE kind != 'dead_letter' AND seq > "
                "COALESCE((SELECT MAX(seq) FROM journal_snapshot), 0)"
            ).fetchone()
        finally:
            conn.close()
        return int(count)

    def compacted_order(self, client_order_id: str) -> str | None:
        """The final order (JSON) a compaction archived under this id (``None``: none archived)."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT final_order FROM journal_order_ids WHERE client_order_id = ?", (client_order_id,)
            ).fetchone()
        finally:
            conn.close()
        return None if row is None or row[0] is None else str(row[0])

    def compact(self, snapshot: StoredSnapshot, archived: Sequence[tuple[str, str]] = ()) -> int:
        """Store ``snapshot`` and drop the rows it folds, in one transaction; return the rows dropped.

        Kept: every client order id ever journaled (``journal_order_ids``, with the final
        state of each ``archived`` ``(client_order_id, order JSON)``), the identity and
        time of every fill dropped (``journal_fill_keys``, read from the rows by SQLite's
        JSON functions, so no row crosses into Python), dead letters, and the rows after
        ``snapshot.seq``. A crash before the commit leaves the journal as it was
        (SQLite rolls the transaction back on the next open); after it, the new snapshot
        and tail. Either way it opens and replays to the same state.
        """
        with self._lock:
            conn = self._require()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO journal_snapshot (seq, recorded_at, body) VALUES (?, ?, ?)",
                    (snapshot.seq, snapshot.recorded_at, snapshot.body),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO journal_order_ids (client_order_id, seq) "
                    "SELECT client_order_id, MIN(seq) FROM journal WHERE seq <= ? AND kind = 'intent' "
                    "AND client_order_id IS NOT NULL GROUP BY client_order_id",
                    (snapshot.seq,),
                )
                conn.executemany(
                    "UPDATE journal_order_ids SET final_order = ? WHERE client_order_id = ?",
                    [(body, cid) for cid, body in archived],
                )
                conn.execute(
                    "INSERT OR IGNORE INTO journal_fill_keys (broker, symbol, trade_id, filled_at) "
                    "SELECT json_extract(body, '$.fill.broker'), json_extract(body, '$.fill.symbol'), "
                    # The fill's time as a Julian day (any UTC offset compares right); one that
                    # will not parse is always loaded.
                    "json_extract(body, '$.fill.trade_id'), "
                    "COALESCE(julianday(json_extract(body, '$.fill.timestamp')), 1e9) "
                    "FROM journal WHERE seq <= ? AND kind = 'event' AND json_extract(body, '$.type') = 'OrderFilled'",
                    (snapshot.seq,),
                )
                dropped = conn.execute(
                    "DELETE FROM journal WHERE seq <= ? AND kind != 'dead_letter'", (snapshot.seq,)
                ).rowcount
                conn.execute("DELETE FROM journal_snapshot WHERE seq < ?", (snapshot.seq,))
                if self.compaction_hook is not None:
                    self.compaction_hook("before_commit")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return int(dropped)

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._file_lock.release()  # (not held after attach(): nothing to release)

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the journal storage is not open")
        return self._conn

    def __repr__(self) -> str:
        return f"<SqliteStorage {str(self.path)!r} fsync={self.fsync}>"


class SqliteJournal(Journal):
    """A :class:`~autotrader_core.journal.base.Journal` in one SQLite file.

    Example::

        journal = SqliteJournal(settings.data_dir / "journal-binance-testnet.sqlite3")
        async with ExecutionEngine(adapter, journal=journal) as engine:
            ...   # on start: replay + reconcile; every intent durable before it is sent

    The first engine that opens the file records its broker and environment in it; an
    engine on another broker or environment is refused (``ConfigurationError``).

    Args:
        path: Database file.
        sync: ``"intent"`` (default), ``"every"`` or ``"off"``.
        fsync: fsync each commit (power-loss safe) or only hand it to the OS.
        identity: The broker and environment this file is for (optional; see :class:`Journal`).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        sync: SyncMode = "intent",
        fsync: bool = True,
        max_batch: int = 5000,
        max_pending: int = 50_000,
        identity: JournalIdentity | None = None,
    ) -> None:
        super().__init__(
            SqliteStorage(path, fsync=fsync),
            sync=sync,
            max_batch=max_batch,
            max_pending=max_pending,
            identity=identity,
        )
        self.path = Path(path)


def journal_from_settings(
    settings: EngineSettings, *, broker: str | None = None, environment: str | None = None
) -> SqliteJournal:
    """The default journal of a session, with the settings' sync and fsync policy.

    Args:
        settings: Engine settings (``data_dir``, ``journal_sync``, ``journal_fsync``).
        broker: The adapter's name (e.g. ``"binance"``); with ``environment``, names the
            file (``<data_dir>/journal-binance-testnet.sqlite3``) and pins the journal to
            that broker and environment. Without them: ``<data_dir>/journal.sqlite3``.
        environment: The adapter settings' ``environment`` (e.g. ``"testnet"``, ``"live"``).

    Whatever the file, the engine that first opens it records its broker and environment
    in it, and an engine on another one is refused.
    """
    identity = JournalIdentity(broker, environment) if broker and environment else None
    return SqliteJournal(
        default_journal_path(settings.data_dir, broker, environment),
        sync=settings.journal_sync,
        fsync=settings.journal_fsync,
        identity=identity,
    )
