"""Resiliency layer: rate limiting, retries, circuit breaking, safe submission, dead letters.

Everything here takes an injectable clock/sleep so tests never really wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

# Bound now, not lazily: `retry` is also the name of a submodule, and importing that
# submodule (dead_letter and submit do) would set this package's `retry` to the module.
from autotrader_core.resiliency.retry import retry

if TYPE_CHECKING:
    from autotrader_core.resiliency.breaker import BreakerState, BreakerStats, CircuitBreaker
    from autotrader_core.resiliency.dead_letter import DeadLetter, DeadLetterQueue, DeadLetterStore
    from autotrader_core.resiliency.failures import FailureTracker, OperationStats
    from autotrader_core.resiliency.rate_limit import RateLimiter, RateLimiterStats
    from autotrader_core.resiliency.retry import OnRetry, RetryPolicy, Sleep, attempts_of
    from autotrader_core.resiliency.submit import SubmitOutcome, submit_with_lookup

__all__ = [
    "BreakerState",
    "BreakerStats",
    "CircuitBreaker",
    "DeadLetter",
    "DeadLetterQueue",
    "DeadLetterStore",
    "FailureTracker",
    "OnRetry",
    "OperationStats",
    "RateLimiter",
    "RateLimiterStats",
    "RetryPolicy",
    "Sleep",
    "SubmitOutcome",
    "attempts_of",
    "retry",
    "submit_with_lookup",
]

# Names resolve on first use (PEP 562): an adapter that needs only the rate limiter
# (`autotrader_core.resiliency.rate_limit`) does not import the other five modules.
_MODULE_OF = {
    "BreakerState": "breaker",
    "BreakerStats": "breaker",
    "CircuitBreaker": "breaker",
    "DeadLetter": "dead_letter",
    "DeadLetterQueue": "dead_letter",
    "DeadLetterStore": "dead_letter",
    "FailureTracker": "failures",
    "OperationStats": "failures",
    "RateLimiter": "rate_limit",
    "RateLimiterStats": "rate_limit",
    "OnRetry": "retry",
    "RetryPolicy": "retry",
    "Sleep": "retry",
    "attempts_of": "retry",
    "SubmitOutcome": "submit",
    "submit_with_lookup": "submit",
}


__getattr__, __dir__ = lazy_names(
    globals(), {name: f"autotrader_core.resiliency.{module}" for name, module in _MODULE_OF.items()}
)
