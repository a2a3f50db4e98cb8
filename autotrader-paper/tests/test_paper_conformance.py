"""The shared conformance suite, run against the paper broker itself (no recorded traffic).

The paper broker is its own exchange, so every scenario's input and expected
values come from the deterministic settings below: a static price (each
instrument's start price), no slippage and known fee rates. Expected fills are
computed from those settings, not written down.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from autotrader_conformance import AdapterConformance, Scenario
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.models import Order
from autotrader_paper import PaperAdapter, PaperSettings

SYMBOL = "BTCUSDT"
ORDER_QUANTITY = Decimal("0.01")

# Scenarios whose fills must come through the stream: with latency the submit reply is
# empty and the order reaches the matching engine while stream_events() runs.
_STREAMED = {"TC-STR-01", "TC-STR-02"}


def _settings(scenario_id: str = "") -> PaperSettings:
    return PaperSettings(
        quote_source="static",
        slippage_bps=Decimal(0),
        taker_fee_rate=Decimal("0.001"),
        maker_fee_rate=Decimal("0.0005"),
        latency_ms=Decimal(5) if scenario_id in _STREAMED else Decimal(0),
        tick_interval=0.01,
        initial_balances={"USDT": Decimal(100000), "BTC": Decimal(1), "ETH": Decimal(10)},
    )


SETTINGS = _settings()
INSTRUMENT = next(inst for inst in SETTINGS.instruments if inst.symbol == SYMBOL)
PRICE = INSTRUMENT.start_price
"""The static market price: market orders fill here exactly (no slippage)."""
FAR_BELOW = (PRICE / 2).quantize(INSTRUMENT.tick_size)
"""A buy limit price that rests: far below the static market."""


class TestPaperConformance(AdapterConformance):
    """The paper broker passes the whole conformance suite."""

    recordings = None

    def setup_method(self) -> None:
        """A fresh id generator per test: every order gets a new client order id."""
        self._ids = ClientOrderIdGenerator("cf")

    def make_adapter(self, scenario: Scenario) -> PaperAdapter:
        """A fresh simulated exchange per scenario; TC-POS-01 starts with a position."""
        adapter = PaperAdapter(_settings(scenario.id))
        if scenario.id == "TC-POS-01":
            # The account already holds a position (as a recorded account would).
            adapter.simulator.submit(
                Order(
                    client_order_id=self._ids.next_id(),
                    symbol=SYMBOL,
                    side=OrderSide.BUY,
                    order_type=OrderType.MARKET,
                    quantity=ORDER_QUANTITY,
                    broker="paper",
                )
            )
        return adapter

    def _order(self, **terms: Any) -> dict[str, Any]:
        return {
            "symbol": SYMBOL,
            "side": "buy",
            "quantity": str(ORDER_QUANTITY),
            "client_order_id": self._ids.next_id(),
            **terms,
        }

    def scenario_input(self, scenario_id: str) -> Mapping[str, Any]:
        """Inputs of every scenario, chosen against the static market price."""
        resting = {"limit_price": str(FAR_BELOW)}
        inputs: dict[str, dict[str, Any]] = {
            "TC-INS-01": {"symbol": SYMBOL},
            "TC-ORD-01": self._order(),
            "TC-ORD-02": self._order(**resting),
            "TC-ORD-03": self._order(**resting),
            "TC-ORD-04": {
                "symbol": SYMBOL,
                "orders": [
                    {
                        "client_order_id": self._ids.next_id(),
                        "side": "buy",
                        "quantity": "0.01",
                        "limit_price": str(FAR_BELOW),
                    },
                    {
                        "client_order_id": self._ids.next_id(),
                        "side": "sell",
                        "quantity": "0.02",
                        "limit_price": str(PRICE * 2),
                    },
                ],
            },
            "TC-ORD-05": self._order(
                **resting, new_quantity="0.02", new_limit_price=str(FAR_BELOW - INSTRUMENT.tick_size)
            ),
            "TC-ORD-06": self._order(stop_price=str(PRICE + 1000), limit_price=str(PRICE + 1100)),
            # 100 BTC at half price costs far more than the 100,000 USDT balance.
            "TC-ERR-01": self._order(quantity="100", **resting),
            "TC-ERR-02": {"symbol": SYMBOL, "client_order_id": "cfnosuchorder0"},
            # Not a multiple of the lot size.
            "TC-ERR-03": self._order(quantity=str(INSTRUMENT.lot_size * Decimal("1.5")), **resting),
            "TC-ERR-05": self._order(**resting),
            "TC-RES-02": self._order(**resting),
            "TC-RES-03": self._order(**resting),
            "TC-STR-01": self._order(),
            "TC-STR-02": self._order(),
            "TC-MD-01": {"symbols": [SYMBOL]},
            "TC-MD-02": {"symbol": "NOPEUSDT", "snapshot": True},
            "TC-MD-05": {"symbols": [SYMBOL, "ETHUSDT"], "unsubscribe": ["ETHUSDT"]},
        }
        return inputs.get(scenario_id, {})

    def expected(self, scenario_id: str) -> Mapping[str, Any]:
        """Expected values computed from the settings (static price, fee rates, balances)."""
        fee = PRICE * ORDER_QUANTITY * SETTINGS.taker_fee_rate
        # No slippage: a market sell fills at the price, so the bid is the price and the ask
        # one tick above it (a quote is never a locked book).
        quote = {
            "kind": "quote",
            "symbol": SYMBOL,
            "bid": str(PRICE),
            "ask": str(PRICE + INSTRUMENT.tick_size),
        }
        market_fill = {
            "fill_quantity": str(ORDER_QUANTITY),
            "fill_price": str(PRICE),
            "fee": str(fee),
            "fee_currency": INSTRUMENT.quote,
        }
        balances = {
            asset: {"total": str(amount), "available": str(amount)}
            for asset, amount in SETTINGS.initial_balances.items()
        }
        values: dict[str, dict[str, Any]] = {
            "TC-INS-01": {
                "tick_size": str(INSTRUMENT.tick_size),
                "lot_size": str(INSTRUMENT.lot_size),
                "min_quantity": str(INSTRUMENT.min_quantity),
                "min_notional": str(INSTRUMENT.min_notional),
                "base": INSTRUMENT.base,
                "quote": INSTRUMENT.quote,
            },
            "TC-BAL-01": {"balances": balances},
            "TC-POS-01": {
                "positions": {SYMBOL: {"quantity": str(ORDER_QUANTITY), "average_price": str(PRICE)}}
            },
            "TC-ORD-01": market_fill,
            "TC-RES-01": {"retry_after": "0.05"},
            "TC-RES-02": {"submits": 1},
            "TC-RES-03": {"submits": 1},
            "TC-MD-01": {"items": [quote], "snapshot": quote},
            "TC-MD-05": {"after": quote},
            "TC-STR-01": market_fill,
            "TC-STR-02": {
                "fills": [
                    {
                        "quantity": str(ORDER_QUANTITY),
                        "price": str(PRICE),
                        "fee": str(fee),
                        "fee_currency": INSTRUMENT.quote,
                    }
                ]
            },
        }
        return values.get(scenario_id, {})
