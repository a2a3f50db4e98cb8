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

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from autotrader_core.capabilities import Capabilities

if TYPE_CHECKING:
    from autotrader_core.account import AccountId
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.audit import ControlAction
    from autotrader_core.events import OrderEvent
    from autotrader_core.models import Alert, Fill, Order, Position
    from autotrader_core.settings import BrokerSettings

__all__ = ["PROJECT_NAME", "AdapterInfo", "AutotraderSpecs", "LazyAdapterInfo", "hookimpl", "hookspec"]

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


class LazyAdapterInfo(AdapterInfo):
    """An :class:`AdapterInfo` whose settings class and capabilities are imported on first read.

    Plugin discovery imports the module each entry point names; with this record that
    module can stay cheap (no adapter module, no pydantic-settings): they load when
    someone reads ``settings_cls`` or ``capabilities`` (``autotrader plugins``, building
    the adapter). Readers see an ordinary :class:`AdapterInfo`.

    Args:
        name: Unique adapter name.
        factory: Builds the adapter from its settings (import the adapter inside it).
        settings_cls: ``"package.module:SettingsClass"``.
        capabilities: ``"package.module:AdapterClass.capabilities"`` (dotted attributes after the colon).
        version: Distribution version.
        description: One line for humans.
    """

    __slots__ = ("_capabilities_ref", "_settings_ref")
    _capabilities_ref: str
    _settings_ref: str

    def __init__(
        self,
        *,
        name: str,
        factory: Callable[[BrokerSettings], BrokerAdapter],
        settings_cls: str,
        capabilities: str,
        version: str = "0",
        description: str = "",
    ) -> None:
        values = {"name": name, "factory": factory, "version": version, "description": description}
        values |= {"_settings_ref": settings_cls, "_capabilities_ref": capabilities}
        for field, value in values.items():
            object.__setattr__(self, field, value)  # frozen: set once, here

    @property
    def settings_cls(self) -> type[BrokerSettings]:
        """The settings class, imported on first read."""
        loaded: type[BrokerSettings] = _resolve(self._settings_ref)
        return loaded

    @property
    def capabilities(self) -> Capabilities:
        """The adapter class's capabilities, imported on first read."""
        loaded: Capabilities = _resolve(self._capabilities_ref)
        return loaded


def _resolve(reference: str) -> Any:
    """``"package.module:Name.attr"`` → that object (the module is imported)."""
    module, _, attributes = reference.partition(":")
    found: Any = importlib.import_module(module)
    for attribute in attributes.split("."):
        found = getattr(found, attribute)
    return found


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
