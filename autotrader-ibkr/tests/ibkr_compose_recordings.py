"""Compose the shipped transcripts in ``tests/recordings/``: ``python tests/ibkr_compose_recordings.py``.

``--only NAME`` rewrites one file (``--only conformance/TC-ORD-01``); ``--check`` writes
nothing and fails with a diff when a committed file differs from what is composed
(test_ibkr_recordings_composed.py runs it in CI). The shape is the kit's
(autotrader_conformance.composing): every transcript is built by one small function
registered with ``@recording("<file name>")`` (conformance scenarios under
``conformance/<id>``); the function returns the file's content, built from the helpers
above the flows; the kit's writer validates and writes it.

These transcripts were **composed** message by message in the server-version-178
layouts (see ``ibkr_tws_messages.py`` for the layout sources), not captured from a live
TWS: no paper account was reachable when they were written. Every file carries
``provenance`` = ``"composed: <from what>"`` (the project's convention, as in the kit's
recordings); flows that reproduce a sequence reported from live TWS cite the public
report there. A transcript recorded with ``ibkr_record_tws.py`` against a paper account has
the same schema with ``"captured: <where, when>"`` and replaces a composed one as-is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibkr_tws_messages as m
from autotrader_conformance.composing import Composer

# The fake TWS's own transcript format (not kit recordings), one JSON value per line.
COMPOSER = Composer(Path(__file__).parent / "recordings", kit_schema=False, indent=1, ensure_ascii=True)
recording = COMPOSER.recording
ACCOUNT = "DU1234567"  # fake paper account (paper accounts start with DU)
CLIENT_ID = "1"
SOURCE = (
    "Composed, not captured: field order = server version 178 layouts read by ib_async 2.1.0 "
    "decoder.py (mirrors IBKR ibapi EDecoder); value conventions from IB Gateway captures published "
    "in wboayue/rust-ibapi src/orders/common/test_data.rs; message flow per TWS API docs "
    "(ibkrcampus.com/campus/ibkr-api-page/twsapi-doc: placeOrder -> openOrder/orderStatus, "
    "execDetails then commissionReport per execId, error codes 201/202/1100/1101/1102/2104/2106/2158)."
)

COMPOSED_FROM = (
    "layouts: server version 178 as read by ib_async 2.1.0 decoder.py and IBKR's ibapi EDecoder "
    "(checked field for field by test_ibkr_decoder_crosscheck.py with ibapi-stable)",
    "values: IB Gateway captures published in wboayue/rust-ibapi src/orders/common/test_data.rs",
    "flow: TWS API docs (ibkrcampus.com/campus/ibkr-api-page/twsapi-doc)",
)
"""What every composed transcript was composed from (its ``provenance``)."""

# Public reports of sequences seen from live TWS, cited by the flows that reproduce them.
NAUTILUS_2359 = "nautechsystems/nautilus_trader#2359 (execution time YYYYMMDD-HH:MM:SS on UTC accounts)"
IB_ASYNC_230 = "ib-api-reloaded/ib_async#230 (execution time YYYYMMDD-HH:MM:SS)"
IB_ASYNC_191 = "ib-api-reloaded/ib_async#191 (warning 10349 'Order TIF was set to DAY', order fills)"
IB_ASYNC_217 = "ib-api-reloaded/ib_async#217 (order warnings reported as errors)"
IB_INSYNC_554 = "erdewit/ib_insync#554 (PreSubmitted openOrder/orderStatus, error 201, Inactive)"
IB_INSYNC_80 = "erdewit/ib_insync#80 (margin rejection 201 after PreSubmitted)"
IB_INSYNC_313 = "erdewit/ib_insync#313 (Inactive, then error 201 'Account is closed')"
IB_INSYNC_376 = "erdewit/ib_insync#376 (error 326 on reconnect: TWS has not noticed the old socket died)"
IB_ASYNC_152 = "ib-api-reloaded/ib_async#152 (error 326 on reconnect)"
IB_INSYNC_363 = "erdewit/ib_insync#363 (cancel of an Inactive order gets no status back)"
IB_INSYNC_328 = "erdewit/ib_insync#328 (404 'Order held while securities are located')"
NAUTILUS_3603 = "nautechsystems/nautilus_trader#3603 (Inactive with whyHeld=locate is a hold, not a reject)"
IBKR_CORRECTIONS = (
    "TWS API docs, Executions: a correction repeats the execution with only the part of execId "
    "after its last '.' changed"
)

ON_CONNECT = [
    m.managed_accounts(ACCOUNT),
    m.next_valid_id("1"),
    m.error("-1", "2104", "Market data farm connection is OK:usfarm"),
    m.error("-1", "2106", "HMDS data farm connection is OK:ushmds"),
    m.error("-1", "2158", "Sec-def data farm connection is OK:secdefnj"),
]


def account_updates() -> list[list[str]]:
    """reqAccountUpdates answer: a realistic subset of the account keys TWS streams."""
    rows = [
        ("AccountCode", ACCOUNT, ""),
        ("AccountType", "INDIVIDUAL", ""),
        ("AvailableFunds", "98512.37", "USD"),
        ("BuyingPower", "394049.48", "USD"),
        ("CashBalance", "84979.12", "USD"),
        ("CashBalance", "1250.50", "EUR"),
        ("CashBalance", "86312.57", "BASE"),
        ("Currency", "USD", "USD"),
        ("ExcessLiquidity", "99012.37", "USD"),
        ("NetLiquidation", "100004.12", "USD"),
        ("TotalCashBalance", "84979.12", "USD"),
        ("TotalCashBalance", "1250.50", "EUR"),
        ("TotalCashValue", "86312.57", "USD"),
    ]
    msgs = [m.account_value(k, v, c, ACCOUNT) for k, v, c in rows]
    return [*msgs, m.account_time("19:42"), m.account_download_end(ACCOUNT)]


def standing_answers(
    *, positions: list[list[str]] | None = None, executions: list[list[str]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Answers to the requests ib_async sends at connect time and to contract lookups."""
    return {
        "reqPositions": [{"reply": [*(positions or []), m.position_end()]}],
        "reqOpenOrders": [{"reply": [m.open_order_end()]}],
        "reqAllOpenOrders": [{"reply": [m.open_order_end()]}],
        "reqCompletedOrders": [{"reply": [m.completed_orders_end()]}],
        "reqAccountUpdates": [{"when": {"subscribe": "1"}, "reply": account_updates()}, {"reply": []}],
        "reqAccountUpdatesMulti": [
            {
                "reply": [
                    m.account_update_multi("${reqId}", ACCOUNT, "NetLiquidation", "100004.12", "USD"),
                    m.account_update_multi_end("${reqId}"),
                ]
            }
        ],
        "reqExecutions": [{"reply": [*(executions or []), m.exec_details_end("${reqId}")]}],
        "reqContractDetails": contract_answers(),
    }


def contract_answers() -> list[dict[str, Any]]:
    """reqContractDetails answers for the four contracts the tests trade."""
    return [
        {
            "when": {"symbol": "AAPL", "secType": "STK"},
            "reply": [
                m.contract_details(
                    "${reqId}",
                    m.AAPL,
                    min_tick="0.01",
                    long_name="APPLE INC",
                    # TWS reports fractional-share sizes for US stocks (IB Gateway capture, see ibkr_tws_messages)
                    min_size="0.0001",
                    size_increment="0.0001",
                    suggested_size_increment="100",
                    industry=("Technology", "Computers", "Computers"),
                    sec_ids=(("ISIN", "US0378331005"),),
                    trading_hours="20251124:0400-20251124:2000;20251125:0400-20251125:2000",
                    liquid_hours="20251124:0930-20251124:1600;20251125:0930-20251125:1600",
                ),
                m.contract_details_end("${reqId}"),
            ],
        },
        {
            "when": {"symbol": "EUR", "secType": "CASH"},
            "reply": [
                m.contract_details(
                    "${reqId}",
                    m.EURUSD,
                    min_tick="0.00005",
                    long_name="European Monetary Union Euro",
                    min_size="0.01",
                    size_increment="0.01",
                    valid_exchanges="IDEALPRO",
                    time_zone="US/Eastern",
                    market_rule_ids="239",
                ),
                m.contract_details_end("${reqId}"),
            ],
        },
        {
            "when": {"symbol": "ES", "secType": "FUT"},
            "reply": [
                m.contract_details(
                    "${reqId}",
                    m.ES,
                    min_tick="0.25",
                    long_name="E-mini S&P 500",
                    valid_exchanges="CME,QBALGO",
                    time_zone="US/Central",
                    market_rule_ids="67",
                ),
                m.contract_details_end("${reqId}"),
            ],
        },
        {
            "when": {"symbol": "AAPL", "secType": "OPT"},
            "reply": [
                m.contract_details(
                    "${reqId}", m.AAPL_OPT, min_tick="0.01", long_name="APPLE INC", market_rule_ids="32"
                ),
                m.contract_details_end("${reqId}"),
            ],
        },
        {
            "when": {"symbol": "NOPE"},
            "reply": [
                m.error("${reqId}", "200", "No security definition has been found for the request"),
            ],
        },
    ]


