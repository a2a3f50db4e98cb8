"""Raw TWS message fields -> typed records with ``Decimal`` amounts.

ib_async's decoder turns every price and quantity into a ``float``.  We read the
same messages' raw string fields instead (see :mod:`autotrader_ibkr.taps`), so a
price goes from the wire's decimal text straight to ``Decimal``.  Field positions
are those of the server version ib_async negotiates (at most 178; the fixed-position
fields read here are the same for every version from 163 up).

Unset values on the wire are empty strings or IBKR's sentinels
(``1.7976931348623157E308`` for doubles, ``2147483647`` for ints): both map to ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autotrader_core.decimals import decimal_from_wire
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError
from autotrader_core.models import utc_now

__all__ = [
    "BROKER",
    "CommissionRecord",
    "ContractFields",
    "ContractRules",
    "ErrorRecord",
    "ExecutionRecord",
    "OpenOrderRecord",
    "PositionRecord",
    "StatusRecord",
    "exec_base",
    "parse_commission",
    "parse_contract_rules",
    "parse_error",
    "parse_execution",
    "parse_ib_time",
    "parse_open_order",
    "parse_order_status",
    "parse_position",
]

BROKER = "ibkr"
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
UNSET_INT_TEXT = "2147483647"
_UNSET = {"", UNSET_DOUBLE_TEXT, UNSET_INT_TEXT, "9223372036854775807"}


def _get(fields: list[str], index: int) -> str:
    try:
        return fields[index]
    except IndexError:
        raise BrokerProtocolError(
            f"TWS message {fields[0] if fields else '?'} has no field {index}", payload=fields, broker=BROKER
        ) from None


def _dec(fields: list[str], index: int, name: str) -> Decimal:
    value = _get(fields, index)
    if value in _UNSET:
        raise BrokerProtocolError(f"field {name!r} is unset", payload=fields, broker=BROKER)
    return decimal_from_wire(value, field=name, payload=fields, broker=BROKER)


def _opt_dec(fields: list[str], index: int, name: str) -> Decimal | None:
    value = _get(fields, index)
    if value in _UNSET:
        return None
    return decimal_from_wire(value, field=name, payload=fields, broker=BROKER)


ORDER_ACTIONS = frozenset({"BUY", "SELL", "SSHORT"})
"""The order actions TWS sends (``SSHORT``: a short sale, a sell)."""


def _action(fields: list[str], index: int) -> str:
    # Anything else is unreadable, not "a sell": a wrong side would book the position backwards.
    value = _get(fields, index)
    if value not in ORDER_ACTIONS:
        raise BrokerProtocolError(
            f"field 'action' is not BUY, SELL or SSHORT: {value!r}", payload=fields, broker=BROKER
        )
    return value


def side_of_action(action: str) -> OrderSide:
    """An order action → our side; an unknown action is a :class:`BrokerProtocolError`, never a sell."""
    if action == "BUY":
        return OrderSide.BUY
    if action in ("SELL", "SSHORT"):
        return OrderSide.SELL
    raise BrokerProtocolError(f"unknown order action {action!r}", broker=BROKER)


def _int(fields: list[str], index: int, name: str) -> int:
    value = _get(fields, index)
    try:
        return int(value)
    except ValueError:
        raise BrokerProtocolError(
            f"field {name!r} is not an integer", payload=fields, broker=BROKER
        ) from None


@dataclass(frozen=True, slots=True)
class ContractFields:
    """The contract part of execution, position and open-order messages."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade: str
    strike: Decimal | None
    right: str
    multiplier: str
    exchange: str
    currency: str
    local_symbol: str


def _contract(fields: list[str], start: int) -> ContractFields:
    """Read conId, symbol, secType, lastTrade, strike, right, multiplier, exchange, currency, localSymbol."""
    strike = _opt_dec(fields, start + 4, "strike")
    return ContractFields(
        con_id=_int(fields, start, "conId"),
        symbol=_get(fields, start + 1),
        sec_type=_get(fields, start + 2),
        last_trade=_get(fields, start + 3),
        strike=strike if strike else None,
        right="" if _get(fields, start + 5) in ("?", "0") else _get(fields, start + 5),
        multiplier=_get(fields, start + 6),
        exchange=_get(fields, start + 7),
        currency=_get(fields, start + 8),
        local_symbol=_get(fields, start + 9),
    )


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """EXECUTION_DATA (11): one trade."""

    req_id: int
    """-1 for a live execution, the request id for a ``reqExecutions`` answer."""
    order_id: int
    contract: ContractFields
    exec_id: str
    time: datetime
    account: str
    side: str
    """``BOT`` or ``SLD``."""
    shares: Decimal
    price: Decimal
    perm_id: int
    client_id: int
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    last_liquidity: int
    time_text: str = ""
    """The time stamp as TWS sent it."""
    time_unreadable: bool = False
    """The stamp could not be read: ``time`` is the receive time (the adapter alerts)."""

    @property
    def base_id(self) -> str:
        """The execution's identity: a correction repeats it with only the last part changed."""
        return exec_base(self.exec_id)


