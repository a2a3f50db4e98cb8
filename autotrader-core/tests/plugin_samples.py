"""Plugin modules used by test_plugins (loaded through fake entry points)."""

from __future__ import annotations

from collections.abc import Iterable

from autotrader_core.hookspecs import AdapterInfo, hookimpl
from autotrader_core.settings import BrokerSettings

from .fakes import FakeBroker


def _info(name: str) -> AdapterInfo:
    return AdapterInfo(
        name=name,
        factory=lambda settings: FakeBroker(),
        settings_cls=BrokerSettings,
        capabilities=FakeBroker.capabilities,
        version="1.2.3",
        description=f"{name} test adapter",
    )


class Good:
    """Registers adapter 'good'."""

    @hookimpl
    def autotrader_adapters(self) -> Iterable[AdapterInfo]:
        return [_info("good")]


class Clash:
    """Registers adapter 'good' again: a conflict."""

    @hookimpl
    def autotrader_adapters(self) -> Iterable[AdapterInfo]:
        return [_info("good")]


class Other:
    """Registers adapter 'other'."""

    @hookimpl
    def autotrader_adapters(self) -> Iterable[AdapterInfo]:
        return [_info("other")]


class WrongHook:
    """Implements a hook that does not exist."""

    @hookimpl
    def autotrader_no_such_hook(self) -> None:
        """Never called."""


good = Good()
clash = Clash()
other = Other()
wrong = WrongHook()


class Lazy:
    """Registers adapter 'lazy' by reference: discovery must not import its module."""

    @hookimpl
    def autotrader_adapters(self) -> Iterable[AdapterInfo]:
        return [
            AdapterInfo(
                name="lazy",
                factory="tests.lazy_plugin_target:make",
                settings_cls="tests.lazy_plugin_target:LazySettings",
                capabilities=FakeBroker.capabilities,
                version="1.0",
            )
        ]


lazy = Lazy()
