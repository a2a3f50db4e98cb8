"""Account identity: which broker, environment and account an engine trades.

Every observer hook call, structured order-event record, control action and metric
carries it, so several engines in one process (or behind one gateway) stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AccountId"]


@dataclass(frozen=True, slots=True)
class AccountId:
    """Which account an engine trades: broker (adapter name), environment and account label.

    ``account`` is the user's label for the account (``"default"`` unless set), so two
    engines on one broker and environment — or behind one gateway — stay apart in hooks,
    event records and metrics.
    """

    broker: str
    environment: str
    account: str = "default"

    def __str__(self) -> str:
        return f"{self.broker}/{self.environment}/{self.account}"

    @classmethod
    def of(cls, adapter: object, account: str | None = None) -> AccountId:
        """The identity of ``adapter`` (its ``name`` and ``settings.environment``) under label ``account``."""
        environment = getattr(getattr(adapter, "settings", None), "environment", None)
        return cls(
            broker=str(getattr(adapter, "name", "unknown")),
            environment=environment if isinstance(environment, str) and environment else "unknown",
            account=account or "default",
        )
