"""Reason codes and label caps: what keeps Prometheus's series count bounded."""

from __future__ import annotations

import pytest
from autotrader_prometheus.labels import OTHER, UNKNOWN, BoundedLabel, reason_code, slug


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        # A risk refusal carries its own stable code.
        (
            "order notional 50.00 exceeds max_order_notional 10 | reason=MAX_ORDER_NOTIONAL",
            "max_order_notional",
        ),
        # A broker error: first plain words plus the broker's code.
        (
            "Account has insufficient balance for requested action. | broker=binance | code=-2010 "
            "| broker_message='Account has insufficient balance for requested action.'",
            "account_has_insufficient_balance_2010",
        ),
        # The breaker's long message (with a breaker name, counts and seconds) is one code.
        (
            "circuit open: circuit 'fake-requests' is open after 5 consecutive failure(s) "
            "(last: BrokerUnavailable: 503); nothing was sent; next trial in 29.9s",
            "circuit_open",
        ),
        ("reported by broker query", "reported_by_broker_query"),
        # Numbers, prices and quoted values are what differ between two texts: dropped.
        ("Filter failure: PRICE_FILTER", "filter_failure"),
        ("price 101.37 outside band 'BTCUSDT' 5%", "price_outside_band"),
        ("", UNKNOWN),
        ("12345 0.5 'x'", UNKNOWN),
    ],
)
def test_reason_code(reason: str, expected: str) -> None:
    assert reason_code(reason) == expected


@pytest.mark.parametrize("cid", ["atx1a2b3c4d5e6f7g8h9", "atxabcdefghjkmnpqr"])
def test_reason_code_never_contains_the_client_order_id(cid: str) -> None:
    # Generated ids are lowercase alphanumerics: one may well be all letters, a "word".
    code = reason_code(f"order {cid} rejected by exchange", client_order_id=cid)
    assert cid not in code
    assert code == "order_rejected_by_exchange"


def test_reason_codes_are_short_slugs() -> None:
    code = reason_code("a" * 19 + " " + "b" * 19 + " " + "c" * 19 + " " + "d" * 19 + " | code=" + "9" * 40)
    assert len(code) <= 48
    assert set(code) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


def test_slug() -> None:
    assert slug("Half Open!") == "half_open"
    assert slug("  ") == UNKNOWN


def test_bounded_label_folds_values_past_the_cap_into_other() -> None:
    label = BoundedLabel(2)
    assert [label(v) for v in ("a", "b", "c", "a", "d", "b")] == ["a", "b", OTHER, "a", OTHER, "b"]
    assert len(label) == 2
    assert label("") == UNKNOWN


def test_bounded_label_rejects_a_zero_cap() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BoundedLabel(0)


@pytest.mark.parametrize(
    ("reason", "code", "expected"),
    [
        # A symbolic code (risk check or broker) is the label, whatever the text says.
        ("order notional 500 exceeds max_order_notional 10", "MAX_ORDER_NOTIONAL", "max_order_notional"),
        ("Insufficient balance to open order", "INSUFFICIENT_FUND", "insufficient_fund"),
        # A numeric broker code is appended to the words, even when the text does not carry it.
        (
            "Account has insufficient balance for requested action.",
            "-2010",
            "account_has_insufficient_balance_2010",
        ),
        ("Order failed", "51008", "order_failed_51008"),
        # No code: read from the text, as before.
        ("Order failed | code=51008", None, "order_failed_51008"),
    ],
)
def test_the_hooks_code_argument_names_the_reason(reason: str, code: str | None, expected: str) -> None:
    assert reason_code(reason, code=code) == expected
