"""LazyAdapterInfo: an adapter's registration that imports its settings and capabilities on first read."""

from __future__ import annotations

import subprocess
import sys

import pytest
from autotrader_conformance.testing import FakeBroker
from autotrader_core.hookspecs import AdapterInfo, LazyAdapterInfo
from autotrader_core.settings import BrokerSettings

TARGET = "autotrader_conformance.testing"


def _factory(settings: BrokerSettings) -> FakeBroker:
    return FakeBroker()


def _lazy(**changes: str) -> LazyAdapterInfo:
    values = {
        "settings_cls": "autotrader_core.settings:BrokerSettings",
        "capabilities": f"{TARGET}:FakeBroker.capabilities",
    } | changes
    return LazyAdapterInfo(name="fake", factory=_factory, version="1.2", description="d", **values)


def test_reads_like_an_adapter_info() -> None:
    info = _lazy()
    assert isinstance(info, AdapterInfo)
    assert (info.name, info.version, info.description, info.factory) == ("fake", "1.2", "d", _factory)
    assert info.settings_cls is BrokerSettings
    assert info.capabilities is FakeBroker.capabilities


def test_nothing_is_imported_until_read() -> None:
    code = (
        "import sys; from autotrader_core.hookspecs import LazyAdapterInfo as L; "
        f"i = L(name='x', factory=print, settings_cls='{TARGET}:FakeBroker', "
        f"capabilities='{TARGET}:FakeBroker.capabilities'); "
        f"print('{TARGET}' in sys.modules); i.capabilities; print('{TARGET}' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_is_frozen_and_a_bad_reference_fails_when_read() -> None:
    info = _lazy(capabilities=f"{TARGET}:NoSuchThing")
    with pytest.raises(AttributeError):
        info.name = "other"
    with pytest.raises(AttributeError):
        _ = info.capabilities
