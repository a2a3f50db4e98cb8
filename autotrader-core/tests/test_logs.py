"""Structured logs: one record per order event, JSON on request, secrets never shown."""

from __future__ import annotations

import json
import logging
from decimal import Decimal as D

import pytest
from autotrader_core.logs import REDACTED, JsonFormatter
from pydantic import SecretStr

from .fakes import FakeBroker
from .test_engine import make_engine


def render(**extra: object) -> dict[str, object]:
    record = logging.LogRecord("autotrader.orders", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))  # type: ignore[no-any-return]


def test_json_records_carry_extra_fields_with_decimals_as_exact_strings() -> None:
    payload = render(client_order_id="c1", price=D("64000.10"), filled_quantity=D("0.50"))
    assert payload["message"] == "hello world"
    assert payload["level"] == "info"
    assert payload["client_order_id"] == "c1"
    assert payload["price"] == "64000.10"
    assert payload["filled_quantity"] == "0.50"


def test_secrets_are_redacted_by_type_and_by_name() -> None:
    payload = render(
        settings={"api_key": "AKIA-REAL", "api_secret": SecretStr("s3cr3t"), "symbol": "BTCUSDT"},
        passphrase="hunter2",
        token=SecretStr("tok"),
        headers={"Authorization": "Bearer abc"},
    )
    text = json.dumps(payload)
    for secret in ("AKIA-REAL", "s3cr3t", "hunter2", 'tok"', "Bearer abc"):
        assert secret not in text
    assert payload["passphrase"] == REDACTED
    assert payload["settings"] == {"api_key": REDACTED, "api_secret": REDACTED, "symbol": "BTCUSDT"}


@pytest.mark.anyio
async def test_every_order_event_is_logged_once_with_its_identity(caplog: pytest.LogCaptureFixture) -> None:
    broker = FakeBroker()
    engine, _ = make_engine(broker)
    with caplog.at_level(logging.INFO, logger="autotrader.orders"):
        async with engine:
            order = await engine.submit_order("BTCUSDT", "buy", D("0.5"))
    records = [r for r in caplog.records if r.name == "autotrader.orders"]
    assert [r.event for r in records] == ["OrderAccepted", "OrderFilled"]  # type: ignore[attr-defined]
    for record in records:
        assert record.client_order_id == order.client_order_id  # type: ignore[attr-defined]
        assert record.broker == "fake"  # type: ignore[attr-defined]
        assert record.symbol == "BTCUSDT"  # type: ignore[attr-defined]
    assert records[-1].outcome == "filled"  # type: ignore[attr-defined]
    assert records[-1].price == D("100")  # type: ignore[attr-defined]
