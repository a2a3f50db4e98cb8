"""The shared conformance suite, run against the real adapter talking to the loopback fake TWS.

IBKR has no HTTP traffic for the kit to replay: the kit's recorded mode (pytest-httpx
plus WebSocket / line-stream replay) does not apply to a TWS socket. The suite runs in
the kit's *simulated* mode instead (``recordings = None``), where

* every scenario connects the real :class:`IbkrAdapter` (real ib_async client) to a
  fake TWS replaying ``tests/recordings/conformance/<scenario id>.json``;
* input and expected values below match those transcripts (fixed client order ids);
* the kit's transport-agnostic fault plan injects the faults a socket cannot carry
  (HTTP 429, lost submit replies, bad credentials), and ``drop_stream`` drops the real
  socket on the fake TWS, so TC-STR-02 exercises the adapter's own reconnect and
  catch-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from autotrader_conformance import AdapterConformance, Scenario
from autotrader_conformance.faults import FaultPlan, FaultyAdapter, SimpleFaultPlan, with_faults
from autotrader_core.adapter import BrokerAdapter
from autotrader_ibkr import IbkrAdapter, IbkrSettings
from ibkr_fake_tws import FakeTws, Transcript
from ibkr_support import settings_for

SYMBOL = "AAPL"


class FakeTwsIbkrAdapter(IbkrAdapter):
    """The real adapter; ``connect`` first starts a fake TWS replaying the scenario's transcript."""

    def __init__(self, transcript: str, **overrides: object) -> None:
        # The overrides count from the start: a market-data feed reads its settings when opened.
        super().__init__(IbkrSettings(symbols=[SYMBOL], **overrides))  # type: ignore[arg-type]
        self._transcript = transcript
        self._overrides = overrides
        self.tws: FakeTws | None = None
        self.played: FakeTws | None = None
        """The fake TWS of the last session, kept after disconnect for the teardown checks."""

    async def connect(self) -> None:
        """Start the fake TWS (once), point the settings at it, connect for real."""
        if self.tws is None:
            tws = FakeTws(Transcript.load(self._transcript))
            await tws.__aenter__()
            self.tws = self.played = tws
            self.settings = settings_for(tws, symbols=[SYMBOL], order_ack_timeout=3.0, **self._overrides)
        await super().connect()

    async def disconnect(self) -> None:
        """Disconnect, then stop the fake TWS."""
        await super().disconnect()
        if self.tws is not None:
            tws, self.tws = self.tws, None
            await tws.__aexit__(None, None, None)

    def drop_connection(self) -> None:
        """Close the socket from the TWS side, as a TWS restart does."""
        if self.tws is not None:
            self.tws.drop()


class DroppingFaultPlan(SimpleFaultPlan):
    """The kit's fault plan plus ``drop_stream`` (TC-STR-02) backed by a real socket drop."""

    def __init__(self, adapter: FakeTwsIbkrAdapter) -> None:
        super().__init__()
        self._adapter = adapter

    def drop_stream(self) -> None:
        """Drop the TWS connection under the adapter."""
        self._adapter.drop_connection()


def _order(client_order_id: str, **terms: Any) -> dict[str, Any]:
    return {"symbol": SYMBOL, "side": "buy", "quantity": "10", "client_order_id": client_order_id, **terms}


_RESTING = {"limit_price": "150.25", "time_in_force": "day"}


