"""TC-CON: connecting and disconnecting."""

from __future__ import annotations

from autotrader_core.adapter import BrokerAdapter

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario

__all__ = ["ConnectionScenarios"]


def _connected(adapter: BrokerAdapter) -> bool:
    """Read ``is_connected`` afresh (a plain attribute read would be narrowed by the type checker)."""
    return adapter.is_connected


class ConnectionScenarios(ScenarioBase):
    """Connection scenarios."""

    @scenario("TC-CON-01")
    async def test_con_01_connect_disconnect(self, conformance_scenario: Scenario) -> None:
        """connect → connected; disconnect → not connected; a second disconnect is harmless."""
        async with self.session(conformance_scenario) as session:
            adapter = session.adapter
            assert not _connected(adapter), "a new adapter must not be connected (no I/O in __init__)"
            await adapter.connect()
            assert _connected(adapter), "is_connected must be True after connect()"
            await adapter.disconnect()
            assert not _connected(adapter), "is_connected must be False after disconnect()"
            await adapter.disconnect()
            assert not _connected(adapter), "a second disconnect() must be safe"
