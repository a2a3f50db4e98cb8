"""Safe order submission by lookup (deprecated: the engine uses :class:`~autotrader_core.resolver.OutcomeResolver`).

.. deprecated:: 0.2
    :func:`submit_with_lookup` re-sends after one "not found", which is safe only on a venue
    whose re-send guarantee is an idempotency key or same-id semantics (issue 14: on a venue
    with a request expiry the first request may still land; on one with none nothing makes
    it safe). The engine no longer calls it; every submit goes through
    :class:`~autotrader_core.resolver.OutcomeResolver`, which re-sends only under the
    adapter's declared :class:`~autotrader_core.resend.ResendGuarantee`. It keeps working,
    with a ``DeprecationWarning``, until 0.3.

After a submit whose outcome is unknown (timeout, 5xx, connection lost) or a
duplicate-id refusal, the broker is *asked* about the order by its client order
id before anything else happens (after a short backoff wait, so that a send
still on its way has landed before the question is asked):

* the broker knows it → its report settles the outcome (nothing is re-sent);
* the broker says it does not exist → re-send the *same* order (same client
  order id, so a late arrival of the first send is refused as a duplicate);
* the lookup itself fails → retry the lookup, never re-send blindly; if it
  keeps failing the outcome stays unknown and the error is raised as transient
  (the engine keeps the order in flight: a timeout is not a rejection).

A reply we cannot parse (``BrokerProtocolError``) may hide an accepted order,
so it is looked up too; if the broker does not know the order, the error is
raised without a re-send. A refusal the broker proves (invalid order,
insufficient funds, bad key) is raised at once; ``RateLimited`` proves the
order was not taken, so it is re-sent after the broker's ``retry_after``.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import (
    AutotraderError,
    BrokerProtocolError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
    TransientError,
)
from autotrader_core.events import OrderEvent
from autotrader_core.models import Order, OrderReport
from autotrader_core.resiliency.retry import OnRetry, RetryPolicy, Sleep, record_attempts

__all__ = ["SubmitOutcome", "submit_with_lookup"]


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """How a submission ended."""

    events: list[OrderEvent]
    """Events the broker's reply proves (empty when a lookup settled the outcome)."""
    report: OrderReport | None
    """The broker's view of the order when a lookup, not the reply, settled the outcome."""
    attempts: int
    """How many times the order was sent."""


async def submit_with_lookup(
    adapter: BrokerAdapter,
    order: Order,
    policy: RetryPolicy,
    *,
    sleep: Sleep = anyio.sleep,
    on_retry: OnRetry | None = None,
    rand: Callable[[], float] = random.random,
    settle_delay: float | None = None,
) -> SubmitOutcome:
    """Submit ``order``, resolving unknown outcomes by lookup before any re-send (deprecated, see the module).

    Args:
        policy: ``max_attempts`` bounds the sends, and separately the lookups
            after each unknown outcome; its backoff spaces both.
        on_retry: Called before each wait (see :data:`~autotrader_core.resiliency.retry.OnRetry`).
        settle_delay: Seconds to wait after a timeout/5xx before the lookup, so that a
            send still on its way has landed (default: the policy's first backoff).
            Brokers that drop requests older than a receive window (Binance
            ``recvWindow``) are safest with that window here.

    Raises:
        TransientError: the outcome is still unknown when attempts run out (the
            last ``RequestTimeout``/``BrokerUnavailable``, or a ``TransientError``
            explaining why the lookup could not settle it).
        AutotraderError: any refusal the broker proved (not retried), or
            ``RateLimited`` when the broker's wait is longer than the policy allows.
    """
    warnings.warn(
        "submit_with_lookup is deprecated and will be removed in 0.3: it re-sends after one 'not found', "
        "safe only on venues with an idempotency key or same-id semantics; the engine settles unknown "
        "outcomes with autotrader_core.resolver.OutcomeResolver, by the adapter's resend_guarantee",
        DeprecationWarning,
        stacklevel=2,
    )
    sends = 0
    while True:
        sends += 1
        try:
            events = await adapter.submit_order(order)
        except RateLimited as exc:  # the broker proved it did not take the order
            delay = policy.delay_after(exc, sends, rand)
            if delay is None:
                record_attempts(exc, sends)
                raise
            if on_retry is not None:
                on_retry(sends, exc, delay)
        except (RequestTimeout, BrokerUnavailable, DuplicateClientOrderId, BrokerProtocolError) as exc:
            if isinstance(exc, TransientError):
                # Give a send that is still on its way time to land before asking about it.
                await sleep(policy.backoff(1, rand) if settle_delay is None else settle_delay)
            report = await _lookup(adapter, order, policy, exc, sends, sleep, on_retry, rand)
            if report is not None:
                return SubmitOutcome(events=[], report=report, attempts=sends)
            if isinstance(exc, DuplicateClientOrderId):
                # "Already there" yet not found: never send a second one; let a later
                # query (reconciliation) settle it.
                raise _unknown(
                    order, exc, sends, "the broker reports a duplicate id but cannot find the order"
                ) from exc
            # Not there. Only a transient error is re-sent; a garbled reply
            # (BrokerProtocolError, not retryable) was a refusal we could not read.
            delay = policy.delay_after(exc, sends, rand)
            if delay is None:
                record_attempts(exc, sends)
                raise
            if on_retry is not None:
                on_retry(sends, exc, delay)
        else:
            return SubmitOutcome(events=events, report=None, attempts=sends)
        await sleep(delay)


async def _lookup(
    adapter: BrokerAdapter,
    order: Order,
    policy: RetryPolicy,
    cause: AutotraderError,
    sends: int,
    sleep: Sleep,
    on_retry: OnRetry | None,
    rand: Callable[[], float],
) -> OrderReport | None:
    """The broker's report of ``order``, ``None`` when it says the order does not exist."""
    lookups = 0
    while True:
        lookups += 1
        try:
            return await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            return None
        except AutotraderError as exc:
            delay = policy.delay_after(exc, lookups, rand)
            if delay is None:
                reason = f"looking the order up failed after {lookups} attempt(s): {exc}"
                raise _unknown(order, cause, sends, reason) from exc
            if on_retry is not None:
                on_retry(lookups, exc, delay)
        await sleep(delay)


def _unknown(order: Order, cause: AutotraderError, sends: int, reason: str) -> TransientError:
    """A transient error saying the outcome is unknown (never a rejection)."""
    if isinstance(cause, TransientError):
        error: TransientError = cause
        error.add_note(reason)
    else:
        error = TransientError(
            f"outcome of order {order.client_order_id} ({order.symbol}) is unknown: {reason}; "
            f"first error: {cause.message}",
            broker=cause.broker,
            code=cause.code,
            broker_message=cause.broker_message,
        )
    record_attempts(error, sends)
    return error
