"""Imported only when a lazily registered AdapterInfo is first read (test_plugins checks that)."""

from __future__ import annotations

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.settings import BrokerSettings

from .fakes import FakeBroker


class LazySettings(BrokerSettings):
    """The settings class a lazy registration names."""


def make(settings: BrokerSettings) -> BrokerAdapter:
    """The factory a lazy registration names."""
    return FakeBroker()


NOT_CALLABLE = 42
