"""Plugin discovery: broken plugins are reported, the rest still load; names are unique."""

from __future__ import annotations

import sys
from dataclasses import FrozenInstanceError
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from autotrader_core import plugins as plugins_module
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import ConfigurationError, PluginError
from autotrader_core.hookspecs import AdapterInfo
from autotrader_core.plugins import ADAPTER_GROUP, PluginManager
from autotrader_core.settings import BrokerSettings

from .fakes import FakeBroker


def install(monkeypatch: pytest.MonkeyPatch, *specs: tuple[str, str]) -> None:
    eps = [EntryPoint(name=name, value=value, group=ADAPTER_GROUP) for name, value in specs]
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: [ep for ep in eps if ep.group == group])


def test_adapters_are_discovered_and_built(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"), ("other", "tests.plugin_samples:other"))
    manager = PluginManager(disabled=set()).load_entry_points()
    assert list(manager.adapters()) == ["good", "other"]
    assert manager.adapter_info("good").version == "1.2.3"
    assert isinstance(manager.create_adapter("good"), FakeBroker)
    assert manager.load_errors == []


def test_a_broken_plugin_is_reported_and_the_others_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        ("broken", "tests.no_such_module:plugin"),
        ("wrong", "tests.plugin_samples:wrong"),
        ("good", "tests.plugin_samples:good"),
    )
    manager = PluginManager(disabled=set()).load_entry_points()
    assert list(manager.adapters()) == ["good"]
    errors = {e.name: e.error for e in manager.load_errors}
    assert "ModuleNotFoundError" in errors["broken"]
    assert "autotrader_no_such_hook" in errors[f"{ADAPTER_GROUP}:wrong"]


def test_two_adapters_with_one_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"), ("clash", "tests.plugin_samples:clash"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(PluginError, match="two plugins register an adapter named 'good'"):
        manager.adapters()


def test_disabled_plugins_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"), ("clash", "tests.plugin_samples:clash"))
    monkeypatch.setenv("AUTOTRADER_DISABLED_PLUGINS", "clash, unrelated")
    manager = PluginManager().load_entry_points()
    assert list(manager.adapters()) == ["good"]


def test_unknown_adapter_names_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(ConfigurationError, match=r"installed: good.*install the package autotrader-binance"):
        manager.adapter_info("binance")


@pytest.mark.parametrize(
    ("asked", "hint"),
    [
        ("binanse", "did you mean 'binance'?"),
        ("Paper", "did you mean 'paper'?"),
        ("godo", "did you mean 'good'?"),  # an installed third-party adapter is suggested too
    ],
)
def test_a_misspelt_adapter_gets_did_you_mean_never_a_made_up_package(
    monkeypatch: pytest.MonkeyPatch, asked: str, hint: str
) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(ConfigurationError) as caught:
        manager.adapter_info(asked)
    message = str(caught.value)
    assert hint in message
    assert f"autotrader-{asked}" not in message and "pip install" not in message


@pytest.mark.parametrize("asked", ["", "   "])
def test_an_empty_adapter_name_is_named_as_such(monkeypatch: pytest.MonkeyPatch, asked: str) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(ConfigurationError, match="no adapter name given; installed: good") as caught:
        manager.adapter_info(asked)
    assert "autotrader-" not in str(caught.value)


def test_an_unrelated_name_gets_no_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("good", "tests.plugin_samples:good"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(ConfigurationError) as caught:
        manager.adapter_info("zzzzqqq")
    assert str(caught.value) == "no adapter named 'zzzzqqq' is installed (installed: good)"


def test_an_adapter_that_failed_to_load_is_named_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, ("acme", "acme_adapter.plugin:plugin"), ("good", "tests.plugin_samples:good"))
    manager = PluginManager(disabled=set()).load_entry_points()
    with pytest.raises(ConfigurationError) as caught:
        manager.create_adapter("acme")
    message = str(caught.value)
    assert "adapter 'acme' is installed but failed to load" in message
    assert "ModuleNotFoundError: No module named 'acme_adapter'" in message
    assert "no adapter named" not in message


# -- lazy registration: factory and settings class named by reference -------------------
_TARGET = "tests.lazy_plugin_target"


def test_a_lazy_registration_imports_the_adapter_only_when_it_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, _TARGET, raising=False)
    install(monkeypatch, ("lazy", "tests.plugin_samples:lazy"))
    manager = PluginManager(disabled=set()).load_entry_points()
    info = manager.adapter_info("lazy")
    assert info.capabilities is FakeBroker.capabilities
    assert _TARGET not in sys.modules  # discovery and listing load nothing of the adapter
    adapter = manager.create_adapter("lazy")
    assert isinstance(adapter, FakeBroker)
    target = sys.modules[_TARGET]
    assert info.settings_cls is target.LazySettings
    assert info.factory is target.make


def build_fake(settings: BrokerSettings) -> BrokerAdapter:
    """A factory of the shape AdapterInfo takes (``FakeBroker``'s own constructor takes a price)."""
    return FakeBroker()


def test_an_eager_registration_reads_back_the_same_objects() -> None:
    info = AdapterInfo("eager", build_fake, BrokerSettings, FakeBroker.capabilities)
    assert info.factory is build_fake
    assert info.settings_cls is BrokerSettings
    lazy = AdapterInfo(
        "eager", build_fake, "autotrader_core.settings:BrokerSettings", FakeBroker.capabilities
    )
    assert lazy == info  # the same adapter, whichever form registered it
    unread = AdapterInfo("x", build_fake, "a.b:C", info.capabilities)
    assert "settings_cls='a.b:C'" in repr(unread)  # a repr never imports


def test_adapter_info_is_immutable() -> None:
    info = AdapterInfo("eager", build_fake, BrokerSettings, FakeBroker.capabilities)
    with pytest.raises(FrozenInstanceError):
        info.name = "other"
    with pytest.raises(FrozenInstanceError):
        info._factory = "a.b:c"


def test_a_malformed_reference_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        AdapterInfo("bad", "no_colon_here", BrokerSettings, FakeBroker.capabilities)


@pytest.mark.parametrize(
    ("factory", "settings", "message"),
    [
        ("no_such_module_xyz:make", BrokerSettings, "cannot load its factory 'no_such_module_xyz:make'"),
        (f"{_TARGET}:NOT_CALLABLE", BrokerSettings, "is not callable"),
        (FakeBroker, f"{_TARGET}:make", "is not a class"),
    ],
    ids=["missing-module", "not-callable", "not-a-class"],
)
def test_a_reference_that_does_not_load_names_the_adapter(factory: Any, settings: Any, message: str) -> None:
    info = AdapterInfo("broken", factory, settings, FakeBroker.capabilities)
    with pytest.raises(PluginError, match=f"adapter 'broken': .*{message}"):
        _ = info.factory, info.settings_cls
