"""``autotrader gateway`` is registered through the core's ``autotrader.commands`` entry point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from autotrader_core.cli import main
from autotrader_nats import cli as gateway_cli


def test_the_gateway_subcommand_is_installed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["gateway", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--broker" in out and "--account" in out


def test_an_unknown_broker_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--broker", "nosuchbroker"]) == 2
    assert "nosuchbroker" in capsys.readouterr().err


def test_autotrader_plugins_lists_the_gateway_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "command: autotrader gateway  (autotrader-nats " in out
    assert "paper" in out  # the adapters are still listed


class _Recorder:
    """Stands in for AccountGateway: records how the CLI built it, serves nothing."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, adapter: object, **kwargs: Any) -> None:
        self.built.append(kwargs)
        self.account, self.names = "paper", SimpleNamespace(prefix="autotrader.paper.paper.default")

    async def run(self, *, ready: Any = None) -> None:
        return None


@pytest.mark.parametrize(
    ("flag", "rows"), [([], 100_000), (["--compact-after", "500"], 500), (["--compact-after", "0"], None)]
)
def test_compact_after_sets_the_gateways_compaction_policy(
    flag: list[str], rows: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_cli, "AccountGateway", _Recorder)
    _Recorder.built = []
    assert main(["gateway", "--broker", "paper", "--data-dir", str(tmp_path), *flag]) == 0
    (kwargs,) = _Recorder.built
    policy = kwargs["compaction"]
    assert (policy.max_records if policy is not None else None) == rows


def test_the_gateway_process_tunes_its_collector_once_it_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    class ReadyRecorder(_Recorder):
        async def run(self, *, ready: Any = None) -> None:
            calls.append("started")
            ready()

    monkeypatch.setattr(gateway_cli, "AccountGateway", ReadyRecorder)
    monkeypatch.setattr(gateway_cli, "tune_for_serving", lambda: calls.append("tuned"))
    assert main(["gateway", "--broker", "paper", "--data-dir", str(tmp_path)]) == 0
    assert calls == ["started", "tuned"]  # after start-up (what is alive then is frozen), once
    assert "ready" in capsys.readouterr().out