def exec_base(exec_id: str) -> str:
    """``execId`` without the part after its last ``.``, which TWS changes in a correction."""
    head, dot, _revision = exec_id.rpartition(".")
    return head if dot else exec_id


def parse_execution(
    fields: list[str], default_tz: str = "UTC", *, received_at: datetime | None = None
) -> ExecutionRecord:
    """Parse an execDetails message (msg id 11, server >= 136: no version field).

    A time stamp in a form we cannot read never costs the fill: the record gets the
    receive time and ``time_unreadable`` (the caller alerts).
    """
    side = _get(fields, 18)
    if side not in ("BOT", "SLD"):
        raise BrokerProtocolError(f"unknown execution side {side!r}", payload=fields, broker=BROKER)
    liquidity = _get(fields, 30) if len(fields) > 30 else ""
    stamp = _get(fields, 15)
    try:
        time, unreadable = parse_ib_time(stamp, default_tz), False
    except BrokerProtocolError:
        time, unreadable = received_at or utc_now(), True
    return ExecutionRecord(
        req_id=_int(fields, 1, "reqId"),
        order_id=_int(fields, 2, "orderId"),
        contract=_contract(fields, 3),
        exec_id=_get(fields, 14),
        time=time,
        account=_get(fields, 16),
        side=side,
        shares=_dec(fields, 19, "shares"),
        price=_dec(fields, 20, "price"),
        perm_id=_int(fields, 21, "permId"),
        client_id=_int(fields, 22, "clientId"),
        cum_qty=_dec(fields, 24, "cumQty"),
        avg_price=_dec(fields, 25, "avgPrice"),
        order_ref=_get(fields, 26),
        last_liquidity=int(liquidity) if liquidity.isdigit() else 0,
        time_text=stamp,
        time_unreadable=unreadable,
    )


@dataclass(frozen=True, slots=True)
class CommissionRecord:
    """COMMISSION_REPORT (59): the commission of one execution."""

    exec_id: str
    commission: Decimal
    currency: str
    realized_pnl: Decimal | None


def parse_commission(fields: list[str]) -> CommissionRecord:
    """Parse a commissionReport message (msg id 59, version 1)."""
    return CommissionRecord(
        exec_id=_get(fields, 2),
        commission=_dec(fields, 3, "commission"),
        currency=_get(fields, 4),
        realized_pnl=_opt_dec(fields, 5, "realizedPNL"),
    )


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """ORDER_STATUS (3): cumulative state of one order."""

    order_id: int
    status: str
    filled: Decimal
    remaining: Decimal
    avg_fill_price: Decimal | None
    perm_id: int
    client_id: int
    why_held: str


def parse_order_status(fields: list[str]) -> StatusRecord:
    """Parse an orderStatus message (msg id 3, server >= 136: no version field)."""
    avg = _opt_dec(fields, 5, "avgFillPrice")
    return StatusRecord(
        order_id=_int(fields, 1, "orderId"),
        status=_get(fields, 2),
        filled=_dec(fields, 3, "filled"),
        remaining=_dec(fields, 4, "remaining"),
        avg_fill_price=avg if avg else None,
        perm_id=_int(fields, 6, "permId"),
        client_id=_int(fields, 9, "clientId"),
        why_held=_get(fields, 10) if len(fields) > 10 else "",
    )


@dataclass(frozen=True, slots=True)
class OpenOrderRecord:
    """The fixed-position head of OPEN_ORDER (5): terms of one working order."""

    order_id: int
    contract: ContractFields
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    account: str
    order_ref: str
    client_id: int
    perm_id: int
    status: str = ""
    """The order state's status (``Submitted``, ``Inactive``…); after variable-length parts of
    the message, so it is taken from ib_async's decoded ``OrderState`` (see :mod:`.taps`)."""


