"""TC-RES: rate limits, unknown outcomes on submit, bans, the declared re-send guarantee."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import BrokerUnavailable, RateLimited, RequestTimeout
from autotrader_core.resend import ResendGuarantee, ResendRule
from autotrader_core.resiliency import retry

from autotrader_conformance.catalogue import get_spec
from autotrader_conformance.faults import with_faults
from autotrader_conformance.resolving import ResolvingSubmitter
from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_report_matches, expect_error
from autotrader_conformance.session import ScenarioSession

__all__ = ["ResiliencyScenarios"]


class ResiliencyScenarios(ScenarioBase):
    """Resiliency scenarios (through the recording, or the fault plan for simulated adapters)."""

    @scenario("TC-RES-01")
    async def test_res_01_rate_limited_then_succeeds(self, conformance_scenario: Scenario) -> None:
        """429 → RateLimited (with the broker's Retry-After, if it sends one); retry waits, then succeeds.

        With ``expect.retry_after`` the wait must be exactly the broker's; without it
        the broker sent no Retry-After, so ``retry_after`` must be ``None`` and the
        policy's backoff is used.
        """
        sc = conformance_scenario
        wait = sc.optional_decimal("retry_after")
        policy = self.retry_policy()
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            if session.faults is not None:
                told = None if wait is None else float(wait)
                session.faults.fail_next(
                    "get_balances", RateLimited("slow down", retry_after=told, broker=adapter.name)
                )
            seen: list[tuple[BaseException, float]] = []
            started = time.monotonic()
            balances = await retry(
                adapter.get_balances,
                policy,
                on_retry=lambda attempt, error, delay: seen.append((error, delay)),
            )
            elapsed = time.monotonic() - started
            assert isinstance(balances, list), "get_balances did not succeed after the rate limit"
            assert len(seen) == 1, (
                f"expected one RateLimited then success, retried {len(seen)} times: {seen!r}"
            )
            error, delay = seen[0]
            assert isinstance(error, RateLimited), f"a 429 must raise RateLimited, raised {error!r}"
            assert not error.banned, "a 429 is not a ban"
            if wait is None:
                assert error.retry_after is None, (
                    f"the recorded 429 has no Retry-After, yet retry_after is {error.retry_after}"
                )
                assert 0 <= delay <= policy.max_delay, f"retry waited {delay}s, outside the policy's backoff"
            else:
                assert error.retry_after is not None, (
                    "RateLimited.retry_after must carry the broker's Retry-After"
                )
                assert Decimal(str(error.retry_after)) == wait, (
                    f"retry_after {error.retry_after}, expected {wait}"
                )
                assert delay == error.retry_after, (
                    f"retry waited {delay}s instead of the broker's {error.retry_after}s"
                )
                assert elapsed >= float(wait) * 0.9, (
                    f"succeeded after {elapsed:.3f}s, before the {wait}s wait"
                )

    async def _submit_without_duplicate(self, session: ScenarioSession, error: Exception) -> None:
        sc = session.scenario
        adapter = with_faults(session.adapter)  # keeps the lookups' reports
        await adapter.connect()
        order = session.order()
        if session.faults is not None:
            assert isinstance(error, BrokerUnavailable | RequestTimeout)
            session.faults.fail_next("submit", error, after_apply=True)
        # The engine's submit path: the resolver looks the order up before any re-send.
        submitter = ResolvingSubmitter(adapter, self.retry_policy())
        await submitter.submit(order)
        at_broker = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
        assert order.status in at_broker, (
            f"after the failed submit the engine must hold the order as the broker has it, "
            f"holds it as {order.status!r}"
        )
        assert not submitter.unknown(), (
            "the order's outcome must be settled, the engine still holds it unknown"
        )
        if adapter.answered:
            assert_report_matches(adapter.answered[-1], order, adapter, "the lookup after the failed submit")
        received = await session.orders_received(order)
        expected = int(sc.value("submits"))
        assert received == expected, (
            f"the broker received the order {received} time(s), the recording expects {expected}: "
            "a submit with an unknown outcome must be looked up by client order id before any re-send"
        )

    @scenario("TC-RES-02")
    async def test_res_02_server_error_on_submit_no_duplicate(self, conformance_scenario: Scenario) -> None:
        """5xx on submit: looked up by client order id, never sent twice when the broker has it."""
        async with self.session(conformance_scenario) as session:
            await self._submit_without_duplicate(
                session, BrokerUnavailable("HTTP 503", broker=session.adapter.name)
            )

    @scenario("TC-RES-03")
    async def test_res_03_timeout_on_submit_no_duplicate(self, conformance_scenario: Scenario) -> None:
        """Timeout on submit: looked up by client order id, never sent twice when the broker has it."""
        async with self.session(conformance_scenario) as session:
            await self._submit_without_duplicate(
                session, RequestTimeout("no reply", broker=session.adapter.name)
            )

    @scenario("TC-RES-04")
    async def test_res_04_ip_ban(self, conformance_scenario: Scenario) -> None:
        """A ban reply raises RateLimited(banned=True) with the broker's wait."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            await session.adapter.connect()
            with expect_error(RateLimited, f"{sc.id}: a ban reply") as caught:
                await session.adapter.get_balances()
            error = caught.value
            assert error.banned, "a ban reply must raise RateLimited(banned=True)"
            assert error.retry_after is not None
            assert Decimal(str(error.retry_after)) == sc.decimal("retry_after"), (
                f"retry_after {error.retry_after}, expected {sc.decimal('retry_after')}"
            )

    @scenario("TC-RES-05")
    async def test_res_05_resend_guarantee_declared(self, conformance_scenario: Scenario) -> None:
        """The adapter declares what makes a re-send safe on its venue, and says where the venue documents it.

        The core re-sends a submit or modify whose outcome is unknown only when this
        guarantee holds (``autotrader_core.resend``). An expiry must be provable: the
        adapter stamps requests with a timezone-aware time and records TC-RES-06 (its
        venue's time endpoint). Plays TC-CON-01's traffic (connect, disconnect).
        """
        async with self.session(conformance_scenario) as session:
            adapter = session.adapter
            guarantee = adapter.resend_guarantee
            assert isinstance(guarantee, ResendGuarantee), (
                f"resend_guarantee must be an autotrader_core.resend.ResendGuarantee, not {guarantee!r}"
            )
            assert guarantee is not BrokerAdapter.resend_guarantee, (
                f"{adapter.name} does not declare its venue's re-send guarantee: set resend_guarantee to "
                "ResendGuarantee.expiry / .idempotency_key / .same_id / .none(source) (docs/writing-an-"
                "adapter.md, 'Declare your re-send guarantee')"
            )
            assert guarantee.source.strip(), "the guarantee must name where the venue documents it (source)"
            if guarantee.rule is ResendRule.EXPIRY:
                assert guarantee.window is not None and guarantee.window > 0
                stamp = adapter.request_stamp()
                assert stamp.tzinfo is not None and stamp.utcoffset() is not None, (
                    f"request_stamp() must be timezone-aware, got {stamp!r}"
                )
                recordings = self.recordings_dir()
                proof = get_spec("TC-RES-06")
                if recordings is not None and proof.id not in self.skip_scenarios:
                    assert (recordings / proof.file_name).is_file(), (
                        f"{adapter.name} declares an expiry: record {proof.id} ({proof.title}) so the kit "
                        "can check venue_time() against the venue's time endpoint"
                    )
            await adapter.connect()
            await adapter.disconnect()

    @scenario("TC-RES-06")
    async def test_res_06_expiry_is_provable_by_the_venue_clock(self, conformance_scenario: Scenario) -> None:
        """``venue_time()`` asks the venue (the recorded time endpoint) and is exact and aware.

        With it the core proves a request whose outcome is unknown expired: the venue's
        clock is past the request's stamp plus the window. Recorded by adapters that
        declare an expiry; the recording holds the venue's time endpoint only.
        """
        sc = conformance_scenario
        expected = datetime.fromisoformat(str(sc.value("server_time")))
        async with self.session(sc) as session:
            adapter = session.adapter
            guarantee = adapter.resend_guarantee
            if guarantee.rule is not ResendRule.EXPIRY:
                pytest.fail(
                    f"{sc.id} is recorded but {adapter.name} declares {guarantee.rule.value}, not an expiry: "
                    "remove the recording or declare the expiry the venue documents",
                    pytrace=False,
                )
            assert guarantee.window is not None
            venue_now = await adapter.venue_time()
            assert venue_now.tzinfo is not None and venue_now.utcoffset() is not None, (
                f"venue_time() must be timezone-aware, got {venue_now!r}"
            )
            assert venue_now == expected, (
                f"venue_time() {venue_now.isoformat()}, the venue said {expected.isoformat()}"
            )
            stamp = adapter.request_stamp()
            assert stamp.tzinfo is not None and stamp.utcoffset() is not None, (
                f"request_stamp() must be timezone-aware, got {stamp!r}"
            )
            window = timedelta(seconds=guarantee.window)
            assert guarantee.expired_by(venue_now - window - timedelta(milliseconds=1), venue_now)
            assert not guarantee.expired_by(venue_now, venue_now)
