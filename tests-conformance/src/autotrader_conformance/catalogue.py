"""The scenario catalogue: every conformance scenario, its id, and what it needs.

This table is the single source of truth. The loader validates recordings
against it, the base class marks its tests from it, the guard test checks that
no scenario was deleted, and the adapter guide (``docs/writing-an-adapter.md``, shipped
with the kit: ``python -m autotrader_conformance.guide``) documents it.

A scenario is one of:

* **mandatory**: every adapter must pass it; it cannot be skipped. If it needs a
  feature (``needs``) the adapter does not declare, the scenario *fails*;
* **capability-gated** (``requires``): skipped with the reason
  ``adapter does not declare <feature>`` when the adapter lacks the feature;
* **other** (resiliency): runs when recorded; an adapter that cannot record it
  must say why in ``skip_scenarios`` (never skipped silently).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from autotrader_core.capabilities import Feature

__all__ = [
    "CATALOGUE",
    "ORDER_INPUT_OPTIONAL",
    "ORDER_INPUT_REQUIRED",
    "ScenarioSpec",
    "get_spec",
    "mandatory_ids",
]

ORDER_INPUT_REQUIRED = ("symbol", "side", "quantity", "client_order_id")
"""Input keys every order-placing scenario needs (``client_order_id`` must be the one recorded)."""
ORDER_INPUT_OPTIONAL = ("order_type", "limit_price", "stop_price", "time_in_force", "post_only")
"""Input keys an order-placing scenario may add.

