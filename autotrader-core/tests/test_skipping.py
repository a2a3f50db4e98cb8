"""One bad payload item is reported and skipped; the others come through (rule 11)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from autotrader_core.adapter import AdapterTelemetry
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.skipping import BadItemLog, parse_each


class _Telemetry(AdapterTelemetry):
    def __init__(self) -> None:
        self.calls: list[tuple[str, BrokerProtocolError, bool]] = []

    def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
        self.calls.append((what, error, may_hold_fill))


def _price(item: Any) -> Decimal:
    if item.get("type") not in ("limit", "market"):
        raise BrokerProtocolError(f"unknown order type {item.get('type')!r}", payload=item, broker="x")
    return Decimal(item["px"])


def _refuse_whole_item(item: Any) -> Decimal:
    raise BrokerProtocolError("unknown ordType", payload=item, broker="okx")  # payload holds the key


def test_parse_each_keeps_the_good_items_and_hands_over_the_bad_one() -> None:
    bad: list[tuple[Any, BrokerProtocolError]] = []
    items = [{"type": "limit", "px": "1.5"}, {"type": "elp", "px": "2"}, {"type": "market", "px": "3"}]
    got = parse_each(items, _price, what="open order", on_bad=lambda raw, err: bad.append((raw, err)))
    assert got == [Decimal("1.5"), Decimal(3)]
    assert [raw for raw, _ in bad] == [{"type": "elp", "px": "2"}]
    assert "elp" in str(bad[0][1])


def test_a_parser_crash_on_an_odd_shape_becomes_a_typed_error() -> None:
    bad: list[BrokerProtocolError] = []
    got = parse_each(
        ["garbage", {"type": "limit", "px": "1"}],
        _price,
        what="order",
        on_bad=lambda raw, err: bad.append(err),
        broker="x",
    )
    assert got == [Decimal(1)]
    assert isinstance(bad[0], BrokerProtocolError)
    assert isinstance(bad[0].__cause__, AttributeError)
    assert "cannot parse order" in str(bad[0])


def test_errors_outside_parsing_propagate() -> None:
    def boom(item: Any) -> int:
        raise RuntimeError("a bug, not a payload")

    with pytest.raises(RuntimeError):
        parse_each([1], boom, what="x", on_bad=lambda raw, err: None)


def test_bad_item_log_alerts_records_and_removes_secrets(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = _Telemetry()
    log = BadItemLog("okx", telemetry=lambda: telemetry)
    raw = {"ordType": "elp", "apiKey": "k-123", "signature": "s-456", "sz": "1"}
    with caplog.at_level(logging.ERROR, logger="autotrader_core.skipping"):
        got = log.parse_each([raw], _refuse_whole_item, what="fill", may_hold_fill=True)
    assert got == []
    [item] = list(log)
    assert item.what == "fill" and item.may_hold_fill and item.broker == "okx"
    assert item.raw["ordType"] == "elp" and item.raw["sz"] == "1"
    assert "k-123" not in repr(item.raw) and "s-456" not in repr(item.raw)
    assert [(what, fill) for what, _, fill in telemetry.calls] == [("fill", True)]
    assert "A FILL MAY BE MISSING" in caplog.text
    assert "k-123" not in caplog.text and "s-456" not in caplog.text
    assert item.as_dict()["error_type"] == "BrokerProtocolError"
    assert log.total == 1 and log.drain() == [item] and len(log) == 0


def test_failing_telemetry_does_not_cost_the_item() -> None:
    class Broken(AdapterTelemetry):
        def bad_item(self, what: str, error: BrokerProtocolError, *, may_hold_fill: bool = False) -> None:
            raise RuntimeError("telemetry down")

    log = BadItemLog("x", telemetry=Broken, maxlen=1)
    log.report("frame", "not json", ValueError("bad"))
    log.report("frame", "still not json", ValueError("bad"))
    assert len(log) == 1 and log.total == 2
    with pytest.raises(ValueError, match="maxlen"):
        BadItemLog("x", maxlen=0)
