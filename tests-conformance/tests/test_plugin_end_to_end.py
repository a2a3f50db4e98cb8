"""The plugin as a third party meets it: pytester runs small adapter test suites."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent

MEMORY_SUITE = """
from decimal import Decimal
from autotrader_conformance import AdapterConformance
from memory_adapter import MemoryAdapter, PRICE, FEE_RATE

class TestMemoryConformance(AdapterConformance):
    recordings = None
    def make_adapter(self, scenario):
        return MemoryAdapter()
    def scenario_input(self, scenario_id):
        order = {"symbol": "ABCUSD", "side": "buy", "quantity": "1.00", "client_order_id": "c-" + scenario_id}
        resting = {**order, "limit_price": "10.00"}
        return {
            "TC-INS-01": {"symbol": "ABCUSD"},
            "TC-ORD-01": order,
            "TC-ORD-02": resting, "TC-ORD-03": resting, "TC-ERR-05": resting,
            "TC-RES-02": resting, "TC-RES-03": resting,
            "TC-ORD-04": {"symbol": "ABCUSD", "orders": [
                {"client_order_id": "a", "side": "buy", "quantity": "1", "limit_price": "10"},
                {"client_order_id": "b", "side": "buy", "quantity": "2", "limit_price": "11"}]},
            "TC-ERR-01": {**order, "quantity": "1000"},
            "TC-ERR-02": {"symbol": "ABCUSD", "client_order_id": "ghost"},
            "TC-ERR-03": {**order, "quantity": "0.001"},
        }.get(scenario_id, {})
    def expected(self, scenario_id):
        return {
            "TC-INS-01": {"tick_size": "0.01", "lot_size": "0.01", "min_quantity": "0.01"},
            "TC-BAL-01": {"balances": {"USD": {"total": "1000", "available": "1000"}}},
            "TC-ORD-01": {"fill_quantity": "1.00", "fill_price": str(PRICE),
                          "fee": str(PRICE * Decimal("1.00") * FEE_RATE), "fee_currency": "USD"},
            "TC-RES-01": {"retry_after": "0.01"},
            "TC-RES-02": {"submits": 1}, "TC-RES-03": {"submits": 1},
        }.get(scenario_id, {})
"""

FAKEX_SUITE = """
from pathlib import Path
from autotrader_conformance import AdapterConformance
from fakex import FakexAdapter

class TestFakex(AdapterConformance):
    recordings = Path(__file__).parent / "recordings"
    scenario_timeout = 3.0
    def make_adapter(self, scenario):
        return FakexAdapter(ws_url=scenario.ws_url)
"""


@pytest.fixture
def suite_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(HERE)
    shutil.copytree(HERE / "recordings_fakex", pytester.path / "recordings")
    return pytester


def test_simulated_adapter_runs_through_the_fault_wrapper(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(HERE)
    pytester.makepyfile(test_memory=MEMORY_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=21, skipped=18)  # 5 × TC-MD-*: no quotes
    output = result.stdout.str()
    for reason in (
        "TC-BAD-01: the kit plays the bad item from a recording",
        "TC-BAD-02: adapter does not declare streaming_fills",
        "TC-POS-01: adapter does not declare broker_positions",
        "TC-STR-01: adapter does not declare streaming_fills",
        "TC-STR-02: adapter does not declare streaming_fills",
        "TC-ORD-05: adapter does not declare modify",
        "TC-ORD-06: adapter does not declare stop_limit_orders",
        "TC-RES-04: an IP ban is an HTTP reply",
        "TC-FLT-05: a simulator signs no timestamps",
        "TC-RES-06: a simulated adapter has no venue clock on a wire to read",
        "TC-FLT-06: adapter does not declare streaming_fills",
        "TC-SEC-01: the test class has no secrets() hook",
    ):
        assert reason in output


def test_recorded_adapter_passes_and_shows_skip_reasons(suite_dir: pytest.Pytester) -> None:
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=28, skipped=11)  # 5 × TC-MD-*: no quotes
    result.stdout.fnmatch_lines(["*TC-POS-01: adapter does not declare broker_positions*"])


def test_missing_mandatory_recording_fails_naming_the_file(suite_dir: pytest.Pytester) -> None:
    (suite_dir.path / "recordings" / "TC-ORD-03.json").unlink()
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "ord_03")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*missing recording *recordings/TC-ORD-03.json: record TC-ORD-03*"])


def test_explicit_bypass_skips_with_the_reason_but_never_a_mandatory_one(suite_dir: pytest.Pytester) -> None:
    (suite_dir.path / "recordings" / "TC-RES-04.json").unlink()
    suite = FAKEX_SUITE + '    skip_scenarios = {"TC-RES-04": "fakex never bans", "TC-ERR-01": "no"}\n'
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-rs", "-k", "res_04 or err_01 or DO_NOT")
    result.assert_outcomes(skipped=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*TC-ERR-01 is mandatory and cannot be skipped*",
            "*skip_scenarios names TC-ERR-01, which is mandatory*",
            "*TC-RES-04: fakex never bans*",
        ]
    )


def test_a_request_that_differs_from_the_recording_fails_with_the_difference(
    suite_dir: pytest.Pytester,
) -> None:
    path = suite_dir.path / "recordings" / "TC-ORD-02.json"
    data = json.loads(path.read_text())
    data["http"][1]["request"]["json"]["quantity"] = "0.02"
    path.write_text(json.dumps(data))
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "ord_02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the adapter sent a request the recording does not contain*",
            "*closest recorded: http[[]1[]] 'submit' POST https://api.fakex.test/v1/order (not used)*",
            "*json.quantity: expected '0.02', was '0.01'*",
        ]
    )


def test_a_blind_resend_is_caught_as_a_duplicate_order(suite_dir: pytest.Pytester) -> None:
    suite = (
        FAKEX_SUITE.replace("return FakexAdapter(", "return BlindRetry(")
        + """
