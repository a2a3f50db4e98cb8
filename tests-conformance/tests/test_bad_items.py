"""TC-BAD-01 fails an adapter that lets one bad item cost the list, or skips it without a report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent

SUITE = """
from pathlib import Path
from autotrader_conformance import AdapterConformance
from autotrader_core.skipping import parse_each
from fakex import FakexAdapter

class RaisingFakex(FakexAdapter):
    async def get_open_orders(self, symbol=None):
        reply = await self.rest.request("GET", "/v1/openOrders", params={"symbol": symbol})
        return [self._report(item) for item in reply]  # one bad order fails them all

class SilentFakex(FakexAdapter):
    async def get_open_orders(self, symbol=None):
        reply = await self.rest.request("GET", "/v1/openOrders", params={"symbol": symbol})
        return parse_each(reply, self._report, what="open order", on_bad=lambda raw, error: None)

class Base(AdapterConformance):
    recordings = Path(__file__).parent / "recordings"
    scenario_timeout = 3.0

class TestCompliant(Base):
    def make_adapter(self, scenario):
        return FakexAdapter(ws_url=scenario.ws_url)

class TestRaising(Base):
    def make_adapter(self, scenario):
        return RaisingFakex(ws_url=scenario.ws_url)

class TestSilent(Base):
    def make_adapter(self, scenario):
        return SilentFakex(ws_url=scenario.ws_url)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(HERE)
    shutil.copytree(HERE / "recordings_fakex", pytester.path / "recordings")
    pytester.makepyfile(test_bad=SUITE)
    return pytester


def test_only_the_adapter_that_reports_and_skips_passes(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "-k", "bad_01")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*BrokerProtocolError: unknown order status*",  # the raising adapter lost the whole list
            "*TC-BAD-01: the unparseable item was skipped silently*",  # the silent one reported nothing
            "FAILED test_bad.py::TestRaising::test_bad_01*",
            "FAILED test_bad.py::TestSilent::test_bad_01*",
        ]
    )
