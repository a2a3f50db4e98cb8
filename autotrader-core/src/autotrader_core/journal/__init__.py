"""Durable, ordered journal of order intents and broker events (write-ahead).

See :mod:`autotrader_core.journal.base` for the sync policies,
:mod:`autotrader_core.journal.identity` for how a journal is tied to one broker and
environment, :mod:`autotrader_core.journal.lock` for the one-writer lock, and
:mod:`autotrader_core.recovery` for how a journal rebuilds the OMS
after a crash.
"""

from __future__ import annotations

from autotrader_core.journal.base import (
    SYNC_MODES,
    Journal,
    JournalEntry,
    JournalError,
    JournalStorage,
    StoredRow,
    SyncMode,
)
from autotrader_core.journal.codec import CorruptJournal
from autotrader_core.journal.identity import JournalIdentity
from autotrader_core.journal.lock import JournalLock
from autotrader_core.journal.sqlite import (
    SqliteJournal,
    SqliteStorage,
    default_journal_path,
    journal_from_settings,
)

__all__ = [
    "SYNC_MODES",
    "CorruptJournal",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalIdentity",
    "JournalLock",
    "JournalStorage",
    "SqliteJournal",
    "SqliteStorage",
    "StoredRow",
    "SyncMode",
    "default_journal_path",
    "journal_from_settings",
]