from autotrader_core.errors import BrokerUnavailable

class BlindRetry(FakexAdapter):
    async def submit_order(self, order):
        try:
            return await super().submit_order(order)
        except BrokerUnavailable:
            return await super().submit_order(order)   # re-sent without a lookup: a duplicate
"""
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*matches but was already used: a repeated request (a duplicate order*"])


def test_a_stream_frame_that_differs_fails_with_a_diff(suite_dir: pytest.Pytester) -> None:
    path = suite_dir.path / "recordings" / "TC-STR-01.json"
    data = json.loads(path.read_text())
    data["stream"]["connections"][0][0]["expect"]["method"] = "login"
    path.write_text(json.dumps(data))
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "str_01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*websocket connection #1, step 0*", "*$.method: expected 'login', was 'subscribe'*"]
    )


def test_deleting_or_overriding_a_scenario_is_caught(suite_dir: pytest.Pytester) -> None:
    suite = (
        FAKEX_SUITE
        + """
    test_str_02_reconnect_catch_up_exactly_once = None
    async def test_err_02_unknown_order(self, conformance_scenario):
        pass
"""
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "DO_NOT_OVERRIDE")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_err_02_unknown_order (TC-ERR-02) is mandatory and may not be overridden*",
            "*test_str_02_reconnect_catch_up_exactly_once (TC-STR-02) was deleted*",
        ]
    )


def test_a_recorded_request_never_sent_fails_the_scenario(suite_dir: pytest.Pytester) -> None:
    path = suite_dir.path / "recordings" / "TC-BAL-01.json"
    data = json.loads(path.read_text())
    data["http"].append({**data["http"][1], "label": "again"})
    path.write_text(json.dumps(data))
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "bal_01")
    result.assert_outcomes(failed=1)  # one failure, no pytest-httpx teardown error on top
    result.stdout.fnmatch_lines(
        [
            "*the adapter never sent these recorded requests:*",
            "*http[[]2[]] 'again' GET https://api.fakex.test/v1/account*",
        ]
    )


def test_plugin_is_inert_for_other_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import httpx
        def test_plain(httpx_mock):
            httpx_mock.add_response(url="http://127.0.0.1:1/x", text="mocked")
            assert httpx.get("http://127.0.0.1:1/x").text == "mocked"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_rate_limit_without_retry_after_uses_the_policy_backoff(suite_dir: pytest.Pytester) -> None:
    path = suite_dir.path / "recordings" / "TC-RES-01.json"
    data = json.loads(path.read_text())
    del data["http"][1]["response"]["headers"]
    path.write_text(json.dumps(data))
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_01")
    result.assert_outcomes(failed=1)  # the recording still says the broker asked for 1 s
    result.stdout.fnmatch_lines(["*RateLimited.retry_after must carry the broker's Retry-After*"])
    data["expect"] = {}
    path.write_text(json.dumps(data))
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_01")
    result.assert_outcomes(passed=1)


def test_stream_drop_without_a_drop_hook_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(HERE)
    suite = MEMORY_SUITE.replace(
        "from memory_adapter import MemoryAdapter, PRICE, FEE_RATE",
        """from dataclasses import replace
