"""Our symbol strings <-> IBKR contracts.

Symbol format (documented in the README):

==============================================  =========================================
``AAPL``                                        stock, SMART routing, USD
``STK:SAP:IBIS:EUR``                            stock on a given exchange and currency
``EUR.USD``                                     FX pair (CASH on IDEALPRO)
``FUT:ES:202512:CME`` (``:USD`` optional)       future: symbol, contract month or
                                                last trade date (YYYYMM / YYYYMMDD), exchange
``OPT:AAPL:20251219:200:C`` (``:SMART:USD``)    option: underlying, expiry, strike, C/P
==============================================  =========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import ib_async
from autotrader_core.enums import AssetClass
from autotrader_core.errors import InvalidOrder

from autotrader_ibkr.parsing import BROKER, ContractFields

__all__ = ["ContractSpec", "parse_symbol", "symbol_from_fields"]

_STOCK = re.compile(r"^[A-Z0-9][A-Z0-9 .]{0,11}$")
_FX = re.compile(r"^([A-Z]{3})\.([A-Z]{3})$")
_DATE = re.compile(r"^\d{6}(\d{2})?$")
_SEC_ASSET = {
    "STK": AssetClass.EQUITY,
    "CASH": AssetClass.FX,
    "FUT": AssetClass.FUTURE,
    "OPT": AssetClass.OPTION,
}


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What a symbol names, before TWS qualifies it (adds conId, trading class…)."""

    symbol: str
    """Our symbol string, as given."""
    sec_type: str
    underlying: str
    exchange: str
    currency: str
    expiry: str = ""
    strike: Decimal | None = None
    right: str = ""

    @property
    def asset_class(self) -> AssetClass:
        """Core asset class of the contract."""
        return _SEC_ASSET[self.sec_type]

    def to_ib(self) -> ib_async.Contract:
        """An unqualified ib_async contract for ``reqContractDetails`` / ``qualifyContracts``."""
        if self.sec_type == "CASH":
            return ib_async.Contract(
                secType="CASH", symbol=self.underlying, currency=self.currency, exchange=self.exchange
            )
        contract = ib_async.Contract(
            secType=self.sec_type, symbol=self.underlying, exchange=self.exchange, currency=self.currency
        )
        if self.expiry:
            contract.lastTradeDateOrContractMonth = self.expiry
        if self.strike is not None:
            # ib_async types strike as float; the value is only echoed to TWS as text.
            contract.strike = float(self.strike)
        if self.right:
            contract.right = self.right
        return contract


def _bad(symbol: str, why: str) -> InvalidOrder:
    return InvalidOrder(
        f"bad IBKR symbol {symbol!r}: {why} (use AAPL, STK:SAP:IBIS:EUR, EUR.USD, "
        "FUT:ES:202512:CME or OPT:AAPL:20251219:200:C)",
        broker=BROKER,
    )


def parse_symbol(symbol: str) -> ContractSpec:
    """Parse our symbol format; raises :class:`InvalidOrder` before anything is sent."""
    if not isinstance(symbol, str) or not symbol or symbol != symbol.strip():
        raise _bad(str(symbol), "empty or padded")
    if fx := _FX.match(symbol):
        return ContractSpec(symbol, "CASH", fx.group(1), "IDEALPRO", fx.group(2))
    if ":" not in symbol:
        if not _STOCK.match(symbol):
            raise _bad(symbol, "not a stock ticker")
        return ContractSpec(symbol, "STK", symbol, "SMART", "USD")
    kind, *parts = symbol.split(":")
    if kind == "STK" and 1 <= len(parts) <= 3:
        ticker = parts[0]
        exchange = parts[1] if len(parts) > 1 else "SMART"
        currency = parts[2] if len(parts) > 2 else "USD"
        if not _STOCK.match(ticker):
            raise _bad(symbol, "not a stock ticker")
        return ContractSpec(symbol, "STK", ticker, exchange, currency)
    if kind == "FUT" and len(parts) in (3, 4):
        root, expiry, exchange = parts[:3]
        currency = parts[3] if len(parts) == 4 else "USD"
        if not _DATE.match(expiry):
            raise _bad(symbol, "expiry must be YYYYMM or YYYYMMDD")
        return ContractSpec(symbol, "FUT", root, exchange, currency, expiry=expiry)
    if kind == "OPT" and len(parts) in (4, 5, 6):
        underlying, expiry, strike_text, right = parts[:4]
        exchange = parts[4] if len(parts) > 4 else "SMART"
        currency = parts[5] if len(parts) > 5 else "USD"
        if not _DATE.match(expiry) or len(expiry) != 8:
            raise _bad(symbol, "option expiry must be YYYYMMDD")
        if right not in ("C", "P"):
            raise _bad(symbol, "option right must be C or P")
        try:
            strike = Decimal(strike_text)
        except ArithmeticError:
            raise _bad(symbol, "strike is not a number") from None
        if not strike.is_finite() or strike <= 0:
            raise _bad(symbol, "strike must be positive")
        return ContractSpec(symbol, "OPT", underlying, exchange, currency, expiry, strike, right)
    raise _bad(symbol, "unknown form")


def _plain(value: Decimal) -> str:
    text: str = format(value.normalize(), "f")
    return text


def symbol_from_fields(contract: ContractFields) -> str:
    """Our canonical symbol for a contract TWS reports (executions, positions, open orders).

    Used for contracts the adapter did not qualify itself (e.g. orders placed in TWS);
    contracts it did qualify are reported under the symbol the user gave.
    """
    if contract.sec_type == "CASH":
        return f"{contract.symbol}.{contract.currency}"
    if contract.sec_type == "STK":
        if contract.currency == "USD":
            return contract.symbol
        return f"STK:{contract.symbol}:SMART:{contract.currency}"
    if contract.sec_type == "FUT":
        return f"FUT:{contract.symbol}:{contract.last_trade}:{contract.exchange}"
    if contract.sec_type == "OPT" and contract.strike is not None:
        return f"OPT:{contract.symbol}:{contract.last_trade}:{_plain(contract.strike)}:{contract.right}"
    return f"{contract.sec_type}:{contract.con_id}"
