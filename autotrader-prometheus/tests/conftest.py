"""Shared fixtures for the exporter's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from autotrader_prometheus import PrometheusObserver, PrometheusSettings


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def settings() -> PrometheusSettings:
    """Loopback, a free port, no autostart: each test decides when the endpoint runs."""
    return PrometheusSettings(host="127.0.0.1", port=0, autostart=False, enabled=True)


@pytest.fixture
def observer(settings: PrometheusSettings) -> Iterator[PrometheusObserver]:
    """A fresh observer on its own registry; its endpoint is stopped afterwards."""
    obs = PrometheusObserver(settings)
    yield obs
    obs.stop()


@pytest.fixture
def serving(observer: PrometheusObserver) -> Iterator[PrometheusObserver]:
    """The observer with its endpoint listening on 127.0.0.1 (random port)."""
    observer.start()
    yield observer
    observer.stop()
