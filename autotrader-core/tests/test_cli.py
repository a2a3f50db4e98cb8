"""The ``autotrader`` command: plugins listing and kill without a session."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from autotrader_core import plugins as plugins_module
from autotrader_core.cli import main
from autotrader_core.plugins import ADAPTER_GROUP


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        EntryPoint(name="good", value="tests.plugin_samples:good", group=ADAPTER_GROUP),
        EntryPoint(name="broken", value="tests.no_such_module:plugin", group=ADAPTER_GROUP),
    ]
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: [e for e in eps if e.group == group])


@pytest.mark.usefixtures("installed")
def test_plugins_lists_adapters_capabilities_and_load_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 1  # a plugin failed to load: a script or CI step must notice
    out, err = capsys.readouterr()
    assert "good 1.2.3  good test adapter" in out
    assert "types=limit,market" in out and "native_modify" in out
    assert "failed to load broken" in err and "ModuleNotFoundError" in err


@pytest.mark.usefixtures("installed")
def test_plugins_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in payload["adapters"]] == ["good"]
    assert "streaming_fills" in payload["adapters"][0]["features"]
    assert payload["load_errors"][0]["name"] == "broken"


def test_a_plugin_that_fails_to_import_is_not_reported_as_nothing_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eps = [EntryPoint(name="acme", value="acme_adapter.plugin:plugin", group=ADAPTER_GROUP)]
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: [e for e in eps if e.group == group])
    assert main(["plugins"]) == 1
    out, err = capsys.readouterr()
    assert "no adapter loaded: 1 plugin(s) failed to load" in out
    assert "no adapters installed" not in out
    assert "failed to load acme (acme_adapter.plugin:plugin): ModuleNotFoundError" in err
    assert main(["kill", "--broker", "acme"]) == 2
    err = capsys.readouterr().err
    assert "adapter 'acme' is installed but failed to load: ModuleNotFoundError" in err


def test_plugins_with_nothing_installed_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: [])
    assert main(["plugins"]) == 0
    assert "no adapters installed" in capsys.readouterr().out


def test_kill_without_a_session_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
    assert main(["kill"]) == 1
    assert "no running autotrader session" in capsys.readouterr().out


@pytest.mark.usefixtures("installed")
def test_unknown_adapter_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kill", "--broker", "nope"]) == 2
    assert "no adapter named 'nope'" in capsys.readouterr().err


def _add_hello(subparsers: Any) -> None:
    hello = subparsers.add_parser("hello", help="a command added by a plugin")
    hello.add_argument("--name", default="world")
    hello.set_defaults(func=lambda args: print(f"hello {args.name}") or 3)


def test_plugin_packages_add_subcommands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from autotrader_core import cli

    eps = [
        EntryPoint(name="hello", value="tests.test_cli:_add_hello", group=cli.COMMAND_GROUP),
        EntryPoint(name="broken", value="tests.no_such_module:add", group=cli.COMMAND_GROUP),
    ]
    monkeypatch.setattr(cli, "entry_points", lambda group: [e for e in eps if e.group == group])
    assert main(["hello", "--name", "ops"]) == 3
    captured = capsys.readouterr()
    assert "hello ops" in captured.out
    assert "failed to load autotrader command plugin broken" in captured.err