``order_type`` defaults to limit when a limit price is given, else market.
"""


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """Static description of one scenario.

    Attributes:
        id: Stable id ``TC-<GROUP>-<nn>``; also the recording's file name (``<id>.json``).
        title: One line saying what the scenario proves.
        group: ``connection``, ``instruments``, ``account``, ``orders``, ``errors``,
            ``resiliency``, ``stream``, ``faults``, ``bad items``, ``secrets`` or ``market_data``.
        mandatory: Cannot be skipped by any means.
        requires: Feature without which the scenario is skipped (capability-gated scenarios).
        needs: Features a mandatory scenario needs; missing ones make it fail.
        input_required / input_optional: Keys of the scenario ``input``.
        expect_required / expect_optional: Keys of the scenario ``expect``.
        http_labels: Labels the recording's ``http`` exchanges must carry (recorded mode).
        simulated: How the scenario runs for an adapter without recordings:
            ``"run"`` (against the simulator), ``"faults"`` (through the fault
            injector of :mod:`autotrader_conformance.faults`) or ``"skip"``.
        simulated_skip_reason: Reason shown when ``simulated == "skip"``.
        replays: Id of the scenario whose recording (and, for simulated adapters,
            whose ``scenario_input``/``expected`` values and ``make_adapter``
            scenario id) this one re-uses, injecting its faults on top
            (fault and secret scenarios need no recording of their own).
        recording_optional: A recorded adapter without this scenario's recording
            is skipped with the reason, instead of failing (scenarios only some
            brokers can produce, e.g. a stale-clock refusal).
    """

    id: str
    title: str
    group: str
    mandatory: bool = False
    requires: Feature | None = None
    needs: tuple[Feature, ...] = ()
    input_required: tuple[str, ...] = ()
    input_optional: tuple[str, ...] = ()
    expect_required: tuple[str, ...] = ()
    expect_optional: tuple[str, ...] = ()
    http_labels: tuple[str, ...] = ()
    simulated: str = "run"
    simulated_skip_reason: str = ""
    replays: str | None = None
    recording_optional: bool = False

    @property
    def file_name(self) -> str:
        """Name of the recording file for this scenario."""
        return f"{self.id}.json"

    @property
    def recording_id(self) -> str:
        """Id of the scenario whose recording this one plays (itself unless it ``replays`` another)."""
        return self.replays or self.id


_ORDER = ORDER_INPUT_REQUIRED
_ORDER_OPT = ORDER_INPUT_OPTIONAL
_FILL_EXPECT = ("fill_quantity", "fill_price", "fee", "fee_currency")

_SPECS = (
    ScenarioSpec(
        "TC-CON-01", "connect, report connected, disconnect (twice, safely)", "connection", mandatory=True
    ),
    ScenarioSpec(
        "TC-INS-01",
        "instruments carry exact Decimal tick size, lot size and minimums",
        "instruments",
        mandatory=True,
        input_required=("symbol",),
        expect_required=("tick_size", "lot_size", "min_quantity"),
        expect_optional=("min_notional", "base", "quote", "asset_class"),
    ),
    ScenarioSpec(
        "TC-BAL-01",
        "balances per asset with exact Decimal total and available",
        "account",
        mandatory=True,
        expect_required=("balances",),
    ),
    ScenarioSpec(
        "TC-POS-01",
        "broker-reported positions with exact Decimal quantity",
        "account",
        requires=Feature.BROKER_POSITIONS,
        expect_required=("positions",),
    ),
    ScenarioSpec(
        "TC-ORD-01",
        "market order fills with exact Decimal quantity, price and fee (reply and stream collected)",
        "orders",
        requires=Feature.MARKET_ORDERS,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_required=_FILL_EXPECT,
        expect_optional=("fills",),
    ),
    ScenarioSpec(
        "TC-ORD-02",
        "limit order is accepted, open, found by query, then canceled",
        "orders",
        mandatory=True,
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
    ),
    ScenarioSpec(
        "TC-ORD-03",
        "an order is found by our client order id and by the broker's id",
        "orders",
        mandatory=True,
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
    ),
    ScenarioSpec(
        "TC-ORD-04",
        "open orders list every working order with exact terms",
        "orders",
        mandatory=True,
        needs=(Feature.LIMIT_ORDERS,),
        input_required=("symbol", "orders"),
    ),
    ScenarioSpec(
        "TC-ORD-05",
        "a working order is modified (quantity and/or limit price)",
        "orders",
        requires=Feature.MODIFY,
        input_required=(*_ORDER, "limit_price"),
        input_optional=(*_ORDER_OPT, "new_quantity", "new_limit_price"),
    ),
    ScenarioSpec(
        "TC-ORD-06",
        "stop-limit order is accepted with exact stop and limit prices",
        "orders",
        requires=Feature.STOP_LIMIT_ORDERS,
        input_required=(*_ORDER, "limit_price", "stop_price"),
        input_optional=_ORDER_OPT,
    ),
    ScenarioSpec(
        "TC-ERR-01",
        "insufficient funds raises InsufficientFunds",
        "errors",
        mandatory=True,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_optional=("code",),
    ),
    ScenarioSpec(
        "TC-ERR-02",
        "unknown order raises OrderNotFound on query and on cancel",
        "errors",
        mandatory=True,
        input_required=("symbol", "client_order_id"),
        expect_optional=("code",),
    ),
    ScenarioSpec(
        "TC-ERR-03",
        "invalid order raises InvalidOrder",
        "errors",
        mandatory=True,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_optional=("code",),
    ),
    ScenarioSpec(
        "TC-ERR-04",
        "bad credentials raise AuthenticationError (not retryable, no secret in the message)",
        "errors",
        mandatory=True,
        input_optional=("secret_values",),
        expect_optional=("code",),
        simulated="faults",
    ),
    ScenarioSpec(
        "TC-ERR-05",
        "malformed submit reply raises BrokerProtocolError and the order is not lost",
        "errors",
        mandatory=True,
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
        simulated="faults",
    ),
    ScenarioSpec(
        "TC-RES-01",
        "HTTP 429: RateLimited; retry waits (Retry-After when the broker sends one) and succeeds",
        "resiliency",
        expect_optional=("retry_after",),
        simulated="faults",
    ),
    ScenarioSpec(
        "TC-RES-02",
        "5xx on submit: the engine's resolver looks the order up, no duplicate order",
        "resiliency",
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
        expect_required=("submits",),
        http_labels=("submit",),
        simulated="faults",
    ),
    ScenarioSpec(
        "TC-RES-03",
        "timeout on submit: the engine's resolver looks the order up, no duplicate order",
        "resiliency",
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
        expect_required=("submits",),
        http_labels=("submit",),
        simulated="faults",
    ),
    ScenarioSpec(
        "TC-RES-04",
        "IP ban (Binance HTTP 418) raises RateLimited(banned=True) with the wait",
        "resiliency",
        expect_required=("retry_after",),
        simulated="skip",
        simulated_skip_reason="an IP ban is an HTTP reply; a simulator has no HTTP transport to ban",
    ),
    ScenarioSpec(
        "TC-RES-05",
        "the adapter declares its venue's re-send guarantee: a ResendGuarantee naming its source",
        "resiliency",
        replays="TC-CON-01",
    ),
    ScenarioSpec(
        "TC-RES-06",
        "an expiry guarantee is provable: venue_time() reads the venue's recorded clock, "
        "request_stamp() is timezone-aware (adapters declaring an expiry)",
        "resiliency",
        expect_required=("server_time",),
        recording_optional=True,
        simulated="skip",
        simulated_skip_reason="a simulated adapter has no venue clock on a wire to read",
    ),
    ScenarioSpec(
        "TC-STR-01",
        "fills arrive through the adapter's stream with exact Decimals",
        "stream",
        requires=Feature.STREAMING_FILLS,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_required=_FILL_EXPECT,
    ),
    ScenarioSpec(
        "TC-STR-02",
        "stream drops mid-fill: reconnect, catch up, every fill exactly once",
        "stream",
        requires=Feature.STREAMING_FILLS,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_required=("fills",),
        expect_optional=("connections",),
        simulated="faults",
    ),
    # -- the fault suite: faults injected by the kit on top of another scenario's traffic --
    ScenarioSpec(
        "TC-FLT-01",
        "submit times out after the broker took it, the lookup meets a 5xx: found, never sent twice",
        "faults",
        needs=(Feature.LIMIT_ORDERS,),
        replays="TC-RES-03",
    ),
    ScenarioSpec(
        "TC-FLT-02",
        "connection reset on submit after the broker took it: BrokerUnavailable, looked up, not re-sent",
        "faults",
        needs=(Feature.LIMIT_ORDERS,),
        replays="TC-RES-03",
    ),
    ScenarioSpec(
        "TC-FLT-03",
        "malformed JSON on a query: BrokerProtocolError with the payload; asking again works",
        "faults",
        needs=(Feature.LIMIT_ORDERS,),
        replays="TC-ORD-02",
    ),
    ScenarioSpec(
        "TC-FLT-04",
        "duplicate and out-of-order fills through the OMS: each fill once, position exact",
        "faults",
        requires=Feature.MARKET_ORDERS,
        replays="TC-ORD-01",
    ),
    ScenarioSpec(
        "TC-FLT-05",
        "stale clock (timestamp outside the receive window): the refused order is placed once, or a typed error",
        "faults",
        needs=(Feature.LIMIT_ORDERS,),
        input_required=(*_ORDER, "limit_price"),
        input_optional=_ORDER_OPT,
        expect_optional=("submits", "code"),
        http_labels=("submit",),
        recording_optional=True,
        simulated="skip",
        simulated_skip_reason="a simulator signs no timestamps, so its clock cannot be stale",
    ),
    ScenarioSpec(
        "TC-FLT-06",
        "stream drops mid-fill, every event through the OMS: no fill lost or counted twice, position exact",
        "faults",
        requires=Feature.STREAMING_FILLS,
        replays="TC-STR-02",
    ),
    # -- one bad payload item never costs the others (issue 15, rule 11) --
    ScenarioSpec(
        "TC-BAD-01",
        "a list reply with one unparseable item: the valid items come back, the bad one is reported",
        "bad items",
        input_optional=("symbol",),
        expect_required=("client_order_ids",),
        expect_optional=("reported",),
        recording_optional=True,
        simulated="skip",
        simulated_skip_reason=(
            "the kit plays the bad item from a recording; an adapter without recordings has no wire the kit "
            "can garble (a simulator has none; a fake server tests rule 11 in the adapter's own suite)"
        ),
    ),
    ScenarioSpec(
        "TC-BAD-02",
        "a garbage stream frame between two fills: both fills arrive, the frame is reported",
        "bad items",
        requires=Feature.STREAMING_FILLS,
        input_required=_ORDER,
        input_optional=_ORDER_OPT,
        expect_required=("fills",),
        expect_optional=("reported",),
        recording_optional=True,
        simulated="skip",
        simulated_skip_reason=(
            "the kit plays the bad item from a recording; an adapter without recordings has no wire the kit "
            "can garble (a simulator has none; a fake server tests rule 11 in the adapter's own suite)"
        ),
    ),
    # -- public market data (open_market_data / get_quote) --
    ScenarioSpec(
        "TC-MD-01",
        "subscribed symbols stream quotes (and trades) with exact Decimals; REST snapshot exact",
        "market_data",
        requires=Feature.QUOTES,
        input_required=("symbols",),
        input_optional=("trades",),
        expect_required=("items",),
        expect_optional=("snapshot",),
    ),
    ScenarioSpec(
        "TC-MD-02",
        "an unknown symbol raises InvalidOrder before any subscription is sent",
        "market_data",
        requires=Feature.QUOTES,
        input_required=("symbol",),
        input_optional=("snapshot",),
    ),
    ScenarioSpec(
        "TC-MD-03",
        "the connection drops: reconnect, resubscribe, Stale before the new connection's prices",
        "market_data",
        requires=Feature.QUOTES,
        input_required=("symbols",),
        input_optional=("trades",),
        expect_required=("before", "after"),
        expect_optional=("connections",),
        simulated="skip",
        simulated_skip_reason="a simulated adapter has no market-data connection to drop or silence",
    ),
    ScenarioSpec(
        "TC-MD-04",
        "the venue goes silent past its heartbeat rule: Stale, then the new connection's prices",
        "market_data",
        requires=Feature.QUOTES,
        input_required=("symbols",),
        input_optional=("trades",),
        expect_required=("before", "after"),
        expect_optional=("connections",),
        simulated="skip",
        simulated_skip_reason="a simulated adapter has no market-data connection to drop or silence",
    ),
    ScenarioSpec(
        "TC-MD-05",
        "unsubscribed symbols get a Stale marker and no price after it; the others keep streaming",
        "market_data",
        requires=Feature.QUOTES,
        input_required=("symbols", "unsubscribe"),
        input_optional=("trades",),
        expect_required=("after",),
    ),
    # -- secrets: known secret values never leak --
    ScenarioSpec(
        "TC-SEC-01",
        "a submit with an unknown outcome and a failing lookup logs, raises and shows no secret",
        "secrets",
        needs=(Feature.LIMIT_ORDERS,),
        replays="TC-RES-03",
    ),
    ScenarioSpec(
        "TC-SEC-02",
        "bad credentials: no secret in the AuthenticationError, the logs or the adapter's repr",
        "secrets",
        replays="TC-ERR-04",
    ),
)

CATALOGUE: dict[str, ScenarioSpec] = {spec.id: spec for spec in _SPECS}
"""Every scenario by id, in catalogue order."""


def get_spec(scenario_id: str) -> ScenarioSpec:
    """Return the spec of ``scenario_id``.

    Raises:
        KeyError: with the list of known ids when the id is unknown.
    """
    try:
        return CATALOGUE[scenario_id]
    except KeyError:
        raise KeyError(f"unknown scenario id {scenario_id!r}; known ids: {', '.join(CATALOGUE)}") from None


def mandatory_ids() -> Iterator[str]:
    """Ids of the scenarios that can never be skipped."""
    return (spec.id for spec in _SPECS if spec.mandatory)
