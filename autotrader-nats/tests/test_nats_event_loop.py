"""``autotrader gateway --loop``: the gateway process runs on uvloop when it is installed, on asyncio when asked."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from autotrader_core.cli import main
from autotrader_core.errors import ConfigurationError
from autotrader_nats import GatewaySettings
from autotrader_nats import cli as gateway_cli
from autotrader_nats.event_loop import anyio_backend_options, resolve_event_loop
from nats_kit import needs_uvloop


def _without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if autotrader-nats[uvloop] were not installed


@needs_uvloop
def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    assert resolve_event_loop("auto") == "uvloop"
    assert anyio_backend_options(resolve_event_loop("auto")) == {"use_uvloop": True}


def test_auto_runs_on_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    assert resolve_event_loop("auto") == "asyncio"
    assert anyio_backend_options("asyncio") == {"use_uvloop": False}


def test_asyncio_is_asyncio_even_with_uvloop_installed() -> None:
    assert resolve_event_loop("asyncio") == "asyncio"


def test_asking_for_uvloop_without_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    with pytest.raises(ConfigurationError, match=r"autotrader-nats\[uvloop\]"):
        resolve_event_loop("uvloop")


def test_an_unknown_loop_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="trio"):
        resolve_event_loop("trio")  # type: ignore[arg-type]


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GatewaySettings().event_loop == "auto"
    monkeypatch.setenv("AUTOTRADER_GATEWAY_EVENT_LOOP", "asyncio")
    assert GatewaySettings().event_loop == "asyncio"


class _LoopRecorder:
    """Stands in for AccountGateway: notes which event loop it runs on, says it is ready, serves nothing."""

    loops: ClassVar[list[str]] = []

    def __init__(self, adapter: object, **kwargs: Any) -> None:
        self.account, self.names = "paper", SimpleNamespace(prefix="autotrader.paper.paper.default")

    async def run(self, *, ready: Any = None) -> None:
        self.loops.append(type(asyncio.get_running_loop()).__module__.split(".")[0])
        ready()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(gateway_cli, "AccountGateway", _LoopRecorder)
    monkeypatch.setattr(gateway_cli, "tune_for_serving", lambda: None)
    monkeypatch.delenv("AUTOTRADER_GATEWAY_EVENT_LOOP", raising=False)
    _LoopRecorder.loops = []
    return _LoopRecorder.loops


@needs_uvloop
@pytest.mark.parametrize(
    ("flag", "env", "runs_on"),
    [
        ([], None, "uvloop"),
        (["--loop", "uvloop"], None, "uvloop"),
        (["--loop", "asyncio"], None, "asyncio"),
        ([], "asyncio", "asyncio"),
        (["--loop", "uvloop"], "asyncio", "uvloop"),  # the flag wins over the environment
    ],
)
def test_the_gateway_process_runs_on_the_loop_it_was_given_and_says_so(
    flag: list[str],
    env: str | None,
    runs_on: str,
    recorded: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env is not None:
        monkeypatch.setenv("AUTOTRADER_GATEWAY_EVENT_LOOP", env)
    assert main(["gateway", "--broker", "paper", "--data-dir", str(tmp_path), *flag]) == 0
    assert recorded == [runs_on]
    assert f"ready on autotrader.paper.paper.default (event loop: {runs_on})" in capsys.readouterr().out


def test_loop_uvloop_without_it_is_a_clear_error_before_anything_starts(
    recorded: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _without_uvloop(monkeypatch)
    assert main(["gateway", "--broker", "paper", "--data-dir", str(tmp_path), "--loop", "uvloop"]) == 2
    assert recorded == []  # no gateway was started
    assert "pip install 'autotrader-nats[uvloop]'" in capsys.readouterr().err


def test_without_uvloop_the_default_gateway_runs_on_asyncio(
    recorded: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_uvloop(monkeypatch)
    assert main(["gateway", "--broker", "paper", "--data-dir", str(tmp_path)]) == 0
    assert recorded == ["asyncio"]
    assert "(event loop: asyncio)" in capsys.readouterr().out
