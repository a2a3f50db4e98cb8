"""pluggy hook specifications (project name ``autotrader``).

Two kinds of plugin use them:

* **adapter plugins** implement :meth:`AutotraderSpecs.autotrader_adapters` and are
  found through the entry-point group ``autotrader.adapters``;
* **observer plugins** (alerts, metrics) implement the ``autotrader_on_*`` hooks and
  are found through ``autotrader.observers``.

Hooks are synchronous (pluggy has no async hooks) and must return quickly: an
observer that needs I/O hands the work to its own thread or task.

Every observer hook receives ``account`` (an :class:`~autotrader_core.account.AccountId`:
broker, environment, account label) so one observer can keep several engines apart.
A hook implementation that does not name ``account`` keeps working: pluggy passes each
implementation only the arguments it declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from autotrader_core.capabilities import Capabilities

if TYPE_CHECKING:
    from autotrader_core.account import AccountId
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.audit import ControlAction
    from autotrader_core.errors import BrokerProtocolError
    from autotrader_core.events import OrderEvent
    from autotrader_core.models import Alert, Fill, Order, Position
    from autotrader_core.settings import BrokerSettings

__all__ = ["PROJECT_NAME", "AdapterInfo", "AutotraderSpecs", "hookimpl", "hookspec"]

PROJECT_NAME = "autotrader"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What an adapter plugin registers.

    Attributes:
        name: Unique adapter name (``"binance"``); two plugins claiming one name is an error.
        factory: Builds the adapter from its settings (``factory(settings)``).
        settings_cls: The adapter's settings class (read from env / ``.env``).
        capabilities: Same object as the adapter class's ``capabilities``.
        version: Distribution version, shown by ``autotrader plugins``.
        description: One line for humans.
    """

    name: str
    factory: Callable[[BrokerSettings], BrokerAdapter]
    settings_cls: type[BrokerSettings]
    capabilities: Capabilities
    version: str = "0"
    description: str = ""


class AutotraderSpecs:
    """All hooks autotrader calls."""

    @hookspec
    def autotrader_adapters(self) -> Iterable[AdapterInfo]:  # type: ignore[empty-body]
        """Return the adapters this plugin provides."""

    @hookspec
    def autotrader_on_order_event(self, order: Order, event: OrderEvent, account: AccountId) -> None:
        """An event was applied to ``order`` (its fields already reflect it)."""

    @hookspec
    def autotrader_on_fill(self, order: Order, fill: Fill, position: Position, account: AccountId) -> None:
        """A new fill was applied; ``position`` is the updated net position."""

    @hookspec
    def autotrader_on_alert(self, alert: Alert, account: AccountId) -> None:
        """Something an operator must see: kill switch, breaker open, unresolved orders."""

    @hookspec
    def autotrader_on_reject(self, order: Order, reason: str, code: str | None, account: AccountId) -> None:
        """An order was refused, locally by a risk check or by the broker.

        ``code`` is the risk check's reason code (e.g. ``MAX_ORDER_NOTIONAL``) or the
        broker's own error code, when there is one.
        """

    @hookspec
    def autotrader_on_breaker_state(self, name: str, state: str, account: AccountId) -> None:
        """A circuit breaker changed state (``closed`` / ``open`` / ``half_open``)."""

    @hookspec
    def autotrader_on_rate_limit_wait(self, name: str, seconds: float, account: AccountId) -> None:
        """A request waited ``seconds`` for the rate limiter or a Retry-After."""

    @hookspec
    def autotrader_on_reconnect(self, broker: str, reason: str, account: AccountId) -> None:
        """An adapter's stream reconnected."""

    @hookspec
    def autotrader_on_bad_item(
        self, broker: str, what: str, error: BrokerProtocolError, may_hold_fill: bool, account: AccountId
    ) -> None:
        """An adapter skipped one unparseable payload item (``what``: "fill", "open order", ...).

        ``may_hold_fill``: the item may have been a fill the OMS never got; an alert goes
        out as well (a fill is never dropped silently) and reconciliation should follow.
        """

    @hookspec
    def autotrader_on_status(self, status: dict[str, Any], account: AccountId) -> None:
        """The engine's periodic status snapshot (see ``ExecutionEngine.status``)."""

    @hookspec
    def autotrader_on_engine_started(self, status: dict[str, Any], account: AccountId) -> None:
        """An engine connected and started (its first status snapshot)."""

    @hookspec
    def autotrader_on_engine_stopped(self, status: dict[str, Any], account: AccountId) -> None:
        """An engine stopped (its last status snapshot)."""

    @hookspec
    def autotrader_on_control_action(self, action: ControlAction, account: AccountId) -> None:
        """An operator action (halt, resume, cancel, flatten, kill, ...) is about to run; for audit."""
