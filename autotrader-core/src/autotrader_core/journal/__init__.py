"""Durable, ordered journal of order intents and broker events (write-ahead).

See :mod:`autotrader_core.journal.base` for the sync policies,
:mod:`autotrader_core.journal.identity` for how a journal is tied to one broker and
environment, :mod:`autotrader_core.journal.lock` for the one-writer lock,
:mod:`autotrader_core.journal.schema` for the file's schema version and migrations,
:mod:`autotrader_core.snapshots` for snapshots and compaction, and
:mod:`autotrader_core.recovery` for how a journal rebuilds the OMS
after a crash.
"""

from __future__ import annotations

from autotrader_core.journal.base import (
    SYNC_MODES,
    FillKey,
    Journal,
    JournalEntry,
    JournalError,
    JournalStorage,
    StoredRow,
    StoredSnapshot,
    SyncMode,
)
from autotrader_core.journal.codec import CorruptJournal
from autotrader_core.journal.identity import JournalIdentity
from autotrader_core.journal.lock import JournalLock
from autotrader_core.journal.schema import JournalVersionError
from autotrader_core.journal.sqlite import (
    SqliteJournal,
    SqliteStorage,
    default_journal_path,
    journal_from_settings,
)

__all__ = [
    "SYNC_MODES",
    "CorruptJournal",
    "FillKey",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalIdentity",
    "JournalLock",
    "JournalStorage",
    "JournalVersionError",
    "SqliteJournal",
    "SqliteStorage",
    "StoredRow",
    "StoredSnapshot",
    "SyncMode",
    "default_journal_path",
    "journal_from_settings",
]
