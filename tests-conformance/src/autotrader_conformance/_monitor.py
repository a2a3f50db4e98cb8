"""Shared state between the replay servers and the running scenario.

Replay servers run in their own tasks; when a client sends something the
recording does not contain, they report it here, and the monitor cancels the
scenario at once so the test fails with the diff instead of hanging.
"""

from __future__ import annotations

import anyio

__all__ = ["ReplayMonitor"]


class ReplayMonitor:
    """Failures reported by replays, plus "this HTTP exchange was served" latches."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.refused_repeats = 0
        """Requests refused because they repeated an exchange already used (a duplicate submit, say)."""
        self._scopes: list[anyio.CancelScope] = []
        self._served: dict[str, int] = {}
        self._waiters: dict[str, anyio.Event] = {}

    def fail(self, message: str) -> None:
        """Record a replay failure and stop the running scenario."""
        self.failures.append(message)
        for scope in self._scopes:
            scope.cancel()

    def refused_repeat(self) -> None:
        """Count a request refused as a repeat of a recorded exchange already answered."""
        self.refused_repeats += 1

    def bind(self, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` on the next failure (and at once if one is already recorded)."""
        self._scopes.append(scope)
        if self.failures:
            scope.cancel()

    def unbind(self, scope: anyio.CancelScope) -> None:
        """Stop watching ``scope``."""
        if scope in self._scopes:
            self._scopes.remove(scope)

    def served(self, label: str) -> None:
        """Note that the HTTP exchange labelled ``label`` has been answered."""
        self._served[label] = self._served.get(label, 0) + 1
        event = self._waiters.get(label)
        if event is not None:
            event.set()

    def served_count(self, label: str) -> int:
        """How many requests the exchanges labelled ``label`` answered."""
        return self._served.get(label, 0)

    async def wait_served(self, label: str) -> None:
        """Return once an exchange labelled ``label`` has been answered (at once if it was)."""
        if self._served.get(label):
            return
        event = self._waiters.setdefault(label, anyio.Event())
        await event.wait()
