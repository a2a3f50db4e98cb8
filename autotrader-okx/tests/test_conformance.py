"""The shared conformance suite against recorded OKX traffic (tests/recordings/<scenario id>.json)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from autotrader_conformance import AdapterConformance, Scenario
from autotrader_okx import OkxAdapter, OkxSettings
from okx_support import API_KEY, API_SECRET, PASSPHRASE


class TestOkxConformance(AdapterConformance):
    """Every catalogue scenario the OKX adapter's capabilities allow."""

    recordings = Path(__file__).parent / "recordings"
    skip_scenarios: ClassVar[dict[str, str]] = {
        "TC-RES-04": "OKX documents no IP-ban reply (Binance's HTTP 418); its limits answer 50011/HTTP 429 "
        "(covered by TC-RES-01)",
    }

    def make_adapter(self, scenario: Scenario) -> OkxAdapter:
        """A demo adapter with fake credentials, its streams pointed at the kit's replay server."""
        # TC-MD-04 records a silence: a short ping interval finds it within the scenario's time.
        silence = {"ping_interval": 0.3, "pong_timeout": 0.3} if scenario.id == "TC-MD-04" else {}
        return OkxAdapter(
            OkxSettings(
                api_key=API_KEY,
                api_secret=API_SECRET,
                passphrase=PASSPHRASE,
                environment="demo",
                ws_url=scenario.ws_url or "ws://127.0.0.1:9/unused",  # never the real host
                public_ws_url=scenario.ws_url or "ws://127.0.0.1:9/unused",
                reconnect_initial_delay=0.01,
                reconnect_max_delay=0.05,
                _env_file=None,
                **silence,  # type: ignore[arg-type]
            )
        )

    def secrets(self) -> list[str]:
        """The credentials ``make_adapter`` puts into the settings (TC-SEC-* check they never leak)."""
        return [API_KEY, API_SECRET, PASSPHRASE]