def transcript(
    description: str, script: list[dict[str, Any]], *, cites: tuple[str, ...] = (), **answers: Any
) -> dict[str, Any]:
    """One transcript file's content; ``cites`` names the public reports the flow reproduces."""
    return {
        "description": description,
        "provenance": "composed: " + "; ".join([*COMPOSED_FROM, *cites]),
        "source": SOURCE,
        "server_version": m.SERVER_VERSION,
        "connection_time": "20251124 14:42:39 EST",
        "on_connect": ON_CONNECT,
        "answers": standing_answers(**answers),
        "script": script,
    }


PERM = "1376327563"
REJECT_201_TEXT = (
    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR "
    "EQUITY WITH LOAN VALUE [1000.00 USD] MUST EXCEED THE INITIAL MARGIN [150250.00 USD]"
)
T0 = "20251124 09:31:05 US/Eastern"


def _open(status: str, order_ref: str, **terms: Any) -> list[str]:
    """openOrder for the order under test (orderId from the request)."""
    return m.open_order(
        terms.pop("order_id", "${orderId}"),
        terms.pop("contract", m.AAPL),
        action=terms.get("action", "BUY"),
        quantity=terms.get("quantity", "10"),
        order_type=terms.get("order_type", "LMT"),
        lmt_price=terms.get("lmt_price", "150.25"),
        aux_price=terms.get("aux_price", "0.0"),
        tif=terms.get("tif", "DAY"),
        account=ACCOUNT,
        order_ref=order_ref,
        client_id=CLIENT_ID,
        perm_id=terms.get("perm_id", PERM),
        status=status,
        shares_allocation=terms.get("shares_allocation", "100"),
    )


def _status(
    status: str,
    filled: str,
    remaining: str,
    avg: str = "0",
    last: str = "0",
    order_id: str = "${orderId}",
    perm: str = PERM,
) -> list[str]:
    return m.order_status(order_id, status, filled, remaining, avg, perm, last, CLIENT_ID)


def _exec(
    req_id: str, exec_id: str, shares: str, price: str, cum: str, avg: str, ref: str, **kw: Any
) -> list[str]:
    return m.exec_details(
        req_id,
        kw.get("order_id", "${orderId}"),
        kw.get("contract", m.AAPL),
        exec_id=exec_id,
        time=kw.get("time", T0),
        account=ACCOUNT,
        exchange=kw.get("exchange", "ISLAND"),
        side=kw.get("side", "BOT"),
        shares=shares,
        price=price,
        perm_id=kw.get("perm_id", PERM),
        client_id=CLIENT_ID,
        cum_qty=cum,
        avg_price=avg,
        order_ref=ref,
        last_liquidity=kw.get("liquidity", "2"),
    )


def _ack(ref: str, **terms: Any) -> list[list[str]]:
    """What TWS sends after accepting a new order: PreSubmitted then Submitted."""
    qty = terms.get("quantity", "10")
    order_id = terms.get("order_id", "${orderId}")
    return [
        _open("PreSubmitted", ref, **terms),
        _status("PreSubmitted", "0", qty, order_id=order_id),
        _open("Submitted", ref, **terms),
        _status("Submitted", "0", qty, order_id=order_id),
    ]


def place(ref: str, order_type: str, **fields: str) -> dict[str, object]:
    """A script step expecting placeOrder with our orderRef."""
    return {
        "expect": {"request": "placeOrder", "fields": {"orderRef": ref, "orderType": order_type, **fields}}
    }


EXEC1 = "0000e0d5.6734a1b2.01.01"
EXEC2 = "0000e0d5.6734a1b3.01.01"
EXEC3 = "0000e0d5.6734a1c9.01.01"


def _listed(*orders: list[list[str]]) -> dict[str, object]:
    """A script step: reqOpenOrders answered with the given openOrder/orderStatus pairs."""
    reply = [message for pair in orders for message in pair]
    return {"expect": {"request": "reqOpenOrders"}, "reply": [*reply, m.open_order_end()]}


def _working(ref: str, **terms: Any) -> list[list[str]]:
    qty = terms.get("quantity", "10")
    return [
        _open("Submitted", ref, **terms),
        _status("Submitted", "0", qty, order_id=terms.get("order_id", "${orderId}")),
    ]


def _cancel(*reply: list[str]) -> dict[str, object]:
    """A script step: cancelOrder answered with ``reply``."""
    return {"expect": {"request": "cancelOrder"}, "reply": list(reply)}


def _canceled(qty: str = "10", order_id: str = "${orderId}") -> list[list[str]]:
    return [
        _status("Cancelled", "0", qty, order_id=order_id),
        m.error(order_id, "202", "Order Canceled - reason:"),
    ]


def _mkt(ref: str, qty: str, status: str = "PreSubmitted") -> list[list[str]]:
    """openOrder + orderStatus of a market buy of ``qty`` AAPL."""
    return [_open(status, ref, quantity=qty, order_type="MKT", lmt_price="0.0"), _status(status, "0", qty)]


def _margin_reject(ref: str) -> list[list[str]]:
    """A margin rejection as TWS sends it: PreSubmitted, then 201, then Inactive (ib_insync #554)."""
    return [
        _open("PreSubmitted", ref, quantity="1000"),
        _status("PreSubmitted", "0", "1000"),
        m.error("${orderId}", "201", REJECT_201_TEXT),
        _open("Inactive", ref, quantity="1000"),
        _status("Inactive", "0", "1000"),
    ]


# ---------------------------------------------------------------------------- adapter flows
@recording("connect")
def connect() -> dict[str, Any]:
    return transcript(
        "Connect handshake and the connect-time requests ib_async sends; a long AAPL position and a "
        "short ES future position (avgCost per contract, i.e. price x multiplier 50).",
        [],
        positions=[
            m.position(ACCOUNT, m.AAPL, "100", "150.2512"),
            m.position(ACCOUNT, m.ES, "-2", "296312.5"),
        ],
    )


@recording("limit_place_cancel")
def limit_place_cancel() -> dict[str, Any]:
    return transcript(
        "LMT DAY buy 10 AAPL @ 150.25 acknowledged (PreSubmitted, Submitted), listed by reqOpenOrders, "
        "then canceled (PendingCancel, Cancelled + 202).",
        [
            {
                **place("at0limit01", "LMT", lmtPrice="150.25", totalQuantity="10", tif="DAY", action="BUY"),
                "reply": _ack("at0limit01"),
            },
            {
                "expect": {"request": "reqOpenOrders"},
                "reply": [
                    _open("Submitted", "at0limit01"),
                    _status("Submitted", "0", "10"),
                    m.open_order_end(),
                ],
            },
            _cancel(_status("PendingCancel", "0", "10"), *_canceled()),
        ],
    )


@recording("market_partial_fills")
def market_partial_fills() -> dict[str, Any]:
    return transcript(
        "MKT buy 100 AAPL filled in two executions (60 @ 150.25, 40 @ 150.26), each followed by its "
        "commissionReport with other messages in between.",
        [
            {
                **place("at0mkt01", "MKT", totalQuantity="100"),
                "reply": [
                    *_mkt("at0mkt01", "100"),
                    _exec("-1", EXEC1, "60", "150.25", "60", "150.25", "at0mkt01"),
                    _status("Submitted", "60", "40", "150.25", "150.25"),
                    m.commission_report(EXEC1, "1.0", "USD"),
                    _exec("-1", EXEC2, "40", "150.26", "100", "150.254", "at0mkt01"),
                    _open("Filled", "at0mkt01", quantity="100", order_type="MKT", lmt_price="0.0"),
                    _status("Filled", "100", "0", "150.254", "150.26"),
                    m.commission_report(EXEC2, "0.4", "USD"),
                ],
            },
        ],
    )


@recording("fx_commission_first")
def fx_commission_first() -> dict[str, Any]:
    fx_exec = "0001f4e8.6734b5e0.01.01"
    fx = {
        "contract": m.EURUSD,
        "action": "SELL",
        "quantity": "20000",
        "order_type": "MKT",
        "lmt_price": "0.0",
    }
    return transcript(
        "MKT sell 20000 EUR.USD (IDEALPRO); the commissionReport arrives before its execDetails "
        "(order not guaranteed by the protocol): the fill must still be emitted once, with its fee.",
        [
            {
                **place("at0fx01", "MKT", symbol="EUR", secType="CASH", action="SELL", totalQuantity="20000"),
                "reply": [
                    _open("PreSubmitted", "at0fx01", **fx),
                    _status("PreSubmitted", "0", "20000"),
                    m.commission_report(fx_exec, "2.0", "USD"),
                    _exec(
                        "-1",
                        fx_exec,
                        "20000",
                        "1.08465",
                        "20000",
                        "1.08465",
                        "at0fx01",
                        contract=m.EURUSD,
                        side="SLD",
                        exchange="IDEALPRO",
                        liquidity="2",
                    ),
                    _status("Filled", "20000", "0", "1.08465", "1.08465"),
                ],
            },
        ],
    )


