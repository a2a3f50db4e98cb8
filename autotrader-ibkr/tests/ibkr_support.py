"""Helpers shared by the IBKR tests: settings pointing at the fake TWS."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from autotrader_ibkr import IbkrAdapter, IbkrSettings
from fake_tws import FakeTws

Session = Callable[..., AbstractAsyncContextManager[tuple[FakeTws, IbkrAdapter]]]
"""Type of the ``session`` fixture: ``async with session("transcript") as (tws, adapter)``."""


def settings_for(tws: FakeTws, **overrides: object) -> IbkrSettings:
    """Settings pointing at the fake TWS, with short timeouts so failing tests fail fast."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": tws.port,
        "client_id": 1,
        "connect_timeout": 3.0,
        "order_ack_timeout": 2.0,
        "request_timeout": 2.0,
        "reconnect_delay": 0.05,
        "tws_timezone": "US/Eastern",
    }
    values.update(overrides)
    return IbkrSettings(**values)  # type: ignore[arg-type]
