"""The fault suite (TC-FLT-*), the secrets scenarios (TC-SEC-*) and the summary table, as a third party meets them."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from autotrader_conformance.catalogue import get_spec
from autotrader_conformance.http_faults import HttpFaultInjector, wrap_for_faults
from autotrader_conformance.replays import decide_scenario
from autotrader_core.capabilities import Feature

HERE = Path(__file__).parent

FAKEX_SUITE = """
from pathlib import Path
from autotrader_conformance import AdapterConformance
from fakex import FakexAdapter, API_KEY

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


def test_summary_table_counts_every_fault_scenario(suite_dir: pytest.Pytester) -> None:
    suite_dir.makepyfile(test_fakex=FAKEX_SUITE)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "flt or res_ or err_05 or str_02")
    result.assert_outcomes(passed=12, skipped=2)  # TC-RES-05/06 run too, outside the fault table
    result.stdout.fnmatch_lines(
        [
            "*autotrader fault suite*",
            "adapter test class*tried*passed*failed*skipped*faults*orders*fills*losses*duplicates"
            "*orders/cid max*state mismatches*position mismatches*xfail",
            "TestFakex*11*11*0*1*",
            "losses 0 (must be 0), duplicates 0 (must be 0)*",
        ]
    )


def test_an_adapter_that_resends_after_a_lost_reply_is_caught(suite_dir: pytest.Pytester) -> None:
    """An adapter that swallows the reset and blindly re-sends fails: the lost reply must surface."""
    suite = FAKEX_SUITE.replace(
        "        return FakexAdapter(ws_url=scenario.ws_url)",
        "        return Resending(ws_url=scenario.ws_url)",
    ).replace(
        "class TestFakex(",
        """from autotrader_core.errors import BrokerUnavailable

class Resending(FakexAdapter):
    async def submit_order(self, order):
        try:
            return await super().submit_order(order)
        except BrokerUnavailable:
            return await super().submit_order(order)

class TestFakex(""",
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "flt_02")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*TC-FLT-02: submit whose connection reset: the fault raised nothing, expected BrokerUnavailable*"]
    )


def test_secrets_hook_runs_the_secret_scenarios(suite_dir: pytest.Pytester) -> None:
    suite = FAKEX_SUITE + "    def secrets(self):\n        return [API_KEY]\n"
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-rs", "-k", "sec_")
    result.assert_outcomes(passed=2)


def test_a_secret_in_a_log_record_fails_naming_the_place(suite_dir: pytest.Pytester) -> None:
    suite = (
        FAKEX_SUITE.replace(
            "        return FakexAdapter(ws_url=scenario.ws_url)",
            "        return Chatty(ws_url=scenario.ws_url)",
        ).replace(
            "class TestFakex(",
            """import logging

class Chatty(FakexAdapter):
    async def connect(self):
        logging.getLogger("chatty").debug("connecting with key %s", self.api_key)
        await super().connect()

class TestFakex(""",
        )
        + "    def secrets(self):\n        return [API_KEY]\n"
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "sec_01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TC-SEC-01: secret values leaked:*", "*log record:*connecting with key*"])


def test_a_fault_scenario_skips_with_the_reason_when_its_recording_is_missing() -> None:
    spec = get_spec("TC-FLT-01")
    decision = decide_scenario(
        spec, {Feature.LIMIT_ORDERS}, skip_scenarios={}, recordings=Path("/nonexistent/recordings")
    )
    assert decision.action == "skip"
    assert "replays TC-RES-03, which cannot run: missing recording" in decision.reason
    skipped = decide_scenario(
        spec, {Feature.LIMIT_ORDERS}, skip_scenarios={"TC-RES-03": "no timeouts here"}, recordings=None
    )
    assert skipped.action == "skip" and "no timeouts here" in skipped.reason
    optional = decide_scenario(
        get_spec("TC-FLT-05"), {Feature.LIMIT_ORDERS}, skip_scenarios={}, recordings=Path("/nonexistent")
    )
    assert optional.action == "skip" and "no recording TC-FLT-05.json" in optional.reason


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("status_503", 503, None), ("garbled", 200, None), ("timeout_after", None, httpx.ReadTimeout)],
)
async def test_http_faults_hit_only_the_planned_operation(
    kind: str, status: int | None, error: type[Exception] | None
) -> None:
    """The fault meets the first request of its operation; other requests pass untouched."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"ok": True})

    from memory_adapter import MemoryAdapter

    injector = HttpFaultInjector()
    wrapped = wrap_for_faults(MemoryAdapter(), injector)
    injector.plan("get_balances", kind)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://x.test") as client:

        async def balances() -> httpx.Response:
            return await client.get("/balances")

        with injector.installed():
            assert (await client.get("/outside")).status_code == 200  # not inside an operation
            if error is not None:
                with pytest.raises(error):
                    await wrapped._call("get_balances", balances)
            else:
                response = await wrapped._call("get_balances", balances)
                assert response.status_code == status
            assert (await wrapped._call("get_balances", balances)).status_code == 200  # fired once
    assert injector.fired and injector.fired[0].fired_on == "GET https://x.test/balances"
    assert injector.pending() == []
    applied = ["/outside", "/balances"] if error is not None else ["/outside"]
    assert sent == [*applied, "/balances"]


def test_refused_repeated_submits_count_as_duplicates(suite_dir: pytest.Pytester) -> None:
    """An adapter that sends every order twice: the replay refuses the repeat, the summary counts it."""
    suite = FAKEX_SUITE.replace(
        "        return FakexAdapter(ws_url=scenario.ws_url)",
        "        return Doubling(ws_url=scenario.ws_url)",
    ).replace(
        "class TestFakex(",
        """class Doubling(FakexAdapter):
    async def submit_order(self, order):
        events = await super().submit_order(order)
        await super().submit_order(order)
        return events

class TestFakex(""",
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "ord_01 or str_02")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*matches but was already used: a repeated request*"])
    # TC-STR-02 is a fault scenario (a row in the table); TC-ORD-01's repeat is counted all the same.
    result.stdout.re_match_lines([r"TestFakex +1 +0 +1 +0 +0 +0 +0 +0 +2 +0 +0 +0 +0$"])
    result.stdout.fnmatch_lines(["losses 0 (must be 0), duplicates 2 (must be 0)*"])


def test_a_wrong_error_type_says_expected_and_got(suite_dir: pytest.Pytester) -> None:
    suite = FAKEX_SUITE.replace(
        "        return FakexAdapter(ws_url=scenario.ws_url)",
        "        return Untyped(ws_url=scenario.ws_url)",
    ).replace(
        "class TestFakex(",
        """from autotrader_core.errors import BrokerError, InsufficientFunds

class Untyped(FakexAdapter):
    async def submit_order(self, order):
        try:
            return await super().submit_order(order)
        except InsufficientFunds as exc:
            raise BrokerError(f"refused: {exc}", broker=self.name) from None

class TestFakex(""",
    )
    suite_dir.makepyfile(test_fakex=suite)
    result = suite_dir.runpytest("-p", "no:cacheprovider", "-k", "err_01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*TC-ERR-01: an order the account cannot pay for: expected InsufficientFunds, "
            "got BrokerError: refused: *"
        ]
    )