@recording("reject_201")
def reject_201() -> dict[str, Any]:
    return transcript(
        "LMT buy 1000 AAPL refused for margin the way TWS does it: PreSubmitted openOrder and orderStatus, "
        "then error 201, then Inactive openOrder and orderStatus (sequence and timing reported in "
        "ib_insync #554 and #80; values composed).",
        [{**place("at0rej01", "LMT"), "reply": _margin_reject("at0rej01")}],
        cites=(IB_INSYNC_554, IB_INSYNC_80),
    )


@recording("reject_inactive_first")
def reject_inactive_first() -> dict[str, Any]:
    return transcript(
        "LMT buy 10 AAPL: TWS answers Inactive (openOrder and orderStatus) and only later error 201 "
        "'Account is closed' (order of events as logged in ib_insync #313).",
        [
            {
                **place("at0inact1", "LMT"),
                "reply": [_open("Inactive", "at0inact1"), _status("Inactive", "0", "10")],
            },
            {"sleep": 0.05},
            {"push": [m.error("${orderId}", "201", "Order rejected - reason:Account is closed")]},
        ],
        cites=(IB_INSYNC_313,),
    )


@recording("order_warning_10349")
def order_warning_10349() -> dict[str, Any]:
    ref, fill = "at0warn01", "0000e0d5.6734a1e0.01.01"
    return transcript(
        "LMT GTC buy 10 AAPL: TWS first sends warning 10349 'Order TIF was set to DAY based on order "
        "preset' about the order, then accepts it (TIF DAY) and fills it (ib_async #191, #217): a warning "
        "is not a rejection.",
        [
            {
                **place(ref, "LMT", tif="GTC"),
                "reply": [
                    m.error("${orderId}", "10349", "Order TIF was set to DAY based on order preset."),
                    *_ack(ref),
                    _exec("-1", fill, "10", "150.25", "10", "150.25", ref),
                    _status("Filled", "10", "0", "150.25", "150.25"),
                    m.commission_report(fill, "1.0", "USD"),
                ],
            },
        ],
        cites=(IB_ASYNC_191, IB_ASYNC_217),
    )


@recording("fill_time_formats")
def fill_time_formats() -> dict[str, Any]:
    ref = "at0time01"
    stamps = (
        ("0000e0d5.6734a1f1.01.01", "20251124-14:31:05"),  # UTC account (nautilus #2359, ib_async #230)
        ("0000e0d5.6734a1f2.01.01", "20251124  09:31:06 US/Eastern"),  # two spaces, then the zone
        ("0000e0d5.6734a1f3.01.01", "24.11.2025 14:31:07"),  # a form nobody reported: must still fill
    )
    reply = [*_mkt(ref, "30")]
    cum = 0
    for exec_id, stamp in stamps:
        cum += 10
        reply.append(_exec("-1", exec_id, "10", "150.25", str(cum), "150.25", ref, time=stamp))
        reply.append(m.commission_report(exec_id, "0.35", "USD"))
    reply.append(_status("Filled", "30", "0", "150.25", "150.25"))
    return transcript(
        "MKT buy 30 AAPL filled in three executions whose times come as 'YYYYMMDD-HH:MM:SS' (UTC, as "
        "TWS sends on accounts set to UTC: nautilus_trader #2359, ib_async #230), as 'YYYYMMDD  HH:MM:SS "
        "zone', and in a form the adapter cannot read (composed): every fill must reach the stream.",
        [{**place(ref, "MKT", totalQuantity="30"), "reply": reply}],
        cites=(NAUTILUS_2359, IB_ASYNC_230),
    )


@recording("execution_correction")
def execution_correction() -> dict[str, Any]:
    ref = "at0corr01"
    first, corrected = "0000e0d5.6734a201.01.01", "0000e0d5.6734a201.01.02"
    return transcript(
        "MKT buy 100 AAPL filled by one execution of 100 @ 150.25; TWS then corrects it: the same "
        "execution again with only the part of execId after the last '.' changed (01 -> 02) and the price "
        "corrected to 150.24 (IBKR's documented correction form; values composed): 100 shares, not 200.",
        [
            {
                **place(ref, "MKT", totalQuantity="100"),
                "reply": [
                    *_mkt(ref, "100"),
                    _exec("-1", first, "100", "150.25", "100", "150.25", ref),
                    m.commission_report(first, "1.0", "USD"),
                    _status("Filled", "100", "0", "150.25", "150.25"),
                ],
            },
            {"sleep": 0.05},
            {
                "push": [
                    _exec("-1", corrected, "100", "150.24", "100", "150.24", ref),
                    m.commission_report(corrected, "1.0", "USD"),
                ]
            },
        ],
        cites=(IBKR_CORRECTIONS,),
    )


@recording("bad_execution_between_fills")
def bad_execution_between_fills() -> dict[str, Any]:
    ref = "at0bad01"
    good1, bad, good2 = "0000e0d5.6734a301.01.01", "0000e0d5.6734a302.01.01", "0000e0d5.6734a303.01.01"
    return transcript(
        "MKT buy 30 AAPL filled in three executions; the second carries a side the adapter cannot read "
        "('B0T', a composed corruption, not a reported one): the other two fills must still arrive, and "
        "the unreadable one must raise an alert (it may hold a fill).",
        [
            {
                **place(ref, "MKT", totalQuantity="30"),
                "reply": [
                    *_mkt(ref, "30"),
                    _exec("-1", good1, "10", "150.25", "10", "150.25", ref),
                    m.commission_report(good1, "0.35", "USD"),
                    _exec("-1", bad, "10", "150.25", "20", "150.25", ref, side="B0T"),
                    m.commission_report(bad, "0.35", "USD"),
                    _exec("-1", good2, "10", "150.25", "30", "150.25", ref),
                    m.commission_report(good2, "0.35", "USD"),
                    _status("Filled", "30", "0", "150.25", "150.25"),
                ],
            },
        ],
    )


@recording("modify_then_cancel")
def modify_then_cancel() -> dict[str, Any]:
    return transcript(
        "LMT buy 10 AAPL @ 150.25, modified natively (same orderId) to 150.5 and 12 shares, then canceled.",
        [
            {**place("at0mod01", "LMT", lmtPrice="150.25"), "reply": _ack("at0mod01")},
            {
                **place("at0mod01", "LMT", lmtPrice="150.5", totalQuantity="12"),
                "reply": [
                    _open("Submitted", "at0mod01", lmt_price="150.5", quantity="12"),
                    _status("Submitted", "0", "12"),
                ],
            },
            _cancel(*_canceled("12")),
        ],
    )


@recording("cancel_unknown")
def cancel_unknown() -> dict[str, Any]:
    return transcript(
        "cancelOrder for an orderId TWS does not know: error 10147.",
        [
            _cancel(
                m.error("${orderId}", "10147", "OrderId ${orderId} that needs to be cancelled is not found.")
            )
        ],
    )


@recording("locate_hold_cancel_no_reply")
def locate_hold_cancel_no_reply() -> dict[str, Any]:
    ref = "at0short1"
    short = {"action": "SELL", "quantity": "100"}
    return transcript(
        "LMT sell 100 AAPL short: PreSubmitted, then 404 'Order held while securities are located' and "
        "Inactive with whyHeld=locate (a hold, not a rejection: ib_insync #328, nautilus_trader #3603); "
        "the cancel of the Inactive order gets no reply at all (ib_insync #363), so the adapter must look "
        "it up instead of hanging: not in open orders, Cancelled in today's completed orders.",
        [
            {
                **place(ref, "LMT", action="SELL", totalQuantity="100"),
                "reply": [
                    _open("PreSubmitted", ref, **short),
                    _status("PreSubmitted", "0", "100"),
                    m.error("${orderId}", "404", "Order held while securities are located."),
                    _open("Inactive", ref, **short),
                    m.order_status("${orderId}", "Inactive", "0", "100", "0", PERM, "0", CLIENT_ID, "locate"),
                ],
            },
            {"expect": {"request": "cancelOrder"}, "reply": []},
            {"expect": {"request": "reqOpenOrders"}, "reply": [m.open_order_end()]},
            {
                "expect": {"request": "reqCompletedOrders"},
                "reply": [
                    m.completed_order(
                        m.AAPL,
                        action="SELL",
                        quantity="100",
                        order_type="LMT",
                        lmt_price="150.25",
                        tif="DAY",
                        account=ACCOUNT,
                        order_ref=ref,
                        perm_id=PERM,
                        status="Cancelled",
                        filled="0",
                        completed_time="20251124 09:31:40 US/Eastern",
                        completed_status="Cancelled by Trader",
                    ),
                    m.completed_orders_end(),
                ],
            },
        ],
        cites=(IB_INSYNC_328, NAUTILUS_3603, IB_INSYNC_363),
    )


