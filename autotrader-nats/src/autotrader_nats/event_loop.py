"""Which event loop a gateway process runs on: uvloop when it is installed, else asyncio's own.

A gateway spends most of its interpreter's time on the event loop's side of each order — a
command read off its socket, a worker task woken, a reply and events written, the journal's
writer thread waking the loop — and uvloop (libuv under the asyncio API, by the authors of
asyncpg; what uvicorn and NautilusTrader run on when it is installed) does that side in C:
the gateway executes ~15 % fewer instructions per order on it (README "Performance").
It is an extra, ``pip install 'autotrader-nats[uvloop]'``; nothing here imports it unless asked.

``autotrader gateway --loop auto`` (the default; ``AUTOTRADER_GATEWAY_EVENT_LOOP``) takes
uvloop when it can be imported and asyncio otherwise; ``uvloop`` insists on it and ``asyncio``
never uses it. A strategy process chooses its own loop: ``anyio.run(main,
backend_options={"use_uvloop": True})``.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Literal

from autotrader_core.errors import ConfigurationError

__all__ = ["EventLoopChoice", "EventLoopName", "anyio_backend_options", "resolve_event_loop"]

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
"""What a gateway's settings may ask for."""
EventLoopName = Literal["asyncio", "uvloop"]
"""What a gateway runs on."""


def _uvloop_importable() -> bool:
    if sys.platform == "win32":  # uvloop does not build there
        return False
    try:
        return importlib.util.find_spec("uvloop") is not None
    except ValueError:  # a module named uvloop with no spec (stubbed out in sys.modules)
        return False


def resolve_event_loop(choice: EventLoopChoice) -> EventLoopName:
    """The loop ``choice`` means on this machine.

    Raises:
        ConfigurationError: ``"uvloop"`` asked for where it cannot be imported (the message
            says how to install it), or ``choice`` is not one of the three.
    """
    if choice == "asyncio":
        return "asyncio"
    if choice == "auto":
        return "uvloop" if _uvloop_importable() else "asyncio"
    if choice == "uvloop":
        if _uvloop_importable():
            return "uvloop"
        if sys.platform == "win32":
            raise ConfigurationError("the uvloop event loop does not run on Windows: use --loop asyncio")
        raise ConfigurationError(
            "the uvloop event loop is not installed: pip install 'autotrader-nats[uvloop]' (or use --loop asyncio)"
        )
    raise ConfigurationError(f"unknown event loop {choice!r}: choose auto, asyncio or uvloop")


def anyio_backend_options(loop: EventLoopName) -> dict[str, bool]:
    """``backend_options`` for ``anyio.run`` (asyncio backend) that run on ``loop``."""
    return {"use_uvloop": loop == "uvloop"}
