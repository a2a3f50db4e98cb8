"""Builders for TWS -> client messages in the layout of server version 178.

Used only by ``ibkr_compose_recordings.py`` to write the transcript files that the fake
TWS replays; tests read the JSON files, not this module.

Layout source: the field order ib_async 2.1.0's ``decoder.py`` reads at server
version 178 (the highest it negotiates, ``Client.MaxClientVersion``), which mirrors
IBKR's reference ``ibapi`` decoder (``EDecoder.processOpenOrderMsg`` and friends).
Field *values* follow orders captured verbatim from IB Gateway and published as test
fixtures by wboayue/rust-ibapi (``src/orders/common/test_data.rs``): unset doubles are
``1.7976931348623157E308``, unset ints ``2147483647`` or empty, option right ``?`` when
none, ``None`` as the empty delta-neutral order type followed by the 8 delta-neutral
fields. Checked field by field: the composed openOrder equals that capture everywhere
except for the capture's ``faProfile`` (sent below server version 177 only) and the
peg fields of version 170+ that the capture lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

UNSET_DOUBLE = "1.7976931348623157E308"
UNSET_INT = "2147483647"
SERVER_VERSION = 178


@dataclass(frozen=True)
class Contract:
    """The contract fields most messages repeat."""

    con_id: str
    symbol: str
    sec_type: str
    last_trade: str = ""
    strike: str = "0"
    right: str = "?"
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""

    def short(self) -> list[str]:
        """conId .. tradingClass without primaryExchange (position, execDetails, openOrder)."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade,
            self.strike,
            self.right,
            self.multiplier,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]


AAPL = Contract("265598", "AAPL", "STK", local_symbol="AAPL", trading_class="NMS", primary_exchange="NASDAQ")
EURUSD = Contract(
    "12087792", "EUR", "CASH", exchange="IDEALPRO", local_symbol="EUR.USD", trading_class="EUR.USD"
)
ES = Contract(
    "495512563",
    "ES",
    "FUT",
    last_trade="20251219",
    multiplier="50",
    exchange="CME",
    local_symbol="ESZ5",
    trading_class="ES",
)
AAPL_OPT = Contract(
    "767269823",
    "AAPL",
    "OPT",
    last_trade="20251219",
    strike="200",
    right="C",
    multiplier="100",
    exchange="SMART",
    local_symbol="AAPL  251219C00200000",
    trading_class="AAPL",
)


def managed_accounts(accounts: str) -> list[str]:
    """MANAGED_ACCTS (15), version 1."""
    return ["15", "1", accounts]


def next_valid_id(order_id: str) -> list[str]:
    """NEXT_VALID_ID (9), version 1."""
    return ["9", "1", order_id]


def error(req_id: str, code: str, text: str, advanced: str = "") -> list[str]:
    """ERR_MSG (4), version 2; server >= 166 appends advancedOrderRejectJson."""
    return ["4", "2", req_id, code, text, advanced]


def position(account: str, c: Contract, qty: str, avg_cost: str) -> list[str]:
    """POSITION_DATA (61), version 3."""
    return ["61", "3", account, *c.short(), qty, avg_cost]


def position_end() -> list[str]:
    """POSITION_END (62), version 1."""
    return ["62", "1"]


def open_order_end() -> list[str]:
    """OPEN_ORDER_END (53), version 1."""
    return ["53", "1"]


def completed_orders_end() -> list[str]:
    """COMPLETED_ORDERS_END (102): no version field."""
    return ["102"]


def account_value(key: str, value: str, currency: str, account: str) -> list[str]:
    """ACCT_VALUE (6), version 2."""
    return ["6", "2", key, value, currency, account]


def account_time(stamp: str) -> list[str]:
    """ACCT_UPDATE_TIME (8), version 1."""
    return ["8", "1", stamp]


def account_download_end(account: str) -> list[str]:
    """ACCT_DOWNLOAD_END (54), version 1."""
    return ["54", "1", account]


def account_update_multi(req_id: str, account: str, key: str, value: str, currency: str) -> list[str]:
    """ACCOUNT_UPDATE_MULTI (73), version 1 (model code empty)."""
    return ["73", "1", req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: str) -> list[str]:
    """ACCOUNT_UPDATE_MULTI_END (74), version 1."""
    return ["74", "1", req_id]


def exec_details_end(req_id: str) -> list[str]:
    """EXECUTION_DATA_END (55), version 1."""
    return ["55", "1", req_id]


