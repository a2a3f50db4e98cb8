"""The declared re-send guarantee: which venues may ever re-send, and when an expiry has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from autotrader_core import BrokerAdapter, ResendGuarantee, ResendRule
from autotrader_core.errors import UnsupportedFeature

from .fakes import FakeBroker

STAMP = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def test_expiry_has_passed_only_when_the_venue_clock_is_past_stamp_plus_window() -> None:
    guarantee = ResendGuarantee.expiry(5.0, "Binance recvWindow")
    assert not guarantee.expired_by(STAMP, STAMP + timedelta(seconds=5))
    assert guarantee.expired_by(STAMP, STAMP + timedelta(seconds=5, milliseconds=1))
    assert guarantee.allows_resend and not guarantee.resend_is_immediately_safe


@pytest.mark.parametrize(
    "guarantee",
    [ResendGuarantee.idempotency_key(), ResendGuarantee.same_id(), ResendGuarantee.none()],
)
def test_only_an_expiry_ever_expires(guarantee: ResendGuarantee) -> None:
    assert not guarantee.expired_by(STAMP, STAMP + timedelta(days=365))


def test_a_venue_with_no_guarantee_never_allows_a_resend() -> None:
    none = ResendGuarantee.none("OANDA: client id unique among pending orders only")
    assert none.rule is ResendRule.NONE
    assert not none.allows_resend and not none.resend_is_immediately_safe
    assert ResendGuarantee.idempotency_key().resend_is_immediately_safe
    assert ResendGuarantee.same_id().resend_is_immediately_safe


@pytest.mark.parametrize("window", [None, 0.0, -1.0])
def test_an_expiry_needs_a_positive_window(window: float | None) -> None:
    with pytest.raises(ValueError, match="positive window"):
        ResendGuarantee(ResendRule.EXPIRY, window)


def test_only_an_expiry_has_a_window() -> None:
    with pytest.raises(ValueError, match="no window"):
        ResendGuarantee(ResendRule.NONE, 5.0)


@pytest.mark.anyio
async def test_an_adapter_declares_no_guarantee_unless_it_says_so() -> None:
    adapter: BrokerAdapter = FakeBroker()
    assert BrokerAdapter.resend_guarantee.rule is ResendRule.NONE
    assert adapter.request_stamp().tzinfo is not None
    with pytest.raises(UnsupportedFeature, match="venue's clock"):
        await BrokerAdapter.venue_time(adapter)
