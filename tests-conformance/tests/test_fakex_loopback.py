"""The whole suite in loopback mode: fakex on the core's lean transport, replayed over a real socket.

``http_transport = "loopback"`` is how an adapter whose production transport is not
httpx's runs the suite; this proves the mode end to end (matching, order, repeats,
recorded transport failures, injected faults) on the kit's own recordings.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from autotrader_conformance import AdapterConformance, Scenario
from autotrader_core.lean_transport import LeanHttpTransport
from autotrader_core.rest import RestClient
from fakex import API_KEY, FakexAdapter, map_error
from test_fakex_conformance import RECORDINGS


class LoopbackFakex(FakexAdapter):
    """fakex sending through the lean transport to the kit's loopback server."""

    def __init__(self, *, base_url: str | None, ws_url: str | None = None) -> None:
        super().__init__(ws_url=ws_url, api_key=API_KEY)
        self.base_url = base_url or "http://127.0.0.1:9"

    async def connect(self) -> None:
        self._rest = RestClient(
            broker=self.name,
            base_url=self.base_url,
            error_mapper=map_error,
            default_headers={"X-KEY": self.api_key},
            timeout=0.5,  # a recorded timeout is replayed as silence
            transport=LeanHttpTransport(),
        )
        await self.rest.request("GET", "/v1/time")
        self._connected = True


class TestFakexConformanceLoopback(AdapterConformance):
    """Every scenario fakex declares, through the loopback HTTP replay."""

    recordings = RECORDINGS
    http_transport: ClassVar[Literal["httpx", "loopback"]] = "loopback"

    def make_adapter(self, scenario: Scenario) -> LoopbackFakex:
        """A fresh adapter pointed at the scenario's loopback HTTP and stream servers."""
        return LoopbackFakex(base_url=scenario.base_url, ws_url=scenario.ws_url)

    def secrets(self) -> list[str]:
        """The API key make_adapter sends (TC-SEC-* check it never leaks through the lean transport)."""
        return [API_KEY]
