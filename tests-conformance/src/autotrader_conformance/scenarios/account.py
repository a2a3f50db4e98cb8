"""TC-BAL / TC-POS: balances and broker-reported positions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotrader_core.capabilities import Feature
from autotrader_core.models import Balance, Position

from autotrader_conformance.scenario import Scenario, to_decimal
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_decimal

__all__ = ["AccountScenarios"]


def _expected_map(sc: Scenario, key: str) -> Mapping[str, Mapping[str, Any]]:
    value = sc.value(key)
    assert isinstance(value, dict), f"{sc.id}: expect.{key} must be an object"
    assert value, f"{sc.id}: expect.{key} must not be empty"
    return value


class AccountScenarios(ScenarioBase):
    """Account scenarios."""

    @scenario("TC-BAL-01")
    async def test_bal_01_balances(self, conformance_scenario: Scenario) -> None:
        """Balances carry exact Decimal total and available per asset."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            await session.adapter.connect()
            balances = await session.adapter.get_balances()
            assert isinstance(balances, list), f"get_balances() must return a list, returned {balances!r}"
            by_asset: dict[str, Balance] = {}
            for balance in balances:
                assert isinstance(balance, Balance), f"not a Balance: {balance!r}"
                assert balance.asset not in by_asset, f"asset {balance.asset} listed twice"
                assert_decimal(balance.total, f"{balance.asset}.total")
                assert_decimal(balance.available, f"{balance.asset}.available")
                by_asset[balance.asset] = balance
            for asset, want in _expected_map(sc, "balances").items():
                assert asset in by_asset, f"no balance for {asset}; assets: {sorted(by_asset)}"
                got = by_asset[asset]
                for field in ("total", "available"):
                    if field in want:
                        expected = to_decimal(want[field], f"{sc.id}: balances.{asset}.{field}")
                        actual = getattr(got, field)
                        assert actual == expected, f"{asset}.{field} is {actual}, expected {expected}"

    @scenario("TC-POS-01")
    async def test_pos_01_positions(self, conformance_scenario: Scenario) -> None:
        """Broker-reported positions carry exact Decimal quantities (signed)."""
        sc = conformance_scenario
        assert self.declares(Feature.BROKER_POSITIONS)
        async with self.session(sc) as session:
            await session.adapter.connect()
            positions = await session.adapter.get_positions()
            assert isinstance(positions, list), f"get_positions() must return a list, returned {positions!r}"
            by_symbol: dict[str, Position] = {}
            for position in positions:
                assert isinstance(position, Position), f"not a Position: {position!r}"
                assert_decimal(position.quantity, f"{position.symbol}.quantity")
                assert_decimal(position.average_price, f"{position.symbol}.average_price")
                by_symbol[position.symbol] = position
            for symbol, want in _expected_map(sc, "positions").items():
                assert symbol in by_symbol, f"no position for {symbol}; symbols: {sorted(by_symbol)}"
                for field in ("quantity", "average_price"):
                    if field in want:
                        expected = to_decimal(want[field], f"{sc.id}: positions.{symbol}.{field}")
                        actual = getattr(by_symbol[symbol], field)
                        assert actual == expected, f"{symbol}.{field} is {actual}, expected {expected}"
