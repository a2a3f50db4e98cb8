"""The audit record of an operator action (see :class:`~autotrader_core.control.EngineControl`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from autotrader_core.account import AccountId

__all__ = ["ControlAction"]


@dataclass(frozen=True, slots=True)
class ControlAction:
    """An audited operator action, as handed to the ``autotrader_on_control_action`` hook."""

    action: str
    actor: str
    account: AccountId
    detail: dict[str, str] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
