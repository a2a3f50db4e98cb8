"""Plugin discovery: a thin, defensive wrapper around pluggy.

* adapters come from the entry-point group ``autotrader.adapters``, observers
  from ``autotrader.observers``;
* a plugin that fails to import is recorded in :attr:`PluginManager.load_errors`
  and skipped: the others still load;
* two adapters claiming one name is a :class:`~autotrader_core.errors.PluginError`
  (pluggy alone would silently keep one);
* ``AUTOTRADER_DISABLED_PLUGINS=a,b`` skips the named entry points;
* asking for an adapter that is not there names its load error when it failed to
  load, else the closest installed or first-party name ("did you mean"): never a
  package name built from a typo (that is advice to install a typo-squattable name).
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING

import pluggy

from autotrader_core.errors import ConfigurationError, PluginError
from autotrader_core.hookspecs import PROJECT_NAME, AdapterInfo, AutotraderSpecs

if TYPE_CHECKING:  # discovery must not load pydantic-settings or the adapter base: adapters register lazily
    from autotrader_core.adapter import BrokerAdapter
    from autotrader_core.settings import BrokerSettings

__all__ = ["ADAPTER_GROUP", "KNOWN_ADAPTERS", "OBSERVER_GROUP", "PluginLoadError", "PluginManager"]

ADAPTER_GROUP = "autotrader.adapters"
OBSERVER_GROUP = "autotrader.observers"
DISABLE_ENV = "AUTOTRADER_DISABLED_PLUGINS"
KNOWN_ADAPTERS = ("paper", "binance", "okx", "coinbase", "oanda", "ibkr")
"""The first-party adapters (package ``autotrader-<name>`` in the autotrader repository)."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PluginLoadError:
    """A plugin that could not be loaded, and why."""

    group: str
    name: str
    value: str
    error: str


class PluginManager:
    """Finds, loads and queries autotrader plugins.

    Args:
        disabled: Entry-point names not to load; defaults to ``$AUTOTRADER_DISABLED_PLUGINS``.
    """

    def __init__(self, *, disabled: set[str] | None = None) -> None:
        self.hooks = pluggy.PluginManager(PROJECT_NAME)
        self.hooks.add_hookspecs(AutotraderSpecs)
        if disabled is None:
            disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        self.disabled = disabled
        self.load_errors: list[PluginLoadError] = []
        self._adapters: dict[str, AdapterInfo] | None = None

    # -- loading ------------------------------------------------------------
    def load_entry_points(self) -> PluginManager:
        """Load every plugin from both entry-point groups; returns ``self``."""
        for group in (ADAPTER_GROUP, OBSERVER_GROUP):
            for ep in entry_points(group=group):
                self._load(group, ep)
        return self

    def _load(self, group: str, ep: EntryPoint) -> None:
        if ep.name in self.disabled:
            logger.info("plugin %s disabled by %s", ep.name, DISABLE_ENV)
            return
        canonical = f"{group}:{ep.name}"
        if self.hooks.has_plugin(canonical):
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            self._record_error(group, ep.name, ep.value, exc)
            return
        self.register(plugin, name=canonical, group=group)

    def register(self, plugin: object, *, name: str | None = None, group: str = "direct") -> None:
        """Register a plugin object or module directly (tests, embedded use)."""
        try:
            self.hooks.register(plugin, name=name)
            self.hooks.check_pending()
        except Exception as exc:
            label = name or str(getattr(plugin, "__name__", repr(plugin)))
            self._record_error(group, label, _describe(plugin), exc)
            if self.hooks.is_registered(plugin):
                self.hooks.unregister(plugin)
            return
        self._adapters = None

    def _record_error(self, group: str, name: str, value: str, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        self.load_errors.append(PluginLoadError(group, name, value, error))
        logger.warning("plugin %s (%s) failed to load: %s", name, value, error)

    # -- adapters -----------------------------------------------------------
    def adapters(self) -> dict[str, AdapterInfo]:
        """Every registered adapter by name.

        Raises:
            PluginError: when two plugins register the same adapter name.
        """
        if self._adapters is None:
            found: dict[str, AdapterInfo] = {}
            for batch in self.hooks.hook.autotrader_adapters():
                for info in batch:
                    if info.name in found:
                        raise PluginError(
                            f"two plugins register an adapter named {info.name!r}; "
                            f"uninstall one or disable it with {DISABLE_ENV}"
                        )
                    found[info.name] = info
            self._adapters = dict(sorted(found.items()))
        return self._adapters

    def adapter_info(self, name: str) -> AdapterInfo:
        """The adapter registered under ``name``.

        Raises:
            ConfigurationError: naming the load error when ``name`` failed to load, else the
                adapters that are installed and the closest name ("did you mean ...?").
        """
        adapters = self.adapters()
        try:
            return adapters[name]
        except KeyError:
            raise ConfigurationError(self._not_found(name, adapters)) from None

    def _not_found(self, name: str, adapters: dict[str, AdapterInfo]) -> str:
        installed = f"installed: {', '.join(adapters) or 'none'}"
        for error in self.load_errors:
            if name and name in (error.name, error.name.rpartition(":")[2]):
                return (
                    f"adapter {name!r} is installed but failed to load: {error.error} "
                    f"(entry point {error.value}; `autotrader plugins` lists load errors); {installed}"
                )
        if not name.strip():
            return f"no adapter name given; {installed}"
        if name in KNOWN_ADAPTERS:
            return (
                f"no adapter named {name!r} is installed ({installed}); install the package "
                f"autotrader-{name} (from a clone of autotrader: pip install -e ./autotrader-{name})"
            )
        close = difflib.get_close_matches(name.lower(), [*adapters, *KNOWN_ADAPTERS], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"no adapter named {name!r} is installed ({installed}){hint}"

    def create_adapter(self, name: str, settings: BrokerSettings | None = None) -> BrokerAdapter:
        """Build adapter ``name`` from ``settings`` (or from the environment when ``None``)."""
        info = self.adapter_info(name)
        return info.factory(settings if settings is not None else info.settings_cls())


def _describe(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    return type(plugin).__qualname__
