"""The shared conformance suite, replayed from ``recordings/`` (one file per scenario id)."""

from __future__ import annotations

from pathlib import Path

from autotrader_binance import BinanceAdapter, BinanceSettings
from autotrader_binance.stream import StreamConfig
from autotrader_conformance import AdapterConformance, Scenario


class TestBinanceConformance(AdapterConformance):
    """Binance Spot against recorded testnet-shaped traffic (protocols.md §1)."""

    recordings = Path(__file__).parent / "recordings"

    def make_adapter(self, scenario: Scenario) -> BinanceAdapter:
        settings = BinanceSettings(
            _env_file=None,  # type: ignore[call-arg]
            api_key="test-key",
            api_secret="test-secret",
            # No recorded stream: a dead loopback port, so a background stream never leaves the machine.
            ws_url=scenario.ws_url or "ws://127.0.0.1:9/no-stream-recorded",
        )
        return BinanceAdapter(settings, stream_config=StreamConfig(backoff_initial=0.01, backoff_max=0.05))
