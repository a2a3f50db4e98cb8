"""Making anyio events on a hot path."""

from __future__ import annotations

from collections.abc import Callable

import anyio

__all__ = ["event_factory"]


def event_factory() -> Callable[[], anyio.Event]:
    """The running backend's event class, to make events with (call it inside the event loop).

    ``anyio.Event()`` looks the running backend up on every call; the gateway and the strategy
    side make events per command, where that lookup was a measurable share of the work.
    """
    return type(anyio.Event())