@recording("cancel_no_reply_still_listed")
def cancel_no_reply_still_listed() -> dict[str, Any]:
    ref = "at0silent1"
    return transcript(
        "LMT buy 10 AAPL acknowledged; its cancel gets no reply (as ib_insync #363 reports for Inactive "
        "orders; composed here for a working one) and reqOpenOrders still lists it working: the lookup "
        "proves nothing, so the outcome stays unknown.",
        [
            {**place(ref, "LMT"), "reply": _ack(ref)},
            {"expect": {"request": "cancelOrder"}, "reply": []},
            _listed(_working(ref)),
        ],
        cites=(IB_INSYNC_363,),
    )


@recording("reconnect_mid_fill")
def reconnect_mid_fill() -> dict[str, Any]:
    # A fill in three executions with the socket dropped after the first: the second happens
    # while we are away, the third after the reconnect.
    ref = "at0drop01"
    catch_up = [
        _exec("${reqId}", EXEC1, "60", "150.25", "60", "150.25", ref),
        m.commission_report(EXEC1, "1.0", "USD"),
        _exec("${reqId}", EXEC2, "30", "150.27", "90", "150.256", ref),
        m.commission_report(EXEC2, "0.3", "USD"),
        m.exec_details_end("${reqId}"),
    ]
    still_open = [
        _open("Submitted", ref, quantity="100", order_type="MKT", lmt_price="0.0"),
        _status("Submitted", "90", "10", "150.256", "150.27"),
        m.open_order_end(),
    ]
    return transcript(
        "MKT buy 100 AAPL: execution 1 (60) live, then TWS drops the socket; execution 2 (30) happens "
        "while disconnected; after the reconnect reqOpenOrders/reqExecutions (sent twice: by ib_async's "
        "startup sync and by the adapter's re-sync) repeat execution 1 and deliver execution 2; "
        "execution 3 (10) arrives live. Each fill must reach the OMS exactly once, with its fee.",
        [
            {
                **place(ref, "MKT", totalQuantity="100"),
                "reply": [
                    *_mkt(ref, "100"),
                    _exec("-1", EXEC1, "60", "150.25", "60", "150.25", ref),
                    _status("Submitted", "60", "40", "150.25", "150.25"),
                    m.commission_report(EXEC1, "1.0", "USD"),
                ],
            },
            {"sleep": 0.05},
            {"drop": True},
            {"expect": {"request": "reqOpenOrders"}, "reply": still_open},
            {"expect": {"request": "reqExecutions"}, "reply": catch_up},
            {"expect": {"request": "reqOpenOrders"}, "reply": still_open},
            {"expect": {"request": "reqExecutions"}, "reply": catch_up},
            {"sleep": 0.02},
            {
                "push": [
                    _exec("-1", EXEC3, "10", "150.3", "100", "150.2614", ref),
                    m.commission_report(EXEC3, "0.1", "USD"),
                    _status("Filled", "100", "0", "150.2614", "150.3"),
                ]
            },
        ],
    )


CLIENT_ID_IN_USE = m.error(
    "-1", "326", "Unable to connect as the client id is already in use. Retry with a unique client id."
)


@recording("reconnect_client_id_in_use")
def reconnect_client_id_in_use() -> dict[str, Any]:
    ref = "at0cid01"
    late = "0000e0d5.6734a2b1.01.01"
    content = transcript(
        "Connected; TWS drops the socket; the first reconnect (same client id 1) is refused with 326 "
        "because TWS has not yet noticed the old socket died (ib_insync #376, ib_async #152), the second "
        "is accepted; an execution of our order placed before the drop then arrives live.",
        [
            {**place(ref, "LMT"), "reply": _ack(ref)},
            {"sleep": 0.05},
            {"drop": True},
            {"wait_connection": 3},
            {"sleep": 0.1},
            {
                "push": [
                    _exec("-1", late, "10", "150.25", "10", "150.25", ref),
                    m.commission_report(late, "1.0", "USD"),
                    _status("Filled", "10", "0", "150.25", "150.25"),
                ]
            },
        ],
        cites=(IB_INSYNC_376, IB_ASYNC_152),
    )
    content["connections"] = {"2": {"on_connect": [CLIENT_ID_IN_USE], "close": True}}
    return content


@recording("connectivity_restored")
def connectivity_restored() -> dict[str, Any]:
    return transcript(
        "After connecting, TWS loses its link to IBKR (1100) and gets it back with data kept (1102): "
        "the adapter must re-sync open orders and executions.",
        [
            {"wait_connection": 1},
            {"sleep": 0.05},
            {"push": [CONNECTIVITY_LOST, CONNECTIVITY_RESTORED]},
        ],
    )


CONNECTIVITY_LOST = m.error("-1", "1100", "Connectivity between IB and Trader Workstation has been lost.")
CONNECTIVITY_RESTORED = m.error(
    "-1",
    "1102",
    "Connectivity between IB and Trader Workstation has been restored - "
    "data maintained. All data farms are connected: usfarm; ushmds; secdefnj.",
)


@recording("connectivity_lost")
def connectivity_lost() -> dict[str, Any]:
    return transcript(
        "After connecting, TWS loses its link to IBKR (1100) for half a second, then gets it back (1102): "
        "meanwhile the session must count as disconnected.",
        [
            {"wait_connection": 1},
            {"sleep": 0.05},
            {"push": [CONNECTIVITY_LOST]},
            {"sleep": 0.5},
            {"push": [CONNECTIVITY_RESTORED]},
        ],
    )


@recording("commission_missing")
def commission_missing() -> dict[str, Any]:
    lonely = "0000e0d5.6734a1d4.01.01"
    return transcript(
        "MKT buy 5 AAPL filled by one execution whose commissionReport never arrives: the fill must "
        "still reach the OMS (without fee) once the adapter's commission_timeout has passed.",
        [
            {
                **place("at0nofee1", "MKT", totalQuantity="5"),
                "reply": [
                    *_mkt("at0nofee1", "5"),
                    _exec("-1", lonely, "5", "150.4", "5", "150.4", "at0nofee1"),
                    _status("Filled", "5", "0", "150.4", "150.4"),
                ],
            },
        ],
    )


TICK_110 = "The price does not conform to the minimum price variation for this contract."


@recording("modify_rejected")
def modify_rejected() -> dict[str, Any]:
    return transcript(
        "LMT buy 10 AAPL @ 150.25 acknowledged; a modify to 150.257 is refused with error 110 (price "
        "does not conform to the minimum tick); the order keeps working.",
        [
            {**place("at0modrej", "LMT", lmtPrice="150.25"), "reply": _ack("at0modrej")},
            {
                **place("at0modrej", "LMT", lmtPrice="150.257"),
                "reply": [m.error("${orderId}", "110", TICK_110)],
            },
        ],
    )


STOP_LIMIT = {
    "action": "SELL",
    "order_type": "STP LMT",
    "lmt_price": "147.5",
    "aux_price": "148",
    "tif": "GTC",
}


@recording("stop_limit")
def stop_limit() -> dict[str, Any]:
    return transcript(
        "STP LMT GTC sell 10 AAPL, stop 148, limit 147.5: acknowledged with the exact prices.",
        [
            {
                **place("at0stp01", "STP LMT", action="SELL", lmtPrice="147.5", auxPrice="148", tif="GTC"),
                "reply": _ack("at0stp01", **STOP_LIMIT),
            },
            {
                "expect": {"request": "reqOpenOrders"},
                "reply": [
                    _open("Submitted", "at0stp01", **STOP_LIMIT),
                    _status("Submitted", "0", "10"),
                    m.open_order_end(),
                ],
            },
        ],
    )


@recording("submit_no_ack")
def submit_no_ack() -> dict[str, Any]:
    return transcript(
        "LMT buy 10 AAPL: TWS takes the order but its acknowledgement is lost (no reply before the "
        "adapter's timeout); the lookup by client order id then finds it in reqOpenOrders; a second "
        "placeOrder would be a duplicate.",
        [{**place("at0lost01", "LMT", lmtPrice="150.25"), "reply": []}, _listed(_working("at0lost01"))],
    )


@recording("resend_same_id")
def resend_same_id() -> dict[str, Any]:
    return transcript(
        "LMT buy 10 AAPL: the first placeOrder gets no answer before the adapter's timeout; the re-send "
        "carries the same orderId (TWS API docs: placeOrder with an orderId already in use modifies that "
        "order, it never adds one) and TWS acknowledges the one order.",
        [
            {**place("at0again1", "LMT", lmtPrice="150.25"), "reply": []},
            {**place("at0again1", "LMT", lmtPrice="150.25"), "reply": _ack("at0again1")},
        ],
    )


