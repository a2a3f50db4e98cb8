"""The SQLite journal's schema version, and the migrations from older versions.

The version is the ``schema_version`` row of the ``journal_meta`` table, not
``PRAGMA user_version``: every journal ever written already carries that row (round 1
wrote ``"1"`` there, and left ``user_version`` at 0, which cannot tell a round-1 journal
from a file that is no journal at all), so there is one source of truth, readable with
the ``sqlite3`` shell.

Opening a file (:func:`prepare`, under the journal's one-writer lock):

* a new file gets the current schema, with its version, in one transaction;
* an older version is migrated in place: first a copy of the file is written beside it
  (``<journal>.schema-v<N>.bak``, through SQLite's online backup, then renamed into
  place), then every step runs in **one** transaction together with the version bump.
  SQLite's DDL is transactional, so a crash mid-migration leaves the old version, which
  the next open migrates again;
* a newer version is refused with :class:`JournalVersionError` naming both versions:
  an older autotrader must not append rows a newer one may read differently.

Version history: **1** (round 1) ``journal`` + ``journal_meta``; **2** adds
``journal_snapshot`` (the state a compaction folded the old rows into),
``journal_order_ids`` (every client order id a compaction removed, with the final state
of each finished order the snapshot no longer holds) and ``journal_fill_keys`` (every
fill identity it removed, with the fill's time) — see
:mod:`autotrader_core.snapshots`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from autotrader_core.errors import ConfigurationError

__all__ = ["CURRENT_VERSION", "JournalVersionError", "backup_path_for", "prepare", "stored_version"]

CURRENT_VERSION = 2
"""The schema version this code writes."""

_V1 = (
    "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
    "client_order_id TEXT, recorded_at TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS journal_client_order_id ON journal (client_order_id)",
    "CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_V2 = (
    "CREATE TABLE IF NOT EXISTS journal_snapshot (seq INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, "
    "body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS journal_order_ids (client_order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
    "final_order TEXT) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS journal_fill_keys (broker TEXT NOT NULL, symbol TEXT NOT NULL, "
    "trade_id TEXT NOT NULL, filled_at REAL NOT NULL, PRIMARY KEY (broker, symbol, trade_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS journal_fill_keys_filled_at ON journal_fill_keys (filled_at)",
)


class JournalVersionError(ConfigurationError):
    """The journal file was written by a newer autotrader (or its version is unreadable).

    Attributes:
        found: The version stored in the file (text as stored).
        supported: The newest version this code reads and writes.
    """

    def __init__(self, path: Path, found: str, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"journal {path} has schema version {found}, but this autotrader reads versions up to "
            f"{supported}: it was written by a newer autotrader. Upgrade autotrader, or use another "
            "journal (another data_dir); the file is left untouched."
        )


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    for statement in _V2:
        conn.execute(statement)


_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}
"""Step from version N to N + 1 (run inside the migration's transaction)."""


def backup_path_for(path: Path, version: int) -> Path:
    """Where the copy of a version-``version`` journal is kept before it is migrated."""
    return path.with_name(f"{path.name}.schema-v{version}.bak")


def stored_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The version stored in the file; ``None`` for a new, empty file.

    A file holding a ``journal`` table but no version row is a round-1 file interrupted
    between creating its tables and writing its version: version 1.

    Raises:
        JournalVersionError: the stored version is not a whole number.
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "journal_meta" in tables:
        row = conn.execute("SELECT value FROM journal_meta WHERE key = 'schema_version'").fetchone()
        if row is not None:
            try:
                return int(str(row[0]))
            except ValueError:
                raise JournalVersionError(path, str(row[0]), CURRENT_VERSION) from None
    return 1 if "journal" in tables else None


def prepare(conn: sqlite3.Connection, path: Path) -> int:
    """Create, check or migrate the schema of the journal open on ``conn``; return the old version.

    Returns ``0`` for a file created now. ``conn`` is in autocommit mode
    (``isolation_level=None``); the caller holds the journal's lock.

    Raises:
        JournalVersionError: the file is of a newer (or unreadable) version; nothing was changed.
    """
    version = stored_version(conn, path)
    if version is not None and version > CURRENT_VERSION:
        raise JournalVersionError(path, str(version), CURRENT_VERSION)
    if version == CURRENT_VERSION:
        return version
    if version is not None:
        _backup(conn, backup_path_for(path, version))
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version is None:
            for statement in (*_V1, *_V2):
                conn.execute(statement)
        else:
            for step in range(version, CURRENT_VERSION):
                _MIGRATIONS[step](conn)
        conn.execute(
            "INSERT OR REPLACE INTO journal_meta (key, value) VALUES ('schema_version', ?)",
            (str(CURRENT_VERSION),),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version or 0


def _backup(conn: sqlite3.Connection, target: Path) -> None:
    # Written under a temporary name and renamed: a crash never leaves a half copy named as a backup.
    partial = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    copy = sqlite3.connect(partial)
    try:
        conn.backup(copy)
    finally:
        copy.close()
    os.replace(partial, target)
