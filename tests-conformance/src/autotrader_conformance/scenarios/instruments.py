"""TC-INS: instrument rules with exact Decimals."""

from __future__ import annotations

from autotrader_core.enums import AssetClass
from autotrader_core.models import Instrument

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_decimal

__all__ = ["InstrumentScenarios"]


class InstrumentScenarios(ScenarioBase):
    """Instrument scenarios."""

    @scenario("TC-INS-01")
    async def test_ins_01_instruments(self, conformance_scenario: Scenario) -> None:
        """Every instrument has Decimal rules; the scenario's symbol has exactly the recorded ones."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            await session.adapter.connect()
            instruments = await session.adapter.get_instruments()
            assert isinstance(instruments, list), f"get_instruments() must return a list: {instruments!r}"
            assert instruments, "get_instruments() returned no instrument"
            for instrument in instruments:
                assert isinstance(instrument, Instrument), f"not an Instrument: {instrument!r}"
                what = f"instrument {instrument.symbol}"
                assert assert_decimal(instrument.tick_size, f"{what}.tick_size") > 0, (
                    f"{what}: tick_size <= 0"
                )
                assert assert_decimal(instrument.lot_size, f"{what}.lot_size") > 0, f"{what}: lot_size <= 0"
                assert assert_decimal(instrument.min_quantity, f"{what}.min_quantity") >= 0
                assert assert_decimal(instrument.min_notional, f"{what}.min_notional") >= 0
            by_symbol = {instrument.symbol: instrument for instrument in instruments}
            assert len(by_symbol) == len(instruments), "get_instruments() lists a symbol twice"
            symbol = sc.text("symbol")
            assert symbol in by_symbol, f"{symbol} missing; symbols: {sorted(by_symbol)[:20]}"
            instrument = by_symbol[symbol]
            for field in ("tick_size", "lot_size", "min_quantity", "min_notional"):
                if field in sc.expect:
                    actual = getattr(instrument, field)
                    assert actual == sc.decimal(field), (
                        f"{symbol}.{field} is {actual}, expected {sc.decimal(field)}"
                    )
            for field in ("base", "quote"):
                if field in sc.expect:
                    actual = getattr(instrument, field)
                    assert actual == sc.text(field), (
                        f"{symbol}.{field} is {actual!r}, expected {sc.text(field)!r}"
                    )
            if "asset_class" in sc.expect:
                assert instrument.asset_class is AssetClass(sc.text("asset_class"))