class TestIbkrConformance(AdapterConformance):
    """IBKR passes the conformance suite against the fake TWS."""

    recordings = None
    # Rule 11 (TC-BAD): the fake TWS plays the unreadable message (a composed variation, see the transcripts).
    own_wire_scenarios: ClassVar[dict[str, str]] = {
        "TC-BAD-01": "an openOrder with a blank totalQuantity among two valid ones",
        "TC-BAD-02": "an execDetails with side 'B0T' between two fills",
        # Market data runs on the TWS socket: the fake TWS drops it (TC-MD-03) or leaves a ping unanswered.
        "TC-MD-03": "the fake TWS drops the socket after the first quote; the adapter reconnects",
        "TC-MD-04": "the fake TWS answers nothing, not even reqCurrentTime, after the first quote",
    }

    def teardown_method(self) -> None:
        """Each transcript was played to its end and the adapter sent nothing it does not cover."""
        for adapter in self.__dict__.get("_made", []):
            tws = adapter.played
            if tws is None:
                continue  # capabilities probe, or a scenario that never connected
            assert tws.script_finished, f"{tws.transcript.name}: script stopped at step {tws.step}"
            assert tws.unexpected == [], f"{tws.transcript.name}: unexpected requests {tws.unexpected}"

    def make_adapter(self, scenario: Scenario) -> BrokerAdapter:
        """A fresh adapter whose fake TWS replays this scenario's transcript (no I/O here)."""
        # TC-MD-04: a short silence rule, so the scenario's silence is noticed quickly.
        quick = {"market_data_silence": 0.3, "request_timeout": 1.0} if scenario.id == "TC-MD-04" else {}
        adapter = FakeTwsIbkrAdapter(f"conformance/{scenario.id}", **quick)
        self.__dict__.setdefault("_made", []).append(adapter)  # the kit also builds probes on other instances
        return adapter

    def fault_injection(self, adapter: BrokerAdapter) -> tuple[BrokerAdapter, FaultPlan]:
        """The kit's fault wrapper, with ``drop_stream`` dropping the real socket."""
        assert isinstance(adapter, FakeTwsIbkrAdapter)
        wrapped: FaultyAdapter = with_faults(adapter)
        plan = DroppingFaultPlan(adapter)
        wrapped.faults = plan
        return wrapped, plan

    def scenario_input(self, scenario_id: str) -> Mapping[str, Any]:
        """Inputs matching the transcripts' orders."""
        inputs: dict[str, dict[str, Any]] = {
            "TC-INS-01": {"symbol": SYMBOL},
            "TC-ORD-01": _order("cford01", quantity="100"),
            "TC-ORD-02": _order("cford02", **_RESTING),
            "TC-ORD-03": _order("cford03", **_RESTING),
            "TC-ORD-04": {
                "symbol": SYMBOL,
                "orders": [
                    {"client_order_id": "cford04a", "side": "buy", "quantity": "10", **_RESTING},
                    {
                        "client_order_id": "cford04b",
                        "side": "sell",
                        "quantity": "20",
                        "limit_price": "300.5",
                        "time_in_force": "day",
                    },
                ],
            },
            "TC-ORD-05": _order("cford05", **_RESTING, new_quantity="12", new_limit_price="150.5"),
            "TC-ORD-06": _order(
                "cford06", side="sell", stop_price="148", limit_price="147.5", time_in_force="gtc"
            ),
            "TC-ERR-01": _order("cferr01", quantity="1000", **_RESTING),
            "TC-ERR-02": {"symbol": SYMBOL, "client_order_id": "cfnosuchorder0"},
            "TC-ERR-03": _order("cferr03", limit_price="150.257", time_in_force="day"),
            "TC-ERR-05": _order("cferr05", **_RESTING),
            "TC-RES-02": _order("cfres02", **_RESTING),
            "TC-RES-03": _order("cfres03", **_RESTING),
            "TC-STR-01": _order("cfstr01"),
            "TC-STR-02": _order("cfstr02", quantity="100"),
            "TC-BAD-02": _order("cfbad02", quantity="30"),
            "TC-MD-01": {"symbols": [SYMBOL], "trades": True},
            "TC-MD-02": {"symbol": "NOPE", "snapshot": True},
            "TC-MD-03": {"symbols": [SYMBOL]},
            "TC-MD-04": {"symbols": [SYMBOL]},
            "TC-MD-05": {"symbols": [SYMBOL, "EUR.USD"], "unsubscribe": ["EUR.USD"]},
        }
        return inputs.get(scenario_id, {})

    def expected(self, scenario_id: str) -> Mapping[str, Any]:
        """Expected values, as the transcripts' TWS messages state them."""
        values: dict[str, dict[str, Any]] = {
            "TC-INS-01": {
                "tick_size": "0.01",
                "lot_size": "0.0001",  # TWS reports fractional-share sizes for US stocks
                "min_quantity": "0.0001",
                "base": "AAPL",
                "quote": "USD",
                "asset_class": "equity",
            },
            "TC-BAL-01": {
                "balances": {
                    "USD": {"total": "84979.12", "available": "84979.12"},
                    "EUR": {"total": "1250.50", "available": "1250.50"},
                }
            },
            "TC-POS-01": {"positions": {SYMBOL: {"quantity": "100", "average_price": "150.2512"}}},
            "TC-ORD-01": {
                "fill_quantity": "100",
                "fill_price": "150.254",
                "fee": "1.4",
                "fee_currency": "USD",
                "fills": [
                    {
                        "trade_id": "0000e0d5.6734a1b2.01",
                        "quantity": "60",
                        "price": "150.25",
                        "fee": "1.0",
                    },
                    {
                        "trade_id": "0000e0d5.6734a1b3.01",
                        "quantity": "40",
                        "price": "150.26",
                        "fee": "0.4",
                    },
                ],
            },
            "TC-ERR-01": {"code": "201"},
            "TC-ERR-03": {"code": "110"},
            "TC-RES-01": {"retry_after": "0.05"},
            "TC-RES-02": {"submits": 1},
            "TC-RES-03": {"submits": 1},
            "TC-BAD-01": {"client_order_ids": ["cfbad01a", "cfbad01b"]},
            "TC-BAD-02": {
                "fills": [
                    {"trade_id": "0000e0d5.6734a401.01", "quantity": "10", "price": "150.25", "fee": "0.35"},
                    {"trade_id": "0000e0d5.6734a403.01", "quantity": "10", "price": "150.27", "fee": "0.35"},
                ]
            },
            "TC-STR-01": {"fill_quantity": "10", "fill_price": "150.3", "fee": "1.0", "fee_currency": "USD"},
            "TC-STR-02": {
                "fills": [
                    {
                        "trade_id": "0000e0d5.6734a1b2.01",
                        "quantity": "60",
                        "price": "150.25",
                        "fee": "1.0",
                    },
                    {
                        "trade_id": "0000e0d5.6734a1b3.01",
                        "quantity": "40",
                        "price": "150.27",
                        "fee": "0.4",
                    },
                ]
            },
            "TC-MD-01": {
                "items": [
                    _quote("185.25", "300", "185.27", "500"),
                    _quote("185.26", "200", "185.27", "500"),
                    {"kind": "trade", "symbol": SYMBOL, "price": "185.27", "size": "100"},
                ],
                "snapshot": _quote("185.26", "200", "185.27", "500"),
            },
            "TC-MD-03": {
                "before": _quote("185.25", "300", "185.27", "500"),
                "after": _quote("185.31", "400", "185.33", "600"),
            },
            "TC-MD-04": {
                "before": _quote("185.25", "300", "185.27", "500"),
                "after": _quote("185.31", "400", "185.33", "600"),
            },
            "TC-MD-05": {"after": _quote("185.25", "300", "185.28", "700")},
        }
        return values.get(scenario_id, {})


def _quote(bid: str, bid_size: str, ask: str, ask_size: str) -> dict[str, str]:
    """An expected AAPL quote, as the transcripts' tickPrice/tickSize messages state it."""
    return {
        "kind": "quote",
        "symbol": SYMBOL,
        "bid": bid,
        "bid_size": bid_size,
        "ask": ask,
        "ask_size": ask_size,
    }