from memory_adapter import MemoryAdapter as _Memory, PRICE, FEE_RATE

class MemoryAdapter(_Memory):
    capabilities = replace(_Memory.capabilities, streaming_fills=True)""",
    )
    pytester.makepyfile(test_memory=suite)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "str_02")
    result.assert_outcomes(failed=1)  # its values are missing: the message says which
    result.stdout.fnmatch_lines(["*expect.fills: required by TC-STR-02*"])
    suite += """
    def expected(self, scenario_id):
        if scenario_id == "TC-STR-02":
            return {"fills": [{"quantity": "1", "price": "100"}]}
        return super().expected(scenario_id)
    def scenario_input(self, scenario_id):
        if scenario_id == "TC-STR-02":
            return {"symbol": "ABCUSD", "side": "buy", "quantity": "1", "client_order_id": "s2"}
        return super().scenario_input(scenario_id)
"""
    pytester.makepyfile(test_memory=suite)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "str_02")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*TC-STR-02: the simulated adapter's fault hooks have no drop_stream()*"])


def test_a_hung_scenario_fails_with_the_replay_status(suite_dir: pytest.Pytester) -> None:
    path = suite_dir.path / "recordings" / "TC-STR-01.json"
    data = json.loads(path.read_text())
    data["stream"]["connections"][0][1] = {"after_http": "never-sent"}
    path.write_text(json.dumps(data))
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE.replace("scenario_timeout = 3.0", "scenario_timeout = 0.5"))
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "str_01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*TC-STR-01 did not finish within 0.5s (scenario_timeout)*",
            "*connection #1 stopped at step 1*never-sent*",
        ]
    )


def test_an_adapter_that_declares_no_resend_guarantee_fails_tc_res_05(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(HERE)
    suite = MEMORY_SUITE.replace(
        "from memory_adapter import MemoryAdapter, PRICE, FEE_RATE",
        """from autotrader_core.adapter import BrokerAdapter
from memory_adapter import MemoryAdapter as _Memory, PRICE, FEE_RATE

class MemoryAdapter(_Memory):
    resend_guarantee = BrokerAdapter.resend_guarantee  # the default: nothing declared""",
    )
    pytester.makepyfile(test_memory=suite)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_res_05")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*memory does not declare its venue's re-send guarantee*"])


def test_an_expiry_needs_its_venue_clock_recorded_and_read_exactly(suite_dir: pytest.Pytester) -> None:
    """TC-RES-05 asks an expiry adapter for TC-RES-06; TC-RES-06 checks venue_time() against the recording."""
    suite = FAKEX_SUITE.replace(
        "from fakex import FakexAdapter",
        """from datetime import UTC, datetime
from autotrader_core.resend import ResendGuarantee
from fakex import FakexAdapter as _Fakex

class FakexAdapter(_Fakex):
    resend_guarantee = ResendGuarantee.expiry(5.0, "fakex: a request older than 5 s by its clock is refused")
    def request_stamp(self):
        return datetime.now(UTC)
    async def venue_time(self):
        from autotrader_core.rest import RestClient
        rest = RestClient(broker="fakex", base_url="https://api.fakex.test", error_mapper=lambda r, b: None)
        try:
            body = await rest.request("GET", "/v1/time")
        finally:
            await rest.aclose()
        return datetime.fromtimestamp(int(body["serverTime"]) / 1000, tz=UTC)""",
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_05 or res_06")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*fakex declares an expiry: record TC-RES-06*"])
    recording = {
        "id": "TC-RES-06",
        "description": "venue_time()",
        "source": "fakex docs",
        "provenance": "composed: fakex is fictional",
        "http": [
            {
                "request": {"method": "GET", "url": "https://api.fakex.test/v1/time"},
                "response": {"status": 200, "json": {"serverTime": 1499827319559}},
            }
        ],
        "input": {},
        "expect": {"server_time": "2017-07-12T02:41:59.559+00:00"},
    }
    (suite_dir.path / "recordings" / "TC-RES-06.json").write_text(json.dumps(recording))
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_05 or res_06")
    result.assert_outcomes(passed=2)
    recording["expect"] = {"server_time": "2017-07-12T02:41:59.560+00:00"}
    (suite_dir.path / "recordings" / "TC-RES-06.json").write_text(json.dumps(recording))
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "res_06")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*venue_time() 2017-07-12T02:41:59.559000+00:00, the venue said*"])
