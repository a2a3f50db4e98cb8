"""The proxy's script: what happens to a request, its reply and the stream's events.

A test scripts faults per route and occurrence::

    venue.faults.on("POST /api/v3/order", nth=1).hold(0.3).drop_reply()
    venue.faults.on("GET /api/v3/order").reset_before()        # every lookup, connection reset
    venue.faults.stream.twice = True                            # every stream event delivered twice

Per request, in order: **hold** it (the venue has not seen it yet: a gateway queue),
then either **reset** the connection before the venue sees it, or let the venue
execute it and then **drop** the reply (never answered: the client times out),
**reset** the connection, **delay** the reply, **trickle** it a few bytes at a time or
send an **oversized** body instead. A rule without any of these lets the request through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Self

__all__ = ["FaultRule", "FaultScript", "StreamFaults"]

ReplyFate = Literal["send", "drop", "reset", "reset_before"]


@dataclass(slots=True)
class FaultRule:
    """Faults for the ``nth`` request on ``route`` (every one when ``nth`` is ``None``).

    Build it with :meth:`FaultScript.on` and the chained methods below.
    """

    route: str
    nth: int | None = 1
    held: float = 0.0
    fate: ReplyFate = "send"
    delay: float = 0.0
    trickle_interval: float | None = None
    oversize_bytes: int | None = None
    fired: int = 0
    """How many requests met this rule."""
    sent: int = 0
    """Body bytes of an oversized or trickled reply actually written before the client stopped reading."""

    def hold(self, seconds: float) -> Self:
        """Keep the request from the venue for ``seconds`` (it lands later, by the venue's clock too)."""
        self.held = seconds
        return self

    def drop_reply(self) -> Self:
        """The venue executes the request; its reply is never sent (the client's timeout fires)."""
        self.fate = "drop"
        return self

    def reset(self) -> Self:
        """The venue executes the request, then the connection is reset instead of answered."""
        self.fate = "reset"
        return self

    def reset_before(self) -> Self:
        """The connection is reset before the venue sees the request (it never executes)."""
        self.fate = "reset_before"
        return self

    def delay_reply(self, seconds: float) -> Self:
        """The venue executes at once (its stream reports it); the reply leaves ``seconds`` later."""
        self.delay = seconds
        return self

    def trickle(self, interval: float = 0.05) -> Self:
        """Send the reply one byte every ``interval`` seconds."""
        self.trickle_interval = interval
        return self

    def oversize(self, size: int) -> Self:
        """Answer with a ``size``-byte JSON body instead of the venue's reply (and keep sending it)."""
        self.oversize_bytes = size
        return self

    def describe(self) -> str:
        """One line for failure messages."""
        parts = [f"{self.route} #{self.nth or 'every'}"]
        if self.held:
            parts.append(f"hold {self.held:g}s")
        if self.fate != "send":
            parts.append(self.fate.replace("_", " "))
        if self.delay:
            parts.append(f"reply after {self.delay:g}s")
        if self.trickle_interval is not None:
            parts.append("trickled")
        if self.oversize_bytes is not None:
            parts.append(f"{self.oversize_bytes} byte body")
        return ", ".join(parts)


@dataclass(slots=True)
class StreamFaults:
    """What the venue's private stream does with the events it emits.

    Events are emitted when the venue executes a request, so with a delayed or dropped
    reply they arrive *early* (before the reply) by construction.
    """

    off: bool = False
    """Emit nothing: the stream is connected but silent (the engine must rely on queries)."""
    delay: float = 0.0
    """Deliver every event this many seconds late."""
    twice: bool = False
    """Deliver every event twice."""


@dataclass(slots=True)
class FaultScript:
    """Every rule of one venue, matched in the order added; the stream's faults."""

    rules: list[FaultRule] = field(default_factory=list)
    stream: StreamFaults = field(default_factory=StreamFaults)
    seen: Counter[str] = field(default_factory=Counter)
    """Requests seen per route (the proxy's own count, before any hold)."""

    def on(self, route: str, nth: int | None = 1) -> FaultRule:
        """A rule for the ``nth`` request on ``route`` (``"POST /api/v3/order"``); ``None``: every one."""
        rule = FaultRule(route, nth)
        self.rules.append(rule)
        return rule

    def match(self, route: str) -> FaultRule | None:
        """Count a request on ``route`` and return the rule it meets, if any."""
        self.seen[route] += 1
        count = self.seen[route]
        for rule in self.rules:
            if rule.route == route and (rule.nth is None or rule.nth == count):
                rule.fired += 1
                return rule
        return None

    def unfired(self) -> list[FaultRule]:
        """Rules for one occurrence that no request met (the scenario proved nothing with them)."""
        return [rule for rule in self.rules if rule.nth is not None and not rule.fired]
