"""Our symbol format -> IBKR contracts, and back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_core.enums import AssetClass
from autotrader_core.errors import InvalidOrder
from autotrader_ibkr.contracts import parse_symbol, symbol_from_fields
from autotrader_ibkr.parsing import ContractFields


@pytest.mark.parametrize(
    ("symbol", "sec_type", "underlying", "exchange", "currency", "expiry", "strike", "right", "asset"),
    [
        ("AAPL", "STK", "AAPL", "SMART", "USD", "", None, "", AssetClass.EQUITY),
        ("BRK B", "STK", "BRK B", "SMART", "USD", "", None, "", AssetClass.EQUITY),
        ("STK:SAP:IBIS:EUR", "STK", "SAP", "IBIS", "EUR", "", None, "", AssetClass.EQUITY),
        ("EUR.USD", "CASH", "EUR", "IDEALPRO", "USD", "", None, "", AssetClass.FX),
        ("FUT:ES:202512:CME", "FUT", "ES", "CME", "USD", "202512", None, "", AssetClass.FUTURE),
        (
            "FUT:FDAX:20251219:EUREX:EUR",
            "FUT",
            "FDAX",
            "EUREX",
            "EUR",
            "20251219",
            None,
            "",
            AssetClass.FUTURE,
        ),
        (
            "OPT:AAPL:20251219:200:C",
            "OPT",
            "AAPL",
            "SMART",
            "USD",
            "20251219",
            Decimal(200),
            "C",
            AssetClass.OPTION,
        ),
        (
            "OPT:SPY:20251219:512.5:P:CBOE",
            "OPT",
            "SPY",
            "CBOE",
            "USD",
            "20251219",
            Decimal("512.5"),
            "P",
            AssetClass.OPTION,
        ),
    ],
)
def test_symbol_forms(
    symbol: str,
    sec_type: str,
    underlying: str,
    exchange: str,
    currency: str,
    expiry: str,
    strike: Decimal | None,
    right: str,
    asset: AssetClass,
) -> None:
    spec = parse_symbol(symbol)
    assert (spec.sec_type, spec.underlying, spec.exchange, spec.currency) == (
        sec_type,
        underlying,
        exchange,
        currency,
    )
    assert (spec.expiry, spec.strike, spec.right, spec.asset_class) == (expiry, strike, right, asset)
    contract = spec.to_ib()
    assert (contract.secType, contract.symbol, contract.exchange, contract.currency) == (
        sec_type,
        underlying,
        exchange,
        currency,
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " AAPL",
        "aapl",
        "EUR/USD",
        "FUT:ES:Dec25:CME",
        "OPT:AAPL:202512:200:C",
        "OPT:AAPL:20251219:200:X",
        "OPT:AAPL:20251219:-5:C",
        "OPT:AAPL:20251219:abc:C",
        "BOND:X",
        "FUT:ES",
    ],
)
def test_bad_symbols_are_refused_before_anything_is_sent(bad: str) -> None:
    with pytest.raises(InvalidOrder):
        parse_symbol(bad)


def _fields(sec_type: str, symbol: str, **kw: object) -> ContractFields:
    values: dict[str, object] = {
        "con_id": 1,
        "symbol": symbol,
        "sec_type": sec_type,
        "last_trade": "",
        "strike": None,
        "right": "",
        "multiplier": "",
        "exchange": "",
        "currency": "USD",
        "local_symbol": "",
    }
    values.update(kw)
    return ContractFields(**values)  # type: ignore[arg-type]


def test_symbols_for_contracts_tws_reports() -> None:
    assert symbol_from_fields(_fields("STK", "AAPL")) == "AAPL"
    assert symbol_from_fields(_fields("STK", "SAP", currency="EUR")) == "STK:SAP:SMART:EUR"
    assert symbol_from_fields(_fields("CASH", "EUR")) == "EUR.USD"
    assert (
        symbol_from_fields(_fields("FUT", "ES", last_trade="20251219", exchange="CME"))
        == "FUT:ES:20251219:CME"
    )
    opt = _fields("OPT", "AAPL", last_trade="20251219", strike=Decimal("200.0"), right="C")
    assert symbol_from_fields(opt) == "OPT:AAPL:20251219:200:C"
    assert parse_symbol(symbol_from_fields(opt)).strike == Decimal(200)  # round-trips
    assert symbol_from_fields(_fields("BOND", "X", con_id=42)) == "BOND:42"
