"""autotrader adapter for Interactive Brokers (TWS / IB Gateway) on ib_async."""

from autotrader_ibkr.adapter import IbkrAdapter
from autotrader_ibkr.contracts import ContractSpec, parse_symbol
from autotrader_ibkr.settings import IbkrSettings

__all__ = ["ContractSpec", "IbkrAdapter", "IbkrSettings", "parse_symbol"]