def contract_details(
    req_id: str,
    c: Contract,
    *,
    min_tick: str,
    long_name: str,
    min_size: str = "1",
    size_increment: str = "1",
    order_types: str = "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,DAY,GTC,IOC,LMT,MKT,STP,STPLMT",
    valid_exchanges: str = "SMART,AMEX,NYSE,CBOE,ISE,NASDAQ",
    time_zone: str = "US/Eastern",
    market_rule_ids: str = "26",
    stock_type: str = "COMMON",
    suggested_size_increment: str | None = None,
    industry: tuple[str, str, str] = ("", "", ""),
    sec_ids: tuple[tuple[str, str], ...] = (),
    trading_hours: str = "",
    liquid_hours: str = "",
) -> list[str]:
    """CONTRACT_DATA (10): server >= 164 sends no version field and no mdSizeMultiplier.

    Layout checked against a contractDetails reply captured from IB Gateway (AAPL) and
    published by rust-ibapi (``src/transport/sync_tests.rs``).
    """
    secs = [value for pair in sec_ids for value in pair]
    return [
        "10",
        req_id,
        c.symbol,
        c.sec_type,
        c.last_trade,
        c.strike,
        c.right,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,  # marketName
        c.trading_class,
        c.con_id,
        min_tick,
        c.multiplier,
        order_types,
        valid_exchanges,
        "1",  # priceMagnifier
        "0",  # underConId
        long_name,
        c.primary_exchange,
        c.last_trade[:6],  # contractMonth
        *industry,  # industry, category, subcategory
        time_zone,
        trading_hours,
        liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        str(len(sec_ids)),  # numSecIds
        *secs,
        "1",  # aggGroup
        c.symbol if c.sec_type in ("OPT", "FUT") else "",  # underSymbol
        "STK" if c.sec_type == "OPT" else ("IND" if c.sec_type == "FUT" else ""),  # underSecType
        market_rule_ids,
        c.last_trade,  # realExpirationDate
        stock_type if c.sec_type == "STK" else "",
        min_size,
        size_increment,
        suggested_size_increment or size_increment,
    ]


def contract_details_end(req_id: str) -> list[str]:
    """CONTRACT_DATA_END (52), version 1."""
    return ["52", "1", req_id]


def order_status(
    order_id: str,
    status: str,
    filled: str,
    remaining: str,
    avg_fill_price: str,
    perm_id: str,
    last_fill_price: str,
    client_id: str,
    why_held: str = "",
) -> list[str]:
    """ORDER_STATUS (3): server >= 136 sends no version field (``whyHeld`` e.g. ``locate``)."""
    return [
        "3",
        order_id,
        status,
        filled,
        remaining,
        avg_fill_price,
        perm_id,
        "0",  # parentId
        last_fill_price,
        client_id,
        why_held,
        UNSET_DOUBLE,  # mktCapPrice
    ]


def exec_details(
    req_id: str,
    order_id: str,
    c: Contract,
    *,
    exec_id: str,
    time: str,
    account: str,
    exchange: str,
    side: str,
    shares: str,
    price: str,
    perm_id: str,
    client_id: str,
    cum_qty: str,
    avg_price: str,
    order_ref: str,
    last_liquidity: str,
) -> list[str]:
    """EXECUTION_DATA (11): server >= 136 sends no version; 178 adds pendingPriceRevision."""
    return [
        "11",
        req_id,
        order_id,
        *c.short(),
        exec_id,
        time,
        account,
        exchange,
        side,
        shares,
        price,
        perm_id,
        client_id,
        "0",  # liquidation
        cum_qty,
        avg_price,
        order_ref,
        "",  # evRule
        UNSET_DOUBLE,  # evMultiplier
        "",  # modelCode
        last_liquidity,
        "0",  # pendingPriceRevision (server >= 178)
    ]


def commission_report(
    exec_id: str, commission: str, currency: str, realized_pnl: str = UNSET_DOUBLE
) -> list[str]:
    """COMMISSION_REPORT (59), version 1."""
    return ["59", "1", exec_id, commission, currency, realized_pnl, UNSET_DOUBLE, UNSET_INT]