@recording("readme_example")
def readme_example() -> dict[str, Any]:
    ack = [
        m.open_order(
            "${orderId}",
            m.AAPL,
            action="BUY",
            quantity="1",
            order_type="LMT",
            lmt_price="100",
            aux_price="0.0",
            tif="GTC",
            account=ACCOUNT,
            order_ref="${orderRef}",
            client_id=CLIENT_ID,
            perm_id=PERM,
            status="Submitted",
        ),
        m.order_status("${orderId}", "Submitted", "0", "1", "0", PERM, "0", CLIENT_ID),
    ]
    return transcript(
        "The README example: LMT GTC buy 1 AAPL @ 100 (any client order id), listed, canceled.",
        [
            {
                "expect": {
                    "request": "placeOrder",
                    "fields": {"orderType": "LMT", "lmtPrice": "100", "tif": "GTC"},
                },
                "reply": ack,
            },
            {"expect": {"request": "reqOpenOrders"}, "reply": [*ack, m.open_order_end()]},
            _cancel(
                m.order_status("${orderId}", "Cancelled", "0", "1", "0", PERM, "0", CLIENT_ID),
                m.error("${orderId}", "202", "Order Canceled - reason:"),
            ),
        ],
    )


@recording("client_id_in_use")
def client_id_in_use() -> dict[str, Any]:
    content = transcript(
        "TWS refuses every connection: another client already uses client id 1 (error 326), then closes "
        "the socket without nextValidId.",
        [],
        cites=(IB_INSYNC_376,),
    )
    content["on_connect"] = [CLIENT_ID_IN_USE]
    content["connections"] = {str(n): {"on_connect": [CLIENT_ID_IN_USE], "close": True} for n in range(1, 9)}
    return content


@recording("server_version_163")
def server_version_163() -> dict[str, Any]:
    content = transcript(
        "TWS negotiates server version 163, below the range the adapter is proven for (157-163 lay out "
        "contractDetails differently): the adapter must refuse at connect. Only the handshake messages, "
        "whose layout is the same at 163 and 178.",
        [],
    )
    content["server_version"] = 163
    content["on_connect"] = [m.managed_accounts(ACCOUNT), m.next_valid_id("1")]
    content["answers"] = {}
    return content


@recording("restart_open_order")
def restart_open_order() -> dict[str, Any]:
    restart_ref = "at0gtc01"
    earlier = "0000e0d5.6734a0f1.01.01"
    restart_open = m.open_order(
        "7",
        m.AAPL,
        action="BUY",
        quantity="10",
        order_type="LMT",
        lmt_price="149.5",
        aux_price="0.0",
        tif="GTC",
        account=ACCOUNT,
        order_ref=restart_ref,
        client_id=CLIENT_ID,
        perm_id="1376327501",
        status="Submitted",
    )
    restart_status = m.order_status("7", "Submitted", "0", "10", "0", "1376327501", "0", CLIENT_ID)
    content = transcript(
        "Restart: a GTC order placed in an earlier session (orderRef at0gtc01, orderId 7) is listed by "
        "reqOpenOrders at connect, and reqExecutions returns an earlier fill of order at0mkt00 with its "
        "commission (and a fill of client id 7, another application, which must be ignored); the adapter "
        "must find ours by client order id and cancel the GTC order by orderId 7.",
        [
            {
                "expect": {"request": "cancelOrder", "fields": {"orderId": "7"}},
                "reply": [
                    m.order_status("7", "Cancelled", "0", "10", "0", "1376327501", "0", CLIENT_ID),
                    m.error("7", "202", "Order Canceled - reason:"),
                ],
            }
        ],
        executions=[
            m.exec_details(
                "${reqId}",
                "5",
                m.AAPL,
                exec_id=earlier,
                time="20251124 09:30:12 US/Eastern",
                account=ACCOUNT,
                exchange="ARCA",
                side="BOT",
                shares="25",
                price="150.11",
                perm_id="1376327499",
                client_id=CLIENT_ID,
                cum_qty="25",
                avg_price="150.11",
                order_ref="at0mkt00",
                last_liquidity="1",
            ),
            m.commission_report(earlier, "1.0", "USD", "0"),
            m.exec_details(
                "${reqId}",
                "12",
                m.AAPL,
                exec_id="0000e0d5.6734a0f9.01.01",
                time="20251124 09:30:40 US/Eastern",
                account=ACCOUNT,
                exchange="NYSE",
                side="SLD",
                shares="3",
                price="150.2",
                perm_id="1376327510",
                client_id="7",
                cum_qty="3",
                avg_price="150.2",
                order_ref="otherapp1",
                last_liquidity="2",
            ),
            m.commission_report("0000e0d5.6734a0f9.01.01", "1.0", "USD", "0"),
        ],
    )
    content["answers"]["reqOpenOrders"] = [{"reply": [restart_open, restart_status, m.open_order_end()]}]
    content["answers"]["reqAllOpenOrders"] = content["answers"]["reqOpenOrders"]
    return content


# ---------------------------------------------------------------------------- conformance flows
# One transcript per kit scenario (``conformance/<id>``); client order ids are the fixed ones
# ``test_ibkr_conformance.py`` puts in each scenario's input.
def _conformance(sid: str, description: str, script: list[dict[str, Any]], **kw: Any) -> None:
    COMPOSER.add(f"conformance/{sid}", lambda: transcript(description, script, **kw))


_conformance("TC-CON-01", "Connect and disconnect.", [])
_conformance("TC-INS-01", "Connect with settings.symbols=[AAPL]: AAPL is qualified.", [])
_conformance("TC-BAL-01", "Account values streamed by reqAccountUpdates at connect.", [])
_conformance(
    "TC-POS-01", "One AAPL position.", [], positions=[m.position(ACCOUNT, m.AAPL, "100", "150.2512")]
)
_conformance(
    "TC-ORD-01",
    "MKT buy 100 AAPL filled in two executions, each with its commission.",
    [
        {
            **place("cford01", "MKT", totalQuantity="100"),
            "reply": [
                *_mkt("cford01", "100"),
                _exec("-1", EXEC1, "60", "150.25", "60", "150.25", "cford01"),
                _status("Submitted", "60", "40", "150.25", "150.25"),
                m.commission_report(EXEC1, "1.0", "USD"),
                _exec("-1", EXEC2, "40", "150.26", "100", "150.254", "cford01"),
                _status("Filled", "100", "0", "150.254", "150.26"),
                m.commission_report(EXEC2, "0.4", "USD"),
            ],
        },
    ],
)
_conformance(
    "TC-ORD-02",
    "LMT buy 10 AAPL @ 150.25: acknowledged, found by reqOpenOrders, canceled.",
    [
        {**place("cford02", "LMT", lmtPrice="150.25"), "reply": _ack("cford02")},
        _listed(_working("cford02")),
        _cancel(*_canceled()),
    ],
)
_conformance(
    "TC-ORD-03",
    "LMT buy 10 AAPL @ 150.25: found by client order id (orderRef) and by orderId.",
    [
        {**place("cford03", "LMT", lmtPrice="150.25"), "reply": _ack("cford03")},
        _listed(_working("cford03")),
        _listed(_working("cford03")),
    ],
)
_FIRST = {"order_id": "${orderId@cford04a}"}
_SECOND = {"order_id": "${orderId@cford04b}", "action": "SELL", "quantity": "20", "lmt_price": "300.5"}
_conformance(
    "TC-ORD-04",
    "Two resting AAPL orders (buy 10 @ 150.25, sell 20 @ 300.5) listed by reqOpenOrders.",
    [
        {**place("cford04a", "LMT", lmtPrice="150.25"), "reply": _ack("cford04a", **_FIRST)},
        {**place("cford04b", "LMT", lmtPrice="300.5"), "reply": _ack("cford04b", **_SECOND)},
        _listed(_working("cford04a", **_FIRST), _working("cford04b", **_SECOND)),
    ],
)
_conformance(
    "TC-ORD-05",
    "LMT buy 10 AAPL @ 150.25 modified natively to 12 @ 150.5.",
    [
        {**place("cford05", "LMT", lmtPrice="150.25"), "reply": _ack("cford05")},
        {
            **place("cford05", "LMT", lmtPrice="150.5", totalQuantity="12"),
            "reply": [
                _open("Submitted", "cford05", lmt_price="150.5", quantity="12"),
                _status("Submitted", "0", "12"),
            ],
        },
    ],
)
_conformance(
    "TC-ORD-06",
    "STP LMT GTC sell 10 AAPL, stop 148, limit 147.5.",
    [
        {
            **place("cford06", "STP LMT", lmtPrice="147.5", auxPrice="148"),
            "reply": _ack("cford06", **STOP_LIMIT),
        },
        _listed(_working("cford06", **STOP_LIMIT)),
    ],
)
_conformance(
    "TC-ERR-01",
    "LMT buy 1000 AAPL refused for margin: PreSubmitted, error 201, Inactive (ib_insync #554, #80).",
    [{**place("cferr01", "LMT"), "reply": _margin_reject("cferr01")}],
    cites=(IB_INSYNC_554, IB_INSYNC_80),
)
_conformance("TC-ERR-02", "No such order: reqOpenOrders and reqCompletedOrders list nothing.", [])
_conformance(
    "TC-ERR-03",
    "LMT buy 10 AAPL @ 150.257 refused with 110 (price does not conform to the minimum tick).",
    [{**place("cferr03", "LMT", lmtPrice="150.257"), "reply": [m.error("${orderId}", "110", TICK_110)]}],
)
_conformance("TC-ERR-04", "Connect; the kit injects the authentication fault.", [])
for _sid, _ref in (("TC-ERR-05", "cferr05"), ("TC-RES-02", "cfres02"), ("TC-RES-03", "cfres03")):
    _conformance(
        _sid,
        "LMT buy 10 AAPL @ 150.25 reaches TWS (the kit then loses the reply); the lookup by client "
        "order id finds it in reqOpenOrders.",
        [{**place(_ref, "LMT", lmtPrice="150.25"), "reply": _ack(_ref)}, _listed(_working(_ref))],
    )
