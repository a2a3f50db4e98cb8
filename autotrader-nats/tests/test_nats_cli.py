"""``autotrader gateway`` is registered through the core's ``autotrader.commands`` entry point."""

from __future__ import annotations

import pytest
from autotrader_core.cli import main


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
