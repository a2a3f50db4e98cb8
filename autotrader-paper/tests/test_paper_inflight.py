"""The kit's in-flight scenarios (TC-INF-*) against the paper broker, through its fault plan.

The paper broker is its own exchange: the checks read its simulator (orders per client
order id, fills). A lost reply is ``fail_next(op, RequestTimeout, after_apply=True)`` (the
broker executed, the events still come on its stream); a request that expired before it
reached the matching engine is the same fault with ``after_apply=False``. The paper broker
has no wire to hold a request on, no clock to lag and a stream it cannot silence, so the
held, late, clock-lag and stream variants are skipped with that reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from autotrader_conformance.inflight import InflightConformance, InflightRun, VenueFill, VenueOrder
from autotrader_core.errors import RequestTimeout
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_paper.simulator import SimOrder

SYMBOL = "BTCUSDT"
_OPERATION = {"submit": "submit", "modify_native": "modify", "cancel": "cancel"}


def _settings() -> PaperSettings:
    return PaperSettings(
        quote_source="static",
        slippage_bps=Decimal(0),
        tick_interval=0.01,
        initial_balances={"USDT": Decimal(100000), "BTC": Decimal(1)},
    )


_INSTRUMENT = next(i for i in _settings().instruments if i.symbol == SYMBOL)
RESTING = (_INSTRUMENT.start_price / 2).quantize(_INSTRUMENT.tick_size)
"""A buy limit far below the static market price: it rests."""


@dataclass
class PaperView:
    """The paper simulator seen as a venue by the kit's checks."""

    adapter: PaperAdapter

    @property
    def fills(self) -> list[VenueFill]:
        """Every simulated execution."""
        return [
            VenueFill(
                trade_id=f.trade_id,
                order_id=f.broker_order_id or "",
                client_order_id=f.client_order_id,
                symbol=f.symbol,
                side=f.side,
                quantity=f.quantity,
                price=f.price,
                fee=f.fee,
                fee_asset=f.fee_currency or "",
                time_ms=int(f.timestamp.timestamp() * 1000),
            )
            for f in self.adapter.simulator.fills()
        ]

    def orders_for(self, client_order_id: str) -> list[VenueOrder]:
        """The simulator keeps one order per client order id (it refuses a repeat)."""
        try:
            sim: SimOrder = self.adapter.simulator.find(client_order_id=client_order_id)
        except Exception:
            return []
        return [
            VenueOrder(
                order_id=sim.broker_order_id,
                client_order_id=sim.client_order_id,
                symbol=sim.symbol,
                side=sim.side,
                order_type=sim.order_type.value,
                quantity=sim.quantity,
                price=sim.limit_price,
                time_in_force=sim.time_in_force.value,
                created_ms=0,
                status=sim.status,
                filled=sim.filled_quantity,
            )
        ]

    def position(self, symbol: str) -> Decimal:
        """Signed sum of the simulator's fills in ``symbol``."""
        return sum((f.signed_quantity for f in self.fills if f.symbol == symbol), Decimal(0))


class TestPaperInflight(InflightConformance):
    """Reply lost / request expired for submit, modify and cancel, on the paper broker."""

    symbol: ClassVar[str] = SYMBOL
    quantity: ClassVar[Decimal] = Decimal("0.01")
    reduced_quantity: ClassVar[Decimal] = Decimal("0.005")
    faults_offered: ClassVar[frozenset[str]] = frozenset({"lost", "expired"})
    silent_stream: ClassVar[bool] = False
    settle_budget: ClassVar[float] = 1.5
    resting_price: ClassVar[Decimal] = RESTING

    @asynccontextmanager
    async def _paper(self) -> AsyncIterator[PaperAdapter]:
        yield PaperAdapter(_settings())

    def make_venue(self) -> Any:
        return self._paper()

    def make_adapter(self, venue: Any) -> PaperAdapter:
        assert isinstance(venue, PaperAdapter)
        return venue

    def venue_view(self, venue: Any) -> PaperView:
        return PaperView(venue)

    def modify_change(self, kind: str) -> dict[str, Decimal] | None:
        return None if kind == "modify_replace" else {"quantity": self.reduced_quantity}

    def plan_fault(self, run: InflightRun, operation: str, fault: str) -> None:
        adapter = run.venue
        assert isinstance(adapter, PaperAdapter)
        adapter.faults.fail_next(
            _OPERATION[operation], RequestTimeout(f"injected: {fault}"), after_apply=fault == "lost"
        )