_conformance("TC-RES-01", "Connect; the kit injects RateLimited on get_balances.", [])
_LONE = "0000e0d5.6734a2a0.01.01"
_conformance(
    "TC-STR-01",
    "MKT buy 10 AAPL filled by one execution delivered on the stream.",
    [
        {
            **place("cfstr01", "MKT", totalQuantity="10"),
            "reply": [
                *_mkt("cfstr01", "10"),
                _exec("-1", _LONE, "10", "150.3", "10", "150.3", "cfstr01"),
                _status("Filled", "10", "0", "150.3", "150.3"),
                m.commission_report(_LONE, "1.0", "USD"),
            ],
        }
    ],
)


@recording("conformance/TC-STR-02")
def stream_reconnect_catch_up() -> dict[str, Any]:
    ref = "cfstr02"
    catch_up = [
        _exec("${reqId}", EXEC1, "60", "150.25", "60", "150.25", ref),
        m.commission_report(EXEC1, "1.0", "USD"),
        _exec("${reqId}", EXEC2, "40", "150.27", "100", "150.258", ref),
        m.commission_report(EXEC2, "0.4", "USD"),
        m.exec_details_end("${reqId}"),
    ]
    filled = [
        _open("Filled", ref, quantity="100", order_type="MKT", lmt_price="0.0"),
        _status("Filled", "100", "0", "150.258", "150.27"),
        m.open_order_end(),
    ]
    return transcript(
        "MKT buy 100 AAPL: execution 1 (60) arrives live, then the kit drops the socket; execution 2 "
        "(40) happens in the gap and comes back, with execution 1 again, from reqExecutions after the "
        "reconnect (ib_async's startup sync, then the adapter's re-sync).",
        [
            {
                **place(ref, "MKT", totalQuantity="100"),
                "reply": [
                    *_mkt(ref, "100"),
                    _exec("-1", EXEC1, "60", "150.25", "60", "150.25", ref),
                    _status("Submitted", "60", "40", "150.25", "150.25"),
                    m.commission_report(EXEC1, "1.0", "USD"),
                ],
            },
            {"expect": {"request": "reqOpenOrders"}, "reply": filled},
            {"expect": {"request": "reqExecutions"}, "reply": catch_up},
            {"expect": {"request": "reqOpenOrders"}, "reply": filled},
            {"expect": {"request": "reqExecutions"}, "reply": catch_up},
        ],
    )


_BAD_LISTED = (
    ("14", "1376327601", "cfbad01a"),
    ("15", "1376327602", "cfbad01x"),
    ("16", "1376327603", "cfbad01b"),
)


@recording("conformance/TC-BAD-01")
def open_orders_with_one_unreadable() -> dict[str, Any]:
    def listed(order_id: str, perm: str, ref: str, quantity: str) -> list[list[str]]:
        return [
            m.open_order(
                order_id,
                m.AAPL,
                action="BUY",
                quantity=quantity,
                order_type="LMT",
                lmt_price="150.25",
                aux_price="0.0",
                tif="DAY",
                account=ACCOUNT,
                order_ref=ref,
                client_id=CLIENT_ID,
                perm_id=perm,
                status="Submitted",
            ),
            m.order_status(order_id, "Submitted", "0", quantity or "10", "0", perm, "0", CLIENT_ID),
        ]

    # The middle order's totalQuantity is blank: a composed corruption, not a reported one. ibapi
    # and ib_async read a blank decimal as unset; the adapter cannot list an order of no quantity.
    orders = [listed(oid, perm, ref, "" if ref == "cfbad01x" else "10") for oid, perm, ref in _BAD_LISTED]
    content = transcript(
        "Three resting AAPL orders of this client id, placed before this session, listed by "
        "reqOpenOrders; the middle one (cfbad01x) carries a blank totalQuantity, a composed variation "
        "of a valid openOrder (not a reported one): the other two must be listed, that one reported.",
        [],
        cites=("composed variation: openOrder of cfbad01x with a blank totalQuantity (rule 11, TC-BAD-01)",),
    )
    reply = [message for pair in orders for message in pair]
    # Every reqOpenOrders (ib_async's startup sync and get_open_orders) sees the same orders.
    content["answers"]["reqOpenOrders"] = [{"reply": [*reply, m.open_order_end()]}]
    content["on_connect"] = [m.managed_accounts(ACCOUNT), m.next_valid_id("17"), *ON_CONNECT[2:]]
    return content


@recording("conformance/TC-BAD-02")
def garbage_execution_between_fills() -> dict[str, Any]:
    ref = "cfbad02"
    good1, bad, good2 = "0000e0d5.6734a401.01.01", "0000e0d5.6734a402.01.01", "0000e0d5.6734a403.01.01"
    return transcript(
        "MKT buy 30 AAPL filled in three executions delivered on the stream; the second carries a side "
        "the adapter cannot read ('B0T'), a composed variation of a valid execDetails (not a reported "
        "one): the other two fills must arrive, the unreadable one must be reported (it may hold a fill).",
        [
            {
                **place(ref, "MKT", totalQuantity="30"),
                "reply": [
                    *_mkt(ref, "30"),
                    _exec("-1", good1, "10", "150.25", "10", "150.25", ref),
                    m.commission_report(good1, "0.35", "USD"),
                    _exec("-1", bad, "10", "150.26", "20", "150.255", ref, side="B0T"),
                    m.commission_report(bad, "0.35", "USD"),
                    _exec("-1", good2, "10", "150.27", "30", "150.26", ref),
                    m.commission_report(good2, "0.35", "USD"),
                    _status("Filled", "30", "0", "150.26", "150.27"),
                ],
            },
        ],
        cites=("composed variation: execDetails side 'B0T' between two fills (rule 11, TC-BAD-02)",),
    )


# ---------------------------------------------------------------------------- market data
MD_FLOW = (
    "market-data flow: TWS API docs, Market Data: Live (reqMarketDataType, reqMktData -> tickReqParams, "
    "marketDataType, tickPrice with the side's size then a repeated tickSize, tick-by-tick AllLast) and "
    "Message Codes (354, 10089, 10167, 10168, 1100, 1101); tick layouts as in protocols-market-data.md §5.5/5.6"
)
MD_VALUES = (
    "tick values: composed; version 6 of tickPrice/tickSize/tickString as in wboayue/rust-ibapi's "
    "mock-gateway market-data fixtures; US-stock sizes in shares (TWS's 'sizes in shares instead of lots' "
    "setting; which one a login uses is pinned here, protocols-market-data.md §7 item 17)"
)
T_TRADE = "1764009005"
NOT_FOR_API_TEXT = "The market data subscribed with the user does not extend support for API use."
NOT_FOR_API_CITE = (
    "10089 text: IBKR's Campus table has no message for 10089 (protocols-market-data.md §7 item 20); "
    "the text here is the table's note, not a captured message"
)  # 2025-11-24 18:30:05 UTC (during the session of T0's day)