def open_order(
    order_id: str,
    c: Contract,
    *,
    action: str,
    quantity: str,
    order_type: str,
    lmt_price: str,
    aux_price: str,
    tif: str,
    account: str,
    order_ref: str,
    client_id: str,
    perm_id: str,
    status: str,
    shares_allocation: str = "100",
) -> list[str]:
    """OPEN_ORDER (5) for a plain single-leg order, server version 178 (135 fields).

    ``shares_allocation``: the share count in the deprecated sharesAllocation field
    (``<permId>.0/<account>/<shares>``, not read by ib_async); most transcripts keep the
    ``100`` of the capture they follow.

    Server >= 145 sends no version field; >= 177 drops faProfile; 159/160/162/170
    add duration, postToAts, autoCancelParent and the peg-best/mid fields.
    """
    head = [
        "5",
        order_id,
        *c.short(),
        action,
        quantity,
        order_type,
        lmt_price,
        aux_price,
        tif,
        "",  # ocaGroup
        account,
        "",  # openClose
        "0",  # origin (customer)
        order_ref,
        client_id,
        perm_id,
        "0",  # outsideRth
        "0",  # hidden
        "0",  # discretionaryAmt
        "",  # goodAfterTime
        f"{perm_id}.0/{account}/{shares_allocation}",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    middle = [
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        "0",  # shortSaleSlot
        "",  # designatedLocation
        "-1",  # exemptCode
        "0",  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        UNSET_INT,  # displaySize
        "0",  # blockOrder
        "0",  # sweepToFill
        "0",  # allOrNone
        "",  # minQty
        "3",  # ocaType
        "0",  # eTradeOnly
        "0",  # firmQuoteOnly
        "",  # nbboPriceCap
        "0",  # parentId
        "0",  # triggerMethod
        "",  # volatility
        "0",  # volatilityType
        "None",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        # TWS writes "None" as the empty delta-neutral type, which is truthy for the decoder,
        # so the 8 delta-neutral fields follow (as in the IB Gateway captures).
        "0",  # deltaNeutralConId
        "",  # deltaNeutralSettlingFirm
        "",  # deltaNeutralClearingAccount
        "",  # deltaNeutralClearingIntent
        "?",  # deltaNeutralOpenClose
        "0",  # deltaNeutralShortSale
        "0",  # deltaNeutralShortSaleSlot
        "",  # deltaNeutralDesignatedLocation
        "0",  # continuousUpdate
        "0",  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        "0",  # numLegs
        "0",  # numOrderLegs
        "0",  # numSmartComboRoutingParams
        UNSET_INT,  # scaleInitLevelSize
        UNSET_INT,  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "0",  # optOutSmartRouting
        "",  # clearingAccount
        "IB",  # clearingIntent
        "0",  # notHeld
        "0",  # deltaNeutralContract present
        "",  # algoStrategy
        "0",  # solicited
        "0",  # whatIf
    ]
    state = [
        status,
        *[UNSET_DOUBLE] * 9,  # margin before/change/after
        "",  # commission
        "",  # minCommission
        "",  # maxCommission
        "",  # commissionCurrency
        "",  # warningText
        "0",  # randomizeSize
        "0",  # randomizePrice
        "0",  # numConditions
    ]
    tail = [
        "None",  # adjustedOrderType
        UNSET_DOUBLE,  # triggerPrice
        UNSET_DOUBLE,  # trailStopPrice
        UNSET_DOUBLE,  # lmtPriceOffset
        UNSET_DOUBLE,  # adjustedStopPrice
        UNSET_DOUBLE,  # adjustedStopLimitPrice
        UNSET_DOUBLE,  # adjustedTrailingAmount
        "0",  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        "0",  # cashQty
        "1",  # dontUseAutoPriceForHedge
        "0",  # isOmsContainer
        "0",  # discretionaryUpToLimitPrice
        "0",  # usePriceMgmtAlgo
        "",  # duration (>= 159)
        "",  # postToAts (>= 160)
        "0",  # autoCancelParent (>= 162)
        "",  # minTradeQty (>= 170)
        "",  # minCompeteSize
        UNSET_DOUBLE,  # competeAgainstBestOffset
        UNSET_DOUBLE,  # midOffsetAtWhole
        UNSET_DOUBLE,  # midOffsetAtHalf
    ]
    fields = head + middle + state + tail
    assert len(fields) == 135, len(fields)
    return fields


def completed_order(
    c: Contract,
    *,
    action: str,
    quantity: str,
    order_type: str,
    lmt_price: str,
    tif: str,
    account: str,
    order_ref: str,
    perm_id: str,
    status: str,
    filled: str,
    completed_time: str,
    completed_status: str,
) -> list[str]:
    """COMPLETED_ORDER (101) for a plain single-leg order, server version 178 (no version field).

    Layout: ib_async 2.1.0 ``decoder.completedOrder`` (>= 177: no faProfile; >= 170: the
    peg-best/mid fields), checked against ibapi's ``processCompletedOrderMsg`` by
    ``test_ibkr_decoder_crosscheck.py``.
    """
    head = [
        "101",
        *c.short(),
        action,
        quantity,
        order_type,
        lmt_price,
        "0.0",  # auxPrice
        tif,
        "",  # ocaGroup
        account,
        "",  # openClose
        "0",  # origin
        order_ref,
        perm_id,
        "0",  # outsideRth
        "0",  # hidden
        "0",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
    ]
    middle = [
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        "0",  # shortSaleSlot
        "",  # designatedLocation
        "-1",  # exemptCode
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        UNSET_INT,  # displaySize
        "0",  # sweepToFill
        "0",  # allOrNone
        "",  # minQty
        "3",  # ocaType
        "0",  # triggerMethod
        "",  # volatility
        "0",  # volatilityType
        "None",  # deltaNeutralOrderType ("None" is truthy: the 4 completed-order DN fields follow)
        "",  # deltaNeutralAuxPrice
        "0",  # deltaNeutralConId
        "0",  # deltaNeutralShortSale
        "0",  # deltaNeutralShortSaleSlot
        "",  # deltaNeutralDesignatedLocation
        "0",  # continuousUpdate
        "0",  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # comboLegsDescrip
        "0",  # numLegs
        "0",  # numOrderLegs
        "0",  # numSmartComboRoutingParams
        UNSET_INT,  # scaleInitLevelSize
        UNSET_INT,  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "IB",  # clearingIntent
        "0",  # notHeld
        "0",  # deltaNeutralContract present
        "",  # algoStrategy
        "0",  # solicited
        status,
        "0",  # randomizeSize
        "0",  # randomizePrice
        "0",  # numConditions
    ]
    tail = [
        UNSET_DOUBLE,  # trailStopPrice
        UNSET_DOUBLE,  # lmtPriceOffset
        UNSET_DOUBLE,  # cashQty
        "1",  # dontUseAutoPriceForHedge
        "0",  # isOmsContainer
        "",  # autoCancelDate
        filled,  # filledQuantity
        "0",  # refFuturesConId
        "0",  # autoCancelParent
        "Not an insider or substantial shareholder",  # shareholder
        "0",  # imbalanceOnly
        "0",  # routeMarketableToBbo
        UNSET_INT,  # parentPermId
        completed_time,
        completed_status,
        "",  # minTradeQty (>= 170)
        "",  # minCompeteSize
        UNSET_DOUBLE,  # competeAgainstBestOffset
        UNSET_DOUBLE,  # midOffsetAtWhole
        UNSET_DOUBLE,  # midOffsetAtHalf
    ]
    return head + middle + tail


# ---------------------------------------------------------------------------- market data
# Layouts: protocols-market-data.md §5.5/5.6 (ib_async 2.1.0 decoder.py, ibapi EDecoder at 178).
# The per-message version of tickPrice/tickSize/tickString is not documented (§7 item 19); both
# decoders read and discard it. 6 is the value wboayue/rust-ibapi's mock-gateway market-data fixtures
# use (src/testdata, "type(1), version(6), request_id, tick_type, price, size, attrib_mask").
def tick_price(req_id: str, tick_type: str, price: str, size: str, attr_mask: str = "0") -> list[str]:
    """TICK_PRICE (1): one side's price with that side's size (1 bid, 2 ask, 4 last; 66/67/68 delayed)."""
    return ["1", "6", req_id, tick_type, price, size, attr_mask]


def tick_size(req_id: str, tick_type: str, size: str) -> list[str]:
    """TICK_SIZE (2): a size alone (0 bid, 3 ask, 5 last, 8 volume; 69/70/71 delayed)."""
    return ["2", "6", req_id, tick_type, size]


def tick_string(req_id: str, tick_type: str, value: str) -> list[str]:
    """TICK_STRING (46): e.g. 45 last timestamp (epoch seconds), 32/33 bid/ask exchange."""
    return ["46", "6", req_id, tick_type, value]


def tick_snapshot_end(req_id: str) -> list[str]:
    """TICK_SNAPSHOT_END (57): a snapshot request is complete."""
    return ["57", "1", req_id]


def market_data_type(req_id: str, data_type: str) -> list[str]:
    """MARKET_DATA_TYPE (58): 1 live, 2 frozen, 3 delayed, 4 delayed frozen, per request."""
    return ["58", "1", req_id, data_type]


def tick_req_params(req_id: str, min_tick: str, bbo_exchange: str, snapshot_permissions: str) -> list[str]:
    """TICK_REQ_PARAMS (81, no version): sent after a subscribed reqMktData."""
    return ["81", req_id, min_tick, bbo_exchange, snapshot_permissions]


def tick_by_tick_last(
    req_id: str, time: str, price: str, size: str, exchange: str, mask: str = "0", conditions: str = ""
) -> list[str]:
    """TICK_BY_TICK (99, no version), type 2 AllLast: one trade with its epoch-seconds time."""
    return ["99", req_id, "2", time, price, size, mask, exchange, conditions]


def current_time(epoch_seconds: str) -> list[str]:
    """CURRENT_TIME (49): the answer to reqCurrentTime."""
    return ["49", "1", epoch_seconds]
