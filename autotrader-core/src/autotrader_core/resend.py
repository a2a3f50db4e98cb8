"""What makes re-sending a non-idempotent request safe on one venue: declared by its adapter.

A request can be accepted and its reply lost, or wait in the venue's gateway and land
seconds later. Sending it again is safe only when the venue itself guarantees that the
first request can no longer execute, or that a second one cannot add an order. Each
adapter declares which guarantee its venue gives (``BrokerAdapter.resend_guarantee``);
the core's resolver of unknown outcomes re-sends only when that guarantee holds, and
never on a venue with none.

The four kinds (facts per venue: ``shared/protocols.md``):

- :attr:`ResendRule.EXPIRY`: the venue refuses a request older than a window, measured
  by **its** clock against the timestamp the request carries (Binance ``recvWindow``,
  re-checked before the matching engine; OKX's ``expTime`` header on place/amend). A
  re-send is safe once the venue's own clock has provably passed the first request's
  stamp plus the window (:meth:`ResendGuarantee.expired_by`) and a lookup then finds
  nothing.
- :attr:`ResendRule.IDEMPOTENCY_KEY`: a repeated client order id returns the existing
  order instead of creating one (Coinbase ``client_order_id``).
- :attr:`ResendRule.SAME_ID`: a repeated order id modifies that order, never adds one
  (IBKR ``placeOrder`` with an order id already in use).
- :attr:`ResendRule.NONE`: no guarantee (OANDA: the client id is unique among *pending*
  orders only, and a request has no expiry). The order stays unknown, is looked up with
  backoff and reported, and is settled by reconciliation or by an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = ["ResendGuarantee", "ResendRule"]


class ResendRule(StrEnum):
    """The kind of guarantee a venue gives that a re-sent request cannot double an order."""

    EXPIRY = "expiry"
    """The venue refuses a request older than ``window`` seconds by its own clock."""
    IDEMPOTENCY_KEY = "idempotency_key"
    """A repeated client order id returns the existing order; it never creates a second one."""
    SAME_ID = "same_id"
    """A repeated order id modifies the order that has it; it never adds one."""
    NONE = "none"
    """Nothing makes a re-send safe: an unknown outcome is never settled by sending again."""


@dataclass(frozen=True, slots=True)
class ResendGuarantee:
    """One venue's declared guarantee for re-sending a submit, modify or cancel-replace.

    Build one with the class methods (:meth:`expiry`, :meth:`idempotency_key`,
    :meth:`same_id`, :meth:`none`); ``source`` says where the venue documents it.
    """

    rule: ResendRule
    window: float | None = None
    """For :attr:`ResendRule.EXPIRY`: seconds after the request's stamp the venue refuses it."""
    source: str = ""
    """Where the venue documents the guarantee (shown in errors, alerts and docs)."""

    def __post_init__(self) -> None:
        if self.rule is ResendRule.EXPIRY:
            if self.window is None or not self.window > 0:
                raise ValueError("an expiry guarantee needs a positive window in seconds")
        elif self.window is not None:
            raise ValueError(f"a {self.rule.value} guarantee has no window")

    @classmethod
    def expiry(cls, window: float, source: str = "") -> ResendGuarantee:
        """The venue refuses a request ``window`` seconds after its stamp, by the venue's clock."""
        return cls(ResendRule.EXPIRY, window, source)

    @classmethod
    def idempotency_key(cls, source: str = "") -> ResendGuarantee:
        """A repeated client order id returns the existing order."""
        return cls(ResendRule.IDEMPOTENCY_KEY, None, source)

    @classmethod
    def same_id(cls, source: str = "") -> ResendGuarantee:
        """A repeated order id modifies that order, never adds one."""
        return cls(ResendRule.SAME_ID, None, source)

    @classmethod
    def none(cls, source: str = "") -> ResendGuarantee:
        """No guarantee: never re-send."""
        return cls(ResendRule.NONE, None, source)

    @property
    def allows_resend(self) -> bool:
        """Whether any re-send can ever be safe on this venue."""
        return self.rule is not ResendRule.NONE

    @property
    def resend_is_immediately_safe(self) -> bool:
        """Whether a re-send is safe at once (the venue de-duplicates), without waiting for an expiry."""
        return self.rule in (ResendRule.IDEMPOTENCY_KEY, ResendRule.SAME_ID)

    def expired_by(self, stamp: datetime, venue_now: datetime) -> bool:
        """Whether a request stamped ``stamp`` can no longer execute at ``venue_now`` (the venue's clock).

        ``stamp`` must be an upper bound of the timestamp the request carried (take it
        *after* the request was sent); only :attr:`ResendRule.EXPIRY` ever expires.
        """
        if self.rule is not ResendRule.EXPIRY:
            return False
        assert self.window is not None
        return venue_now > stamp + timedelta(seconds=self.window)
