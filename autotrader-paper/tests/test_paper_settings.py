"""PaperSettings: defaults, environment variables, validation."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from autotrader_paper import PaperSettings
from autotrader_paper.settings import parse_decimal_map
from pydantic import ValidationError


def make(**kwargs: object) -> PaperSettings:
    return PaperSettings(_env_file=None, **kwargs)  # type: ignore[arg-type, call-arg]


def test_defaults_are_a_safe_deterministic_paper_account() -> None:
    s = make()
    assert s.environment == "paper"
    assert not s.is_live
    assert s.seed == 7
    assert s.quote_source == "random_walk"
    assert s.initial_balances == {"USDT": D(100000), "BTC": D(1), "ETH": D(10)}
    assert [i.symbol for i in s.instruments] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    btc = s.instruments[0].to_instrument()
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (D("0.01"), D("0.00001"), D(5))
    assert s.partial_fill_threshold is None
    assert s.tick_interval == 0.05


def test_environment_variables_are_read_with_the_paper_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_PAPER_SEED", "42")
    monkeypatch.setenv("AUTOTRADER_PAPER_INITIAL_BALANCES", "usdt=2500.50, btc=0")
    monkeypatch.setenv("AUTOTRADER_PAPER_TAKER_FEE_RATE", "0.00075")
    monkeypatch.setenv("AUTOTRADER_PAPER_PARTIAL_FILL_THRESHOLD", "0.5")
    monkeypatch.setenv("AUTOTRADER_PAPER_QUOTE_SOURCE", "static")
    monkeypatch.setenv("AUTOTRADER_PAPER_START_PRICES", "BTCUSDT=64000.10")
    s = make()
    assert s.seed == 42
    assert s.initial_balances == {"USDT": D("2500.50"), "BTC": D(0)}
    assert s.taker_fee_rate == D("0.00075")
    assert s.partial_fill_threshold == D("0.5")
    assert s.instrument_start_price(s.instruments[0]) == D("64000.10")


def test_instruments_can_be_given_as_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = [
        {
            "symbol": "SOLUSDT",
            "base": "SOL",
            "quote": "USDT",
            "tick_size": "0.01",
            "lot_size": "0.001",
            "start_price": "150.00",
        }
    ]
    monkeypatch.setenv("AUTOTRADER_PAPER_INSTRUMENTS", json.dumps(spec))
    s = make()
    assert [i.symbol for i in s.instruments] == ["SOLUSDT"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"taker_fee_rate": D("-0.001")},
        {"maker_fee_rate": "-1"},
        {"slippage_bps": D(-1)},
        {"static_price": D(0)},
        {"latency_ms": D(-5)},
        {"partial_fill_threshold": D(0)},
        {"initial_balances": "USDT=-5"},
        {"initial_balances": "USDT"},
        {"initial_balances": "USDT=abc"},
        {"start_prices": "BTCUSDT=0"},
        {"start_prices": "DOGEUSDT=1"},
        {"environment": "live"},
        {"quote_source": "yahoo"},
        {"taker_fee_rate": 0.001},
        {"csv_path": "/nonexistent/prices.csv", "quote_source": "csv"},
        {"instruments": []},
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make(**kwargs)


def test_float_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match=r"Decimal\('0.001'\)"):
        make(taker_fee_rate=0.001)


def test_instrument_start_price_must_be_on_its_tick() -> None:
    bad = {
        "symbol": "X",
        "base": "A",
        "quote": "B",
        "tick_size": "0.5",
        "lot_size": "1",
        "start_price": "1.2",
    }
    with pytest.raises(ValidationError, match="multiple"):
        make(instruments=[bad])


def test_static_price_applies_to_every_symbol_only_for_the_static_source(tmp_path: Path) -> None:
    s = make(quote_source="static", static_price="123.45")
    assert {s.instrument_start_price(i) for i in s.instruments} == {D("123.45")}
    s = make(static_price="123.45")
    assert s.instrument_start_price(s.instruments[0]) == D("65000.00")


def test_parse_decimal_map_accepts_mappings_and_strings() -> None:
    assert parse_decimal_map({"usdt": "1.5"}, what="x") == {"USDT": D("1.5")}
    assert parse_decimal_map("A=1,,B=2.25", what="x") == {"A": D(1), "B": D("2.25")}