def md_transcript(
    description: str, script: list[dict[str, Any]], *, cites: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A market-data transcript: cancels and clock requests are answered as TWS does (nothing / the time)."""
    content = transcript(description, script, cites=(MD_FLOW, MD_VALUES, *cites))
    content["answers"].update(
        {
            "cancelMktData": [{"reply": []}],
            "cancelTickByTickData": [{"reply": []}],
            "reqCurrentTime": [{"reply": [m.current_time(T_TRADE)]}],
        }
    )
    return content


def md_type(data_type: str = "3") -> dict[str, Any]:
    """reqMarketDataType, sent once per socket before the first market-data request (3: live or delayed)."""
    return {"expect": {"request": "reqMarketDataType", "fields": {"marketDataType": data_type}}, "reply": []}


def quote_ticks(
    req_id: str, bid: str, bid_size: str, ask: str, ask_size: str, *, delayed: bool = False
) -> list[list[str]]:
    """bid and ask of one request as TWS sends them: each price with its size, then the size again."""
    b, bs, a, as_ = ("66", "69", "67", "70") if delayed else ("1", "0", "2", "3")
    return [
        m.tick_price(req_id, b, bid, bid_size, "1"),
        m.tick_size(req_id, bs, bid_size),
        m.tick_price(req_id, a, ask, ask_size, "1"),
        m.tick_size(req_id, as_, ask_size),
    ]


def aapl_line(
    req_id: str, bid: str, bid_size: str, ask: str, ask_size: str, data_type: str = "1"
) -> list[list[str]]:
    """The first answer to reqMktData of AAPL: request parameters, data type, quote, last, volume, close."""
    delayed = data_type != "1"
    last, last_size, volume, close = ("68", "71", "74", "75") if delayed else ("4", "5", "8", "9")
    return [
        m.tick_req_params(req_id, "0.01", "9c0001", "3"),
        m.market_data_type(req_id, data_type),
        *quote_ticks(req_id, bid, bid_size, ask, ask_size, delayed=delayed),
        m.tick_price(req_id, last, "185.26", "100", "0"),
        m.tick_size(req_id, last_size, "100"),
        m.tick_size(req_id, volume, "2345678"),
        m.tick_price(req_id, close, "184.1", "0", "0"),
        m.tick_string(req_id, "88" if delayed else "45", "1764009000"),
    ]


def mkt_data(symbol: str, *, snapshot: str = "0") -> dict[str, Any]:
    """A script step expecting reqMktData of ``symbol`` (the contract's ``symbol`` field)."""
    return {"expect": {"request": "reqMktData", "fields": {"symbol": symbol, "snapshot": snapshot}}}


def snapshot_answer(bid: str, bid_size: str, ask: str, ask_size: str) -> list[list[str]]:
    """A snapshot reqMktData answer: data type, the quote, then tickSnapshotEnd."""
    return [
        m.market_data_type("${reqId}", "1"),
        *quote_ticks("${reqId}", bid, bid_size, ask, ask_size),
        m.tick_snapshot_end("${reqId}"),
    ]


@recording("conformance/TC-MD-01")
def md_subscribe_and_parse() -> dict[str, Any]:
    return md_transcript(
        "Quotes and trades of AAPL: reqMarketDataType(3), reqMktData (first quote 185.25 x 300 / 185.27 x "
        "500, plus the last trade before the subscription, volume and close ticks); the bid moves to "
        "185.26 x 200, then a trade: last 185.27 x 100 with its timestamp. Then a snapshot reqMktData "
        "(get_quote).",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"sleep": 0.05},
            {
                "push": [
                    m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1"),
                    m.tick_size("${reqId@AAPL}", "0", "200"),
                ]
            },
            {"sleep": 0.05},
            {
                "push": [
                    m.tick_price("${reqId@AAPL}", "4", "185.27", "100", "0"),
                    m.tick_size("${reqId@AAPL}", "5", "100"),
                    m.tick_string("${reqId@AAPL}", "45", T_TRADE),
                ]
            },
            {**mkt_data("AAPL", snapshot="1"), "reply": snapshot_answer("185.26", "200", "185.27", "500")},
        ],
    )


README_PROVENANCE = (
    "composed: from the conformance transcript TC-ORD-01 (its handshake, standing answers and placeOrder "
    "reply layouts, server version 178), with our order values (orderRef, action, quantity 1, perm ids, "
    "exec ids, prices, commissions) as variations; its market data from the conformance transcript "
    "TC-MD-01 (reqMarketDataType, snapshot and streaming reqMktData answers), with AAPL quotes around "
    "the fill prices as variations"
)


def _readme_market_order(
    ref: str, action: str, perm: str, exec_id: str, time: str, price: str
) -> dict[str, Any]:
    """The README example's MKT order of 1 AAPL: accepted, filled in one execution, its commission."""
    side = "BOT" if action == "BUY" else "SLD"
    return {
        "expect": {
            "request": "placeOrder",
            "fields": {"orderRef": ref, "action": action, "orderType": "MKT", "totalQuantity": "1"},
        },
        "reply": [
            _open(
                "PreSubmitted",
                ref,
                action=action,
                quantity="1",
                order_type="MKT",
                lmt_price="0.0",
                perm_id=perm,
                shares_allocation="1",
            ),
            _status("PreSubmitted", "0", "1", perm=perm),
            _exec("-1", exec_id, "1", price, "1", price, ref, side=side, time=time, perm_id=perm),
            _status("Filled", "1", "0", price, price, perm=perm),
            m.commission_report(exec_id, "1.0", "USD"),
        ],
    }


@recording("readme/README-SESSION")
def readme_session() -> dict[str, Any]:
    """The README example's strategy session (test_ibkr_readme_example.py): a buy of 1 AAPL, then its close.

    The example's strategy needs 20 prices (0.4 s of decision cycles) before it decides:
    a steady quote, then a dip below the average (it buys), then a rise above it (it closes).
    """
    script = [
        md_type(),
        {**mkt_data("AAPL", snapshot="1"), "reply": snapshot_answer("150.50", "300", "150.52", "500")},
        {
            **mkt_data("AAPL"),
            "reply": [
                m.tick_req_params("${reqId}", "0.01", "9c0001", "3"),
                m.market_data_type("${reqId}", "1"),
                *quote_ticks("${reqId}", "150.50", "300", "150.52", "500"),
            ],
        },
        {"sleep": 1.5},
        {"push": quote_ticks("${reqId@AAPL}", "150.24", "300", "150.26", "500")},
        _readme_market_order(
            "atreadme01",
            "BUY",
            "1376327601",
            "0000e0d5.6734a1c1.01.01",
            "20251124 09:31:05 US/Eastern",
            "150.26",
        ),
        {"sleep": 0.3},
        {"push": quote_ticks("${reqId@AAPL}", "150.80", "300", "150.82", "500")},
        _readme_market_order(
            "atreadme02",
            "SELL",
            "1376327602",
            "0000e0d5.6734a1c2.01.01",
            "20251124 09:31:07 US/Eastern",
            "150.80",
        ),
    ]
    content = md_transcript(
        "the README example on IBKR: connect, qualify AAPL, subscribe to its quotes (snapshot, then the "
        "stream): a steady quote, a dip (the example buys: a MKT buy of 1 share) and a rise above the "
        "average (it closes: a MKT sell of 1), each order filled in one execution with its commission",
        script,
    )
    content["provenance"] = README_PROVENANCE
    return content


@recording("market_data_tick_by_tick")
def md_tick_by_tick() -> dict[str, Any]:
    return md_transcript(
        "trades_source=tick_by_tick: AAPL quotes from reqMktData (its last-trade ticks are not trades "
        "here) and trades from tick-by-tick AllLast: one trade 100 @ 185.27 on ISLAND with its time.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"expect": {"request": "reqTickByTickData", "fields": {"symbol": "AAPL", "tickType": "AllLast"}}},
            {"sleep": 0.05},
            {
                "push": [
                    m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1"),
                    m.tick_size("${reqId@AAPL}", "0", "200"),
                ]
            },
            {"sleep": 0.05},
            {"push": [m.tick_by_tick_last("${tbtReqId@AAPL}", T_TRADE, "185.27", "100", "ISLAND")]},
        ],
    )


@recording("market_data_tick_by_tick_refused")
def md_tick_by_tick_refused() -> dict[str, Any]:
    return md_transcript(
        "trades_source=tick_by_tick: AAPL quotes, but TWS refuses the tick-by-tick request with error "
        "10189 'Failed to request tick-by-tick data. Invalid Real-time Query'; the quotes go on.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {
                "expect": {
                    "request": "reqTickByTickData",
                    "fields": {"symbol": "AAPL", "tickType": "AllLast"},
                },
                "reply": [
                    m.error(
                        "${reqId}", "10189", "Failed to request tick-by-tick data. Invalid Real-time Query"
                    )
                ],
            },
            {"sleep": 0.05},
            {"push": [m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1")]},
        ],
    )


@recording("engine_trades_on_quotes")
def md_engine() -> dict[str, Any]:
    return md_transcript(
        "The engine runs a strategy on AAPL: its market feed takes the snapshot (reqMarketDataType(3), "
        "snapshot reqMktData) and the streaming reqMktData; the strategy rests a limit buy of 10 at the "
        "bid (185.25), which TWS accepts.",
        [
            md_type(),
            {**mkt_data("AAPL", snapshot="1"), "reply": snapshot_answer("185.25", "300", "185.27", "500")},
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {
                # The engine makes the client order id: any orderRef, filled into the reply from the request.
                "expect": {
                    "request": "placeOrder",
                    "fields": {
                        "orderType": "LMT",
                        "lmtPrice": "185.25",
                        "totalQuantity": "10",
                        "action": "BUY",
                    },
                },
                "reply": [
                    _open("Submitted", "${orderRef}", lmt_price="185.25"),
                    _status("Submitted", "0", "10"),
                ],
            },
        ],
    )


@recording("conformance/TC-MD-02")
def md_unknown_symbol() -> dict[str, Any]:
    return md_transcript(
        "NOPE is looked up (reqContractDetails) and TWS answers error 200 'No security definition has been "
        "found for the request': no market data is requested, for the feed or the snapshot.",
        [],
    )


