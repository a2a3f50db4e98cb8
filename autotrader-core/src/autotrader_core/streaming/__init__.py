"""The adapter toolkit's reconnecting stream and its carriers.

* :class:`ReconnectingStream`: connect → log in → subscribe → catch up → read,
  with backoff, heartbeat-silence detection, telemetry and a clean close;
* :class:`Carrier`: the four-method protocol a connection meets;
  :class:`WebSocketCarrier` and :class:`LineStreamCarrier` are two of them;
* :class:`Reconnect`, :class:`StreamLost`: how hooks and carriers say "start over".

Names resolve on first use: importing the stream loads neither ``websockets`` nor httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_core.streaming.carrier import Carrier, Reconnect, StreamLost
    from autotrader_core.streaming.lines import LineStreamCarrier, StatusError, default_status_error
    from autotrader_core.streaming.stream import (
        STREAM_RETRY_POLICY,
        CatchUp,
        Decode,
        Gap,
        Handshake,
        Heartbeat,
        ReconnectingStream,
    )
    from autotrader_core.streaming.websocket import WebSocketCarrier

__all__ = [
    "STREAM_RETRY_POLICY",
    "Carrier",
    "CatchUp",
    "Decode",
    "Gap",
    "Handshake",
    "Heartbeat",
    "LineStreamCarrier",
    "Reconnect",
    "ReconnectingStream",
    "StatusError",
    "StreamLost",
    "WebSocketCarrier",
    "default_status_error",
]

_MODULES = {
    **dict.fromkeys(("Carrier", "Reconnect", "StreamLost"), "autotrader_core.streaming.carrier"),
    **dict.fromkeys(
        ("LineStreamCarrier", "StatusError", "default_status_error"), "autotrader_core.streaming.lines"
    ),
    **dict.fromkeys(
        ("STREAM_RETRY_POLICY", "CatchUp", "Decode", "Gap", "Handshake", "Heartbeat", "ReconnectingStream"),
        "autotrader_core.streaming.stream",
    ),
    "WebSocketCarrier": "autotrader_core.streaming.websocket",
}

__getattr__, __dir__ = lazy_names(globals(), _MODULES)
