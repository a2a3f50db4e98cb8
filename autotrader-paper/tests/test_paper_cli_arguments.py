"""`autotrader paper` refuses bad arguments before it starts, and says what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from autotrader_core.cli import main


def test_an_unknown_symbol_is_refused_before_starting_with_the_valid_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_DATA_DIR", str(tmp_path))
    assert main(["paper", "--symbol", "FOO", "--seconds", "30"]) == 2
    out, err = capsys.readouterr()
    assert "error: the paper broker has no instrument 'FOO'; valid symbols: BTCUSDT, ETHUSDT" in err
    assert "FOO None" not in out and "summary" not in out  # nothing ran
    assert list(tmp_path.iterdir()) == []  # no journal, no session file


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (
            ["--interval", "0"],
            "argument --interval: '0' is not valid: give seconds, at least 0.01 and at most 60",
        ),
        (["--interval", "-1"], "argument --interval: '-1' is not valid"),
        (["--interval", "nan"], "argument --interval: 'nan' is not valid"),
        (
            ["--seconds", "-5"],
            "argument --seconds: '-5' is not valid: give seconds, more than 0 and at most 86400",
        ),
        (["--seconds", "0"], "argument --seconds: '0' is not valid"),
        (["--seconds", "1e12"], "argument --seconds: '1e12' is not valid"),
        (["--seconds", "inf"], "argument --seconds: 'inf' is not valid"),
        (["--seconds", "soon"], "argument --seconds: 'soon' is not valid"),
    ],
)
def test_bad_numbers_are_usage_errors_not_tracebacks(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["paper", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert "Traceback" not in err and "pydantic" not in err


def test_an_invalid_setting_from_the_environment_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRADER_RECONCILE_INTERVAL", "-3")
    assert main(["paper", "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: invalid settings: reconcile_interval: Input should be greater than or equal to 0"
    )