def parse_open_order(fields: list[str]) -> OpenOrderRecord:
    """Parse the head of an openOrder message (msg id 5, server >= 145: no version field)."""
    return OpenOrderRecord(
        order_id=_int(fields, 1, "orderId"),
        contract=_contract(fields, 2),
        action=_action(fields, 13),
        quantity=_dec(fields, 14, "totalQuantity"),
        order_type=_get(fields, 15),
        limit_price=_opt_dec(fields, 16, "lmtPrice"),
        aux_price=_opt_dec(fields, 17, "auxPrice"),
        tif=_get(fields, 18),
        account=_get(fields, 20),
        order_ref=_get(fields, 23),
        client_id=_int(fields, 24, "clientId"),
        perm_id=_int(fields, 25, "permId"),
    )


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """POSITION_DATA (61): one position of one account."""

    account: str
    contract: ContractFields
    quantity: Decimal
    avg_cost: Decimal | None


def parse_position(fields: list[str]) -> PositionRecord:
    """Parse a position message (msg id 61, version 3)."""
    return PositionRecord(
        account=_get(fields, 2),
        contract=_contract(fields, 3),
        quantity=_dec(fields, 14, "position"),
        avg_cost=_opt_dec(fields, 15, "avgCost"),
    )


@dataclass(frozen=True, slots=True)
class ContractRules:
    """Trading rules from CONTRACT_DATA (10)."""

    req_id: int
    con_id: int
    min_tick: Decimal
    multiplier: Decimal
    min_size: Decimal | None
    size_increment: Decimal | None


def parse_contract_rules(fields: list[str]) -> ContractRules:
    """Parse the rules of a contractDetails message (msg id 10, server >= 164 layout)."""
    num_sec_ids = _int(fields, 30, "secIdListCount")
    after = 31 + 2 * num_sec_ids + 6  # aggGroup .. stockType
    multiplier = _opt_dec(fields, 14, "multiplier")
    return ContractRules(
        req_id=_int(fields, 1, "reqId"),
        con_id=_int(fields, 12, "conId"),
        min_tick=_dec(fields, 13, "minTick"),
        multiplier=multiplier if multiplier else Decimal(1),
        min_size=_opt_dec(fields, after, "minSize") if len(fields) > after else None,
        size_increment=_opt_dec(fields, after + 1, "sizeIncrement") if len(fields) > after + 1 else None,
    )


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """ERR_MSG (4): an error or notice, about a request/order id or ``-1`` for the connection."""

    req_id: int
    code: int
    message: str
    advanced_reject: str


def parse_error(fields: list[str]) -> ErrorRecord:
    """Parse an error message (msg id 4, version 2; server >= 166 adds advancedOrderRejectJson)."""
    return ErrorRecord(
        req_id=_int(fields, 2, "id"),
        code=_int(fields, 3, "errorCode"),
        message=_get(fields, 4),
        advanced_reject=fields[5] if len(fields) > 5 else "",
    )


def parse_ib_time(text: str, default_tz: str = "UTC") -> datetime:
    """Parse the TWS time stamps seen in executions, as UTC.

    Forms: ``20251124 14:42:39 US/Eastern`` (zone named), ``20251124  14:42:39`` (two
    spaces, no zone: the TWS login's zone, ``default_tz``), ``20251124  14:42:39 US/Eastern``,
    ``20251124-14:42:39`` (UTC: what TWS sends on accounts set to UTC, nautilus_trader #2359,
    ib_async #230) and epoch seconds.

    Raises:
        BrokerProtocolError: Any other form.
    """
    parts = text.split()
    try:
        if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) > 8:
            return datetime.fromtimestamp(int(parts[0]), UTC)
        if len(parts) == 1 and len(parts[0]) == 17 and parts[0][8] == "-":
            return datetime.strptime(parts[0], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        if len(parts) not in (2, 3):
            raise ValueError(text)
        stamp = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")
        zone = ZoneInfo(parts[2] if len(parts) > 2 else default_tz)
    except (ValueError, ZoneInfoNotFoundError):
        if not text:
            return utc_now()
        raise BrokerProtocolError(f"unparseable TWS time {text!r}", payload=text, broker=BROKER) from None
    return stamp.replace(tzinfo=zone).astimezone(UTC)
