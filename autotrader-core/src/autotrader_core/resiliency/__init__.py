"""Resiliency layer: rate limiting, retries, circuit breaking, safe submission, dead letters.

Everything here takes an injectable clock/sleep so tests never really wait.
"""

from __future__ import annotations

from autotrader_core.resiliency.breaker import BreakerState, BreakerStats, CircuitBreaker
from autotrader_core.resiliency.dead_letter import DeadLetter, DeadLetterQueue, DeadLetterStore
from autotrader_core.resiliency.failures import FailureTracker, OperationStats
from autotrader_core.resiliency.rate_limit import RateLimiter, RateLimiterStats
from autotrader_core.resiliency.retry import OnRetry, RetryPolicy, Sleep, attempts_of, retry
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