@recording("conformance/TC-MD-03")
def md_reconnect() -> dict[str, Any]:
    return md_transcript(
        "AAPL quotes; TWS drops the socket (a TWS restart); the adapter reconnects (same client id), sends "
        "reqMarketDataType again (TWS forgets it per socket) and re-requests AAPL, which quotes anew.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"sleep": 0.1},
            {"drop": True},
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.31", "400", "185.33", "600")},
        ],
    )


@recording("conformance/TC-MD-04")
def md_silence() -> dict[str, Any]:
    return md_transcript(
        "AAPL quotes, then nothing: after the silence the adapter asks TWS for its clock (reqCurrentTime) "
        "and gets no answer (a hung TWS); it cancels the line and requests AAPL again on the same socket, "
        "which quotes anew.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"expect": {"request": "reqCurrentTime"}, "reply": []},
            {"expect": {"request": "cancelMktData"}, "reply": []},
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.31", "400", "185.33", "600")},
        ],
    )


def eur_line(req_id: str) -> list[list[str]]:
    """The first answer to reqMktData of EUR.USD (IDEALPRO: sizes in units of the base currency)."""
    return [
        m.tick_req_params(req_id, "5.0E-5", "", "3"),
        m.market_data_type(req_id, "1"),
        *quote_ticks(req_id, "1.08525", "2000000", "1.0853", "1500000"),
    ]


@recording("conformance/TC-MD-05")
def md_unsubscribe() -> dict[str, Any]:
    return md_transcript(
        "AAPL and EUR.USD quote; EUR.USD is canceled (cancelMktData); AAPL quotes on, and an EUR.USD tick "
        "TWS had already sent when the cancel arrived is not a price any more.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {**mkt_data("EUR"), "reply": eur_line("${reqId}")},
            {
                "expect": {"request": "cancelMktData"},
                "reply": [
                    m.tick_price("${reqId@EUR}", "1", "1.0852", "1000000", "1"),
                    m.tick_price("${reqId@AAPL}", "2", "185.28", "700", "1"),
                    m.tick_size("${reqId@AAPL}", "3", "700"),
                ],
            },
        ],
    )


@recording("market_data_no_value")
def md_no_value() -> dict[str, Any]:
    return md_transcript(
        "AAPL before the open: TWS sends -1 prices with size 0 for bid and ask (no data), then the book "
        "fills: bid 185.25 x 300, ask 185.27 x 500; then the ask empties with a size-0 tickSize.",
        [
            md_type(),
            {
                **mkt_data("AAPL"),
                "reply": [
                    m.tick_req_params("${reqId}", "0.01", "9c0001", "3"),
                    m.market_data_type("${reqId}", "1"),
                    m.tick_price("${reqId}", "1", "-1", "0", "0"),
                    m.tick_size("${reqId}", "0", "0"),
                    m.tick_price("${reqId}", "2", "-1", "0", "0"),
                    m.tick_size("${reqId}", "3", "0"),
                ],
            },
            {"sleep": 0.05},
            {"push": quote_ticks("${reqId}", "185.25", "300", "185.27", "500")},
            {"sleep": 0.05},
            {"push": [m.tick_size("${reqId}", "3", "0")]},
        ],
        cites=("no-data ticks: TWS API docs, 'a tickPrice value of -1 or 0 followed by a tickSize of 0'",),
    )


@recording("market_data_delayed")
def md_delayed() -> dict[str, Any]:
    return md_transcript(
        "AAPL without a live subscription: reqMarketDataType(3) makes TWS answer warning 10167 'Requested "
        "market data is not subscribed. Displaying delayed market data.', marketDataType 3 and the delayed "
        "ticks 66-71 (bid 185.05 x 300, ask 185.07 x 500); a snapshot (get_quote) is delayed too.",
        [
            md_type(),
            {
                **mkt_data("AAPL"),
                "reply": [
                    m.error(
                        "${reqId}",
                        "10167",
                        "Requested market data is not subscribed. Displaying delayed market data.",
                    ),
                    *aapl_line("${reqId}", "185.05", "300", "185.07", "500", data_type="3"),
                ],
            },
            {
                **mkt_data("AAPL", snapshot="1"),
                "reply": [
                    m.market_data_type("${reqId}", "3"),
                    *quote_ticks("${reqId}", "185.05", "300", "185.07", "500", delayed=True),
                    m.tick_snapshot_end("${reqId}"),
                ],
            },
        ],
    )


@recording("market_data_no_permission")
def md_no_permission() -> dict[str, Any]:
    text_354 = (
        "Requested market data is not subscribed. Check API status by selecting the Account menu then under "
        "Management choose Market Data Subscription Manager and/or availability of delayed data."
    )
    return md_transcript(
        "Live data only (delayed_data=off, no reqMarketDataType): ES is refused with error 354 (no "
        "subscription) while AAPL quotes on; a snapshot of ES is refused with 10089 (subscription not "
        "enabled for the API).",
        [
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {**mkt_data("ES"), "reply": [m.error("${reqId}", "354", text_354)]},
            {"sleep": 0.05},
            {"push": [m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1")]},
            {
                **mkt_data("ES", snapshot="1"),
                "reply": [m.error("${reqId}", "10089", NOT_FOR_API_TEXT)],
            },
        ],
        cites=(NOT_FOR_API_CITE,),
    )


@recording("market_data_not_for_api")
def md_not_for_api() -> dict[str, Any]:
    return md_transcript(
        "AAPL's subscription is not enabled for the API: TWS answers 10089, then serves the line "
        "delayed (marketDataType 3, ticks 66-71: bid 185.05 x 300, ask 185.07 x 500).",
        [
            md_type(),
            {
                **mkt_data("AAPL"),
                "reply": [
                    m.error("${reqId}", "10089", NOT_FOR_API_TEXT),
                    *aapl_line("${reqId}", "185.05", "300", "185.07", "500", data_type="3"),
                ],
            },
        ],
        cites=(NOT_FOR_API_CITE, "10089 followed by data: wboayue/rust-ibapi#768 (10089 is a data advisory)"),
    )


@recording("market_data_restored")
def md_restored() -> dict[str, Any]:
    return md_transcript(
        "AAPL quotes; TWS loses IBKR (1100), then restores it with the data lost (1101: 'Your market data "
        "requests have been lost and need to be re-submitted'); the adapter re-requests AAPL on the same "
        "socket and it quotes anew.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"sleep": 0.05},
            {
                "push": [
                    m.error("-1", "1100", "Connectivity between IB and Trader Workstation has been lost.")
                ]
            },
            {"sleep": 0.05},
            {
                "push": [
                    m.error(
                        "-1",
                        "1101",
                        "Connectivity between IB and Trader Workstation has been restored - data lost.",
                    )
                ]
            },
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.31", "400", "185.33", "600")},
        ],
    )


@recording("quotes_cli")
def md_quotes_cli() -> dict[str, Any]:
    return md_transcript(
        "`autotrader quotes ibkr AAPL`: the snapshot first (reqMarketDataType(3), snapshot reqMktData), "
        "then the streaming reqMktData: two quotes.",
        [
            md_type(),
            {**mkt_data("AAPL", snapshot="1"), "reply": snapshot_answer("185.25", "300", "185.27", "500")},
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {"sleep": 0.05},
            {"push": [m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1")]},
        ],
    )


@recording("market_data_bad_tick")
def md_bad_tick() -> dict[str, Any]:
    return md_transcript(
        "AAPL and EUR.USD quote; then an AAPL bid tickPrice whose price is 'Infinity' (the TWS API's "
        "encoding of an infinite double, ibapi's INFINITY_STR, which no price can be) next to a valid EUR.USD ask update; "
        "then a valid AAPL bid. The unreadable tick costs only itself.",
        [
            md_type(),
            {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")},
            {**mkt_data("EUR"), "reply": eur_line("${reqId}")},
            {"sleep": 0.05},
            {
                "push": [
                    m.tick_price("${reqId@AAPL}", "1", "Infinity", "300", "1"),
                    m.tick_price("${reqId@EUR}", "2", "1.08535", "1000000", "1"),
                    m.tick_size("${reqId@EUR}", "3", "1000000"),
                ]
            },
            {"sleep": 0.05},
            {"push": [m.tick_price("${reqId@AAPL}", "1", "185.26", "200", "1")]},
        ],
        cites=(
            "composed variation: a tickPrice with price 'Infinity' (rule 11: one bad item costs only itself)",
        ),
    )


@recording("market_data_quiet")
def md_quiet() -> dict[str, Any]:
    return md_transcript(
        "AAPL quotes once, then the market is quiet: TWS sends nothing but answers every reqCurrentTime "
        "(standing answer), so the line stays as it is.",
        [md_type(), {**mkt_data("AAPL"), "reply": aapl_line("${reqId}", "185.25", "300", "185.27", "500")}],
    )


if __name__ == "__main__":
    raise SystemExit(COMPOSER.main())
