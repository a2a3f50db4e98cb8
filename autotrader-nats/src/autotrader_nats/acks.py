"""Acknowledging the command stream: one acknowledgement for every run of finished commands.

The gateway's command consumer uses JetStream's ack policy "all": acknowledging a message
acknowledges every message before it. Commands finish out of order (a slow submit, a quick
cancel), so the acknowledgement goes to the last command of the finished run at the front,
never past one still executing — that one must come again if the gateway dies. A burst of
commands costs one acknowledgement instead of one each, for the gateway and the server.

A command that failed in the gateway stays unacknowledged and comes again after the ack
wait; the finished ones behind it come again too and are answered from the command log,
never executed twice.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import anyio

from autotrader_nats._events import event_factory

__all__ = ["AckFloor", "delivery"]

logger = logging.getLogger(__name__)


class _Delivered(Protocol):
    """A delivered JetStream message (``nats.aio.msg.Msg``)."""

    @property
    def metadata(self) -> Any: ...

    async def ack(self) -> None: ...


class _WithReply(Protocol):
    """A delivered JetStream message with its reply subject."""

    @property
    def metadata(self) -> Any: ...

    @property
    def reply(self) -> str: ...


def delivery(msg: _WithReply) -> tuple[int, int]:
    """``(stream sequence, times delivered)`` of a delivered JetStream message.

    Read off its reply subject (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...``):
    ``msg.metadata`` holds the same, but builds a timestamp and three objects per message to
    get there (4 % of the gateway's event loop under load). A reply of any other shape (with
    a domain and account hash) is left to ``msg.metadata``.
    """
    tokens = (msg.reply or "").split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5]), int(tokens[4])
    metadata = msg.metadata
    return metadata.sequence.stream, metadata.num_delivered


class AckFloor:
    """Delivered commands, in delivery order, until acknowledged."""

    def __init__(self) -> None:
        self._unacked: dict[int, list[Any]] = {}
        self._ready = anyio.Event()
        self.acks_sent = 0
        """Acknowledgements sent (commands finished / this = commands per acknowledgement)."""

    def __len__(self) -> int:
        return len(self._unacked)

    def taken(self, msg: _Delivered, seq: int | None = None) -> int:
        """``msg`` (stream sequence ``seq``, if known) was delivered and is being handled (a
        redelivery keeps its place).

        Returns:
            Its stream sequence, for :meth:`finished` (``msg.metadata`` parses its subject
            each time it is read).
        """
        if seq is None:
            seq = msg.metadata.sequence.stream
        self._unacked.setdefault(seq, [msg, False])
        return seq

    def finished(self, msg: _Delivered, seq: int | None = None) -> None:
        """``msg`` (stream sequence ``seq``, if known) is done with: its outcome recorded, or
        it was unreadable and dropped."""
        if seq is None:
            seq = msg.metadata.sequence.stream
        entry = self._unacked.setdefault(seq, [msg, False])
        entry[1] = True
        self._ready.set()

    async def run(self) -> None:
        """Acknowledge after each wake-up: whatever finished meanwhile costs one acknowledgement."""
        new_event = event_factory()
        while True:
            await self._ready.wait()
            self._ready = new_event()
            await self.flush()

    async def flush(self) -> None:
        """Acknowledge the finished run at the front now (at stop, before the connection closes)."""
        last = None
        unacked = self._unacked
        while unacked:
            seq = next(iter(unacked))
            entry = unacked[seq]
            if not entry[1]:
                break
            del unacked[seq]
            last = entry[0]
        if last is not None:
            self.acks_sent += 1
            try:
                await last.ack()
            except Exception as exc:  # connection lost: they come again and are answered from the log
                logger.warning("command acknowledgement failed: %s", exc)
