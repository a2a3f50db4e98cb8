"""What a journal journals: one broker in one environment.

A journal replayed into the wrong session is dangerous: a testnet journal's open
orders would be "reconciled" against the live account (or a paper journal's against
Binance). So a journal records, once, the broker and environment it was first opened
for, and refuses to be opened for any other (:func:`check_identity`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autotrader_core.errors import ConfigurationError

if TYPE_CHECKING:
    from autotrader_core.adapter import BrokerAdapter

__all__ = ["UNKNOWN_ENVIRONMENT", "JournalIdentity", "check_identity"]

UNKNOWN_ENVIRONMENT = "unknown"
"""Environment recorded for an adapter that exposes no ``settings.environment``."""


@dataclass(frozen=True, slots=True)
class JournalIdentity:
    """The broker (adapter name) and environment (e.g. ``testnet``, ``live``) a journal belongs to."""

    broker: str
    environment: str

    @classmethod
    def for_adapter(cls, adapter: BrokerAdapter) -> JournalIdentity:
        """The identity of a session on ``adapter``: its name and its settings' ``environment``."""
        environment = getattr(getattr(adapter, "settings", None), "environment", None)
        if not isinstance(environment, str) or not environment:
            environment = UNKNOWN_ENVIRONMENT
        return cls(str(adapter.name), environment)

    def encode(self) -> str:
        """The text storage keeps (stable JSON)."""
        return json.dumps({"broker": self.broker, "environment": self.environment}, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> JournalIdentity:
        """Parse :meth:`encode`'s text.

        Raises:
            ConfigurationError: the stored identity is unreadable.
        """
        try:
            body = json.loads(text)
            broker, environment = body["broker"], body["environment"]
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(f"the journal's stored identity {text!r} is unreadable: {exc}") from None
        if not isinstance(broker, str) or not isinstance(environment, str):
            raise ConfigurationError(f"the journal's stored identity {text!r} is unreadable")
        return cls(broker, environment)

    def __str__(self) -> str:
        return f"broker {self.broker!r}, environment {self.environment!r}"


def check_identity(stored: JournalIdentity, wanted: JournalIdentity, where: str) -> None:
    """Refuse to use a journal of ``stored`` for a session of ``wanted``.

    Args:
        where: The journal's location, named in the error (a file path for SQLite).

    Raises:
        ConfigurationError: they differ (nothing has been replayed or sent yet).
    """
    if stored == wanted:
        return
    raise ConfigurationError(
        f"journal {where} holds the records of {stored}, but it was opened for {wanted}; "
        "replaying it would mix two accounts. Use another journal for this session: set another "
        "data_dir (AUTOTRADER_DATA_DIR), or pass journal_from_settings(settings, broker=..., "
        "environment=...) or SqliteJournal(<another path>)."
    )
