"""Requests held in flight at the crash broker: what to hold, and what became of each.

A venue's gateway can keep a request for a while before it reaches the matching
engine, or execute it and lose the reply. The crash broker does both on a seeded plan
(:class:`HoldPlan`), and keeps a :class:`HeldRequest` record of each, so the harness can
kill the engine while the request is held and judge what the restarted engine said.

The broker's re-send guarantee is one of the core's :class:`ResendGuarantee` kinds, named
on the command line as ``expiry:0.3``, ``idempotency_key``, ``same_id`` or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from autotrader_core.resend import ResendGuarantee, ResendRule

__all__ = [
    "DEFAULT_WINDOW",
    "HeldRequest",
    "HoldMode",
    "HoldPlan",
    "guarantee_from_text",
    "guarantee_to_text",
    "window_of",
]

DEFAULT_WINDOW = 1.0
"""Seconds of the crash broker's request expiry (Binance's ``recvWindow``, scaled down for speed)."""


class HoldMode(StrEnum):
    """How the broker holds the planned request."""

    BEFORE_LAND = "before_land"
    """Held before the matching engine; it lands (or expires) after ``hold`` seconds."""
    REPLY_LOST = "reply_lost"
    """Executed at once; the reply is never sent."""


@dataclass(frozen=True)
class HoldPlan:
    """Hold the ``nth`` ``op`` request the broker receives after the plan is armed."""

    mode: HoldMode
    op: str = "submit"
    nth: int = 1
    hold: float = 0.0
    """Seconds from arrival to landing (``BEFORE_LAND``); with ``race``, the longest wait."""
    race: bool = False
    """Land right after the broker answered "no such order" to a lookup of it (the targeted race)."""


@dataclass
class HeldRequest:
    """One held request and its fate (``outcome`` is ``None`` while it is still held)."""

    op: str
    client_order_id: str
    plan: HoldPlan
    arrived: datetime
    """The broker's clock when the request reached its gateway."""
    stamp: datetime | None
    """The timestamp the request carried (the engine's estimate of the broker's clock)."""
    outcome: str | None = None
    """``executed``, ``expired``, ``deduplicated`` or ``refused: <error>``."""
    landed: datetime | None = None
    looked_up_missing: int = 0
    """Times a lookup of this order was answered "no such order" while it was held."""
    events: list[str] = field(default_factory=list)

    @property
    def undecided(self) -> bool:
        """True while the request is still held: it may yet execute."""
        return self.outcome is None

    def may_still_execute(self, guarantee: ResendGuarantee, now: datetime) -> bool:
        """Whether this request, if still held at ``now``, could still execute when it lands."""
        if not self.undecided:
            return False
        if guarantee.rule is ResendRule.EXPIRY and self.stamp is not None:
            return not guarantee.expired_by(self.stamp, now)
        return True

    def describe(self) -> str:
        """One line for reports."""
        landed = "" if self.landed is None else f" after {(self.landed - self.arrived).total_seconds():.2f}s"
        return (
            f"{self.plan.mode.value} {self.op} {self.client_order_id}: {self.outcome or 'still held'}{landed}"
        )


def guarantee_from_text(text: str) -> ResendGuarantee:
    """``expiry:0.3`` / ``expiry`` (the default window), ``idempotency_key``, ``same_id`` or ``none``."""
    rule, _, window = text.partition(":")
    source = "crash broker (tests-crash)"
    if rule == ResendRule.EXPIRY.value:
        return ResendGuarantee.expiry(float(window) if window else DEFAULT_WINDOW, source)
    if rule == ResendRule.IDEMPOTENCY_KEY.value:
        return ResendGuarantee.idempotency_key(source)
    if rule == ResendRule.SAME_ID.value:
        return ResendGuarantee.same_id(source)
    if rule == ResendRule.NONE.value:
        return ResendGuarantee.none(source)
    raise ValueError(f"unknown re-send guarantee {text!r}: expiry[:seconds], idempotency_key, same_id, none")


def guarantee_to_text(guarantee: ResendGuarantee) -> str:
    """The inverse of :func:`guarantee_from_text`."""
    if guarantee.rule is ResendRule.EXPIRY:
        return f"expiry:{guarantee.window}"
    return guarantee.rule.value


def window_of(guarantee: ResendGuarantee) -> timedelta:
    """The expiry window, or the default one as the time scale of guarantees without it."""
    return timedelta(seconds=guarantee.window or DEFAULT_WINDOW)
