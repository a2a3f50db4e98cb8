"""What the decision loop does when a strategy's ``decide()`` raises.

One traceback, then one line per failure; each retry waits twice as long as the last
(capped); the first failure alerts observers; after ``max_decide_failures`` failures in a
row trading halts (through the :class:`~autotrader_core.trading_gate.TradingGate`), a
critical alert goes out and the decision loop stops. A ``decide()`` that succeeds in
between starts the count again.
"""

from __future__ import annotations

import logging

from autotrader_core.notifier import Notifier
from autotrader_core.trading_gate import TradingGate

__all__ = ["DecideFailures"]

logger = logging.getLogger("autotrader_core.engine")


class DecideFailures:
    """Counts consecutive ``decide()`` failures of one strategy: back off, alert, halt.

    Args:
        strategy: The strategy's name (in logs and alerts).
        notifier: Where alerts go (``autotrader_on_alert``, source ``"strategy"``).
        gate: The trading gate halted after ``limit`` failures in a row.
        interval: The decision interval: the first retry waits twice as long.
        limit: Failures in a row that halt trading.
        max_delay: Longest wait between retries, in seconds.
    """

    def __init__(
        self,
        strategy: str,
        *,
        notifier: Notifier,
        gate: TradingGate,
        interval: float,
        limit: int,
        max_delay: float = 30.0,
    ) -> None:
        self._strategy = strategy
        self._notifier = notifier
        self._gate = gate
        self._interval = interval
        self._limit = limit
        self._max_delay = max(max_delay, interval)
        self.consecutive = 0
        """Failures in a row so far."""
        self._traceback_logged = False

    def failed(self, exc: BaseException) -> float | None:
        """Record a failure; returns the seconds to wait before the next try, ``None``: halted, stop."""
        self.consecutive += 1
        n = self.consecutive
        summary = f"{type(exc).__name__}: {exc}"
        if n >= self._limit:
            message = (
                f"strategy {self._strategy} decide() failed {n} times in a row ({summary}); "
                "trading halted and the decision loop stopped: fix the strategy, then restart "
                "(or resume_trading())"
            )
            logger.critical("%s", message)
            self._gate.halt(f"strategy {self._strategy} decide() failed {n} times in a row")
            self._notifier.alert("critical", message, source="strategy", details={"failures": str(n)})
            return None
        delay = min(self._interval * 2.0**n, self._max_delay)
        if not self._traceback_logged:
            self._traceback_logged = True  # the full traceback once per engine; later, one line
            logger.error(
                "strategy %s decide() failed (%d/%d); retrying in %.2fs",
                self._strategy,
                n,
                self._limit,
                delay,
                exc_info=exc,
            )
        else:
            logger.error(
                "strategy %s decide() failed (%d/%d): %s; retrying in %.2fs",
                self._strategy,
                n,
                self._limit,
                summary,
                delay,
            )
        if n == 1:
            self._notifier.alert(
                "warning",
                f"strategy {self._strategy} decide() failed: {summary}; backing off "
                f"(trading halts after {self._limit} failures in a row)",
                source="strategy",
            )
        return delay

    def succeeded(self) -> None:
        """``decide()`` returned: the count starts again."""
        self.consecutive = 0
