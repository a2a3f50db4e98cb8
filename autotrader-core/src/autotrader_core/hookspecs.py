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
from dataclasses import FrozenInstanceError
from typing import TYPE_CHECKING, Any, cast

import pluggy

from autotrader_core.capabilities import Capabilities
from autotrader_core.errors import PluginError

if TYPE_CHECKING:
    from autotrader_core.account import AccountId
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.audit import ControlAction
    from autotrader_core.errors import BrokerProtocolError
    from autotrader_core.events import OrderEvent, OutcomeResolved, OutcomeUnknown
    from autotrader_core.models import Alert, Fill, Order, Position
    from autotrader_core.settings import BrokerSettings

__all__ = ["PROJECT_NAME", "AdapterInfo", "AutotraderSpecs", "LazyAdapterInfo", "hookimpl", "hookspec"]

PROJECT_NAME = "autotrader"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class AdapterInfo:
    """What an adapter plugin registers (immutable).

    ``factory`` and ``settings_cls`` may be given as ``"module:attribute"`` references (the
    entry-point syntax) instead of the objects: plugin discovery then imports neither the
    adapter nor its settings (nor pydantic-settings), and the first read of the attribute
    imports and keeps the object. Reading them always gives the object, whichever form was
    registered.

    Attributes:
        name: Unique adapter name (``"binance"``); two plugins claiming one name is an error.
        factory: Builds the adapter from its settings (``factory(settings)``).
        settings_cls: The adapter's settings class (read from env / ``.env``).
        capabilities: Same object as the adapter class's ``capabilities``.
        version: Distribution version, shown by ``autotrader plugins``.
        description: One line for humans.

    Raises:
        ValueError: a reference is not of the form ``"module:attribute"``.
        PluginError: (on first read) a reference cannot be imported, or is not a
            callable / a class.
    """

    __slots__ = ("_factory", "_settings_cls", "capabilities", "description", "name", "version")

    name: str
    capabilities: Capabilities
    version: str
    description: str
    _factory: Callable[[BrokerSettings], BrokerAdapter] | str
    _settings_cls: type[BrokerSettings] | str

    def __init__(
        self,
        name: str,
        factory: Callable[[BrokerSettings], BrokerAdapter] | str,
        settings_cls: type[BrokerSettings] | str,
        capabilities: Capabilities,
        version: str = "0",
        description: str = "",
    ) -> None:
        for what, value in (("factory", factory), ("settings_cls", settings_cls)):
            if isinstance(value, str) and not _is_reference(value):
                raise ValueError(
                    f"adapter {name!r}: {what} reference must be 'module:attribute', got {value!r}"
                )
        init = object.__setattr__
        init(self, "name", name)
        init(self, "_factory", factory)
        init(self, "_settings_cls", settings_cls)
        init(self, "capabilities", capabilities)
        init(self, "version", version)
        init(self, "description", description)

    @property
    def factory(self) -> Callable[[BrokerSettings], BrokerAdapter]:
        """Builds the adapter from its settings (imported on first read when registered by name)."""
        value = self._factory
        if isinstance(value, str):
            value = cast("Callable[[BrokerSettings], BrokerAdapter]", self._load(value, "factory"))
            if not callable(value):
                raise PluginError(f"adapter {self.name!r}: factory {self._factory!r} is not callable")
            object.__setattr__(self, "_factory", value)
        return value

    @property
    def settings_cls(self) -> type[BrokerSettings]:
        """The adapter's settings class (imported on first read when registered by name)."""
        value = self._settings_cls
        if isinstance(value, str):
            value = cast("type[BrokerSettings]", self._load(value, "settings class"))
            if not isinstance(value, type):
                raise PluginError(
                    f"adapter {self.name!r}: settings class {self._settings_cls!r} is not a class"
                )
            object.__setattr__(self, "_settings_cls", value)
        return value

    def _load(self, reference: str, what: str) -> Any:
        import pkgutil  # deferred: only a lazy registration pays for it

        try:
            return pkgutil.resolve_name(reference)
        except Exception as exc:
            raise PluginError(
                f"adapter {self.name!r}: cannot load its {what} {reference!r} ({type(exc).__name__}: {exc})"
            ) from exc

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AdapterInfo):
            return NotImplemented
        return self.identity() == other.identity()

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.description))

    def identity(self) -> tuple[object, ...]:
        """Every field (references resolved): two records of one adapter compare equal."""
        return (self.name, self.factory, self.settings_cls, self.capabilities, self.version, self.description)

    def __repr__(self) -> str:
        return (
            f"AdapterInfo(name={self.name!r}, factory={self._factory!r}, settings_cls={self._settings_cls!r}, "
            f"capabilities={self.capabilities!r}, version={self.version!r}, description={self.description!r})"
        )


def _is_reference(text: str) -> bool:
    module, colon, attribute = text.partition(":")
    return bool(colon and module and attribute)


class LazyAdapterInfo(AdapterInfo):
    """An :class:`AdapterInfo` whose settings class and capabilities are imported on first read.

    Plugin discovery imports the module each entry point names; with this record that
    module can stay cheap (no adapter module, no pydantic-settings): they load when
    someone reads ``settings_cls`` or ``capabilities`` (``autotrader plugins``, building
    the adapter). Readers see an ordinary :class:`AdapterInfo`.

    Args:
        name: Unique adapter name.
        factory: Builds the adapter from its settings (import the adapter inside it), or
            a ``"module:attribute"`` reference.
        settings_cls: ``"package.module:SettingsClass"``.
        capabilities: ``"package.module:AdapterClass.capabilities"`` (dotted attributes after the colon).
        version: Distribution version.
        description: One line for humans.
    """

    __slots__ = ("_capabilities_ref",)
    _capabilities_ref: str

    def __init__(
        self,
        *,
        name: str,
        factory: Callable[[BrokerSettings], BrokerAdapter] | str,
        settings_cls: str,
        capabilities: str,
        version: str = "0",
        description: str = "",
    ) -> None:
        for what, value in (("settings_cls", settings_cls), ("capabilities", capabilities)):
            if not _is_reference(value):
                raise ValueError(
                    f"adapter {name!r}: {what} reference must be 'module:attribute', got {value!r}"
                )
        init = object.__setattr__
        init(self, "name", name)
        init(self, "_factory", factory)
        init(self, "_settings_cls", settings_cls)  # resolved on first read by AdapterInfo.settings_cls
        init(self, "_capabilities_ref", capabilities)
        init(self, "version", version)
        init(self, "description", description)

    @property  # the slot of the base class, read lazily here
    def capabilities(self) -> Capabilities:  # type: ignore[override]
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
    def autotrader_on_outcome_unknown(
        self, order: Order, outcome: OutcomeUnknown, account: AccountId
    ) -> None:
        """The outcome of ``order``'s submit or modify is unknown (reply lost, late or unreadable).

        The order stays open and counts toward exposure until the resolver, the broker's
        answer or an operator settles it (``autotrader_on_outcome_resolved`` follows then).
        """

    @hookspec
    def autotrader_on_outcome_resolved(
        self, order: Order | None, resolved: OutcomeResolved, account: AccountId
    ) -> None:
        """An unknown outcome was settled; ``resolved.how`` says by what."""

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
