"""Every transcript message TWS would send, decoded by IBKR's own Python client (``ibapi``).

The fake TWS replays transcripts composed from layouts read off ib_async's decoder; this
check holds them against the reference decoder instead: ``ibapi.decoder.Decoder`` (from
``ibapi-stable`` 10.50.2, a PyPI re-upload of IBKR's TWS API client, pinned in the
``[test]`` extra) at the transcript's server version. A message fails when the decoder
runs out of fields (missing), leaves fields unread (extra), meets text where it reads a
number (a shifted field), makes no callback, or knows no such message. What it cannot see:
two fields of the same type swapped, since the decoder reads by position and type only.

Decoded message by message, as ``ibapi.client.EClient.run`` does at server versions below
protobuf (201): the message id is split off, the rest goes to the decoder's handler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from autotrader_core.errors import BrokerProtocolError
from autotrader_ibkr.parsing import (
    ContractFields,
    parse_commission,
    parse_contract_rules,
    parse_error,
    parse_execution,
    parse_open_order,
    parse_order_status,
    parse_position,
)
from ibapi.const import UNSET_DECIMAL, UNSET_DOUBLE, UNSET_INTEGER  # type: ignore[import-untyped]
from ibapi.decoder import Decoder  # type: ignore[import-untyped]
from ibapi.utils import BadMessage  # type: ignore[import-untyped]
from ibapi.wrapper import EWrapper  # type: ignore[import-untyped]
from ibkr_fake_tws import TRANSCRIPTS

FILES = sorted(TRANSCRIPTS.rglob("*.json"))
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


class _Calls(EWrapper):  # type: ignore[misc]
    """Records which callbacks the decoder made, with their arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.args: list[tuple[Any, ...]] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name in ("calls", "args") or not callable(getattr(EWrapper, name, None)):
            return super().__getattribute__(name)
        calls: list[str] = super().__getattribute__("calls")
        args: list[tuple[Any, ...]] = super().__getattribute__("args")

        def record(*values: Any, **_: Any) -> None:
            calls.append(name)
            args.append(values)

        return record


def server_messages(transcript: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """Every server -> client message of a transcript, with where it sits."""
    for i, message in enumerate(transcript.get("on_connect", [])):
        yield f"on_connect[{i}]", message
    for number, special in transcript.get("connections", {}).items():
        for i, message in enumerate(special.get("on_connect", [])):
            yield f"connections[{number}].on_connect[{i}]", message
    for request, answers in transcript.get("answers", {}).items():
        for a, answer in enumerate(answers):
            for i, message in enumerate(answer.get("reply", [])):
                yield f"answers.{request}[{a}].reply[{i}]", message
    for s, step in enumerate(transcript.get("script", [])):
        for key in ("reply", "push"):
            for i, message in enumerate(step.get(key, [])):
                yield f"script[{s}].{key}[{i}]", message


def decode(decoder: Decoder, fields: list[str]) -> str | None:
    """Run one message through ibapi's decoder; the problem found, or ``None``."""
    concrete = [_PLACEHOLDER.sub("1", field) for field in fields]
    msg_id, rest = int(concrete[0]), tuple(field.encode() for field in concrete[1:])
    handle = decoder.msgId2handleInfo.get(msg_id)
    if handle is None:
        return f"message id {msg_id} unknown to ibapi"
    calls: list[str] = decoder.wrapper.calls
    calls.clear()
    decoder.wrapper.args.clear()
    if handle.wrapperMeth is not None:  # decoded by the callback's signature: counts must match
        expected = len(handle.wrapperParams) - 1  # without self; the version field replaces msgId
        if len(rest) - 1 != expected:
            return f"message {msg_id}: {len(rest) - 1} fields after the version, ibapi expects {expected}"
        try:
            decoder.interpretWithSignature(rest, handle)
        except (ValueError, TypeError) as exc:
            return f"message {msg_id}: a field has the wrong type for ibapi ({exc})"
    else:
        remaining = iter(rest)
        try:
            handle.processMeth(decoder, remaining)
        except BadMessage as exc:
            return f"message {msg_id}: missing fields ({exc})"
        except (ValueError, TypeError) as exc:  # a field shifted into a number's place
            return f"message {msg_id}: a field has the wrong type for ibapi ({exc})"
        extra = list(remaining)
        if extra:
            return f"message {msg_id}: {len(extra)} extra field(s) {extra[:5]!r}"
    if not calls:
        return f"message {msg_id}: ibapi decoded it but made no callback"
    return None


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TRANSCRIPTS)) for p in FILES])
def test_every_message_decodes_field_exact_with_ibapi(path: Path) -> None:
    transcript = json.loads(path.read_text())
    decoder = Decoder(_Calls(), int(transcript["server_version"]))
    problems = [
        f"{where}: {problem}"
        for where, message in server_messages(transcript)
        if (problem := decode(decoder, message)) is not None
    ]
    assert problems == []


def test_the_check_catches_a_missing_and_an_extra_field() -> None:
    decoder = Decoder(_Calls(), 178)
    status = ["3", "7", "Submitted", "0", "10", "0", "1", "0", "0", "1", "", "1.7976931348623157E308"]
    assert decode(decoder, status) is None
    assert "missing" in (decode(decoder, status[:-1]) or "")
    assert "extra" in (decode(decoder, [*status, "x"]) or "")
    assert "expects" in (decode(decoder, ["9", "1"]) or "")  # nextValidId without its id
    shifted = [status[0], status[1], *status[3:], "x"]  # status text dropped: filled is now "0"...
    assert decode(decoder, shifted) is not None


# ------------------------------------------------------------------ our parsers agree with ibapi
# Decoding by count and type cannot see two same-typed fields swapped. For the messages whose
# fields the adapter reads by position (parsing.py), compare each value it reads with the value
# ibapi's decoder put in the same named field.


def _num(value: Decimal | None, theirs: float | Decimal | int) -> bool:
    """Our Decimal (``None`` = unset) equals ibapi's number (its unset sentinels included)."""
    if value is None:
        return theirs in (UNSET_DOUBLE, UNSET_DECIMAL, UNSET_INTEGER, 0)
    return Decimal(str(theirs)) == value if isinstance(theirs, float) else Decimal(theirs) == value


def _contract_agrees(ours: ContractFields, theirs: Any) -> list[str]:
    pairs = {
        "conId": (ours.con_id, theirs.conId),
        "symbol": (ours.symbol, theirs.symbol),
        "secType": (ours.sec_type, theirs.secType),
        "currency": (ours.currency, theirs.currency),
        "localSymbol": (ours.local_symbol, theirs.localSymbol),
        "exchange": (ours.exchange, theirs.exchange),
        "multiplier": (ours.multiplier, theirs.multiplier),
    }
    return [f"contract.{k}: ours {a!r} ibapi {b!r}" for k, (a, b) in pairs.items() if str(a) != str(b)]


def compare(fields: list[str], args: tuple[Any, ...]) -> list[str]:
    """Where our parser of this message reads another value than ibapi's decoder."""
    msg_id = fields[0]
    diffs: list[str] = []
    if msg_id == "3":
        ours_s = parse_order_status(fields)
        order_id, status, filled, remaining, avg, perm, _parent, _last, client, why, _cap = args
        pairs: dict[str, tuple[Any, Any]] = {
            "orderId": (ours_s.order_id, order_id),
            "status": (ours_s.status, status),
            "permId": (ours_s.perm_id, perm),
            "clientId": (ours_s.client_id, client),
            "whyHeld": (ours_s.why_held, why),
        }
        diffs += [f"{k}: ours {a!r} ibapi {b!r}" for k, (a, b) in pairs.items() if a != b]
        for name, ours_n, theirs_n in (
            ("filled", ours_s.filled, filled),
            ("remaining", ours_s.remaining, remaining),
            ("avgFillPrice", ours_s.avg_fill_price, avg),
        ):
            if not _num(ours_n, theirs_n):
                diffs.append(f"{name}: ours {ours_n} ibapi {theirs_n}")
    elif msg_id == "4":
        ours_e = parse_error(fields)
        req_id, _time, code, text, advanced = args
        if (ours_e.req_id, ours_e.code, ours_e.message, ours_e.advanced_reject) != (
            req_id,
            code,
            text,
            advanced,
        ):
            diffs.append(f"error: ours {ours_e} ibapi {(req_id, code, text, advanced)}")
    elif msg_id == "5":
        ours_o = parse_open_order(fields)
        order_id, contract, order, _state = args
        pairs = {
            "orderId": (ours_o.order_id, order_id),
            "action": (ours_o.action, order.action),
            "orderType": (ours_o.order_type, order.orderType),
            "tif": (ours_o.tif, order.tif),
            "account": (ours_o.account, order.account),
            "orderRef": (ours_o.order_ref, order.orderRef),
            "clientId": (ours_o.client_id, order.clientId),
            "permId": (ours_o.perm_id, order.permId),
        }
        diffs += [f"{k}: ours {a!r} ibapi {b!r}" for k, (a, b) in pairs.items() if a != b]
        for name, ours_n, theirs_n in (
            ("totalQuantity", ours_o.quantity, order.totalQuantity),
            ("lmtPrice", ours_o.limit_price, order.lmtPrice),
            ("auxPrice", ours_o.aux_price, order.auxPrice),
        ):
            if not _num(ours_n, theirs_n):
                diffs.append(f"{name}: ours {ours_n} ibapi {theirs_n}")
        diffs += _contract_agrees(ours_o.contract, contract)
    elif msg_id == "10":
        ours_r = parse_contract_rules(fields)
        _req, details = args
        if ours_r.con_id != details.contract.conId:
            diffs.append(f"conId: ours {ours_r.con_id} ibapi {details.contract.conId}")
        for name, ours_n, theirs_n in (
            ("minTick", ours_r.min_tick, details.minTick),
            ("minSize", ours_r.min_size, details.minSize),
            ("sizeIncrement", ours_r.size_increment, details.sizeIncrement),
        ):
            if not _num(ours_n, theirs_n):
                diffs.append(f"{name}: ours {ours_n} ibapi {theirs_n}")
    elif msg_id == "11":
        ours_x = parse_execution(fields)
        _req, contract, execution = args
        pairs = {
            "execId": (ours_x.exec_id, execution.execId),
            "time": (ours_x.time_text, execution.time),
            "acctNumber": (ours_x.account, execution.acctNumber),
            "side": (ours_x.side, execution.side),
            "orderId": (ours_x.order_id, execution.orderId),
            "permId": (ours_x.perm_id, execution.permId),
            "clientId": (ours_x.client_id, execution.clientId),
            "orderRef": (ours_x.order_ref, execution.orderRef),
            "lastLiquidity": (ours_x.last_liquidity, execution.lastLiquidity),
        }
        diffs += [f"{k}: ours {a!r} ibapi {b!r}" for k, (a, b) in pairs.items() if a != b]
        for name, ours_n, theirs_n in (
            ("shares", ours_x.shares, execution.shares),
            ("price", ours_x.price, execution.price),
            ("cumQty", ours_x.cum_qty, execution.cumQty),
            ("avgPrice", ours_x.avg_price, execution.avgPrice),
        ):
            if not _num(ours_n, theirs_n):
                diffs.append(f"{name}: ours {ours_n} ibapi {theirs_n}")
        diffs += _contract_agrees(ours_x.contract, contract)
    elif msg_id == "59":
        ours_c = parse_commission(fields)
        (report,) = args
        if (ours_c.exec_id, ours_c.currency) != (report.execId, report.currency) or not _num(
            ours_c.commission, report.commissionAndFees
        ):
            diffs.append(f"commission: ours {ours_c} ibapi {report}")
    elif msg_id == "61":
        ours_p = parse_position(fields)
        account, contract, quantity, avg_cost = args
        if (
            ours_p.account != account
            or not _num(ours_p.quantity, quantity)
            or not _num(ours_p.avg_cost, avg_cost)
        ):
            diffs.append(f"position: ours {ours_p} ibapi {(account, quantity, avg_cost)}")
        diffs += _contract_agrees(ours_p.contract, contract)
    return diffs


_COMPARED = frozenset({"3", "4", "5", "10", "11", "59", "61"})
_CORRUPT_VALUES = frozenset({"bad_execution_between_fills.json", "TC-BAD-01.json", "TC-BAD-02.json"})
"""Transcripts with a deliberately unreadable value (right layout): our parser refuses that item."""


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TRANSCRIPTS)) for p in FILES])
def test_our_parsers_read_what_ibapi_reads(path: Path) -> None:
    transcript = json.loads(path.read_text())
    decoder = Decoder(_Calls(), int(transcript["server_version"]))
    diffs: list[str] = []
    for where, message in server_messages(transcript):
        if message[0] not in _COMPARED:
            continue
        concrete = [_PLACEHOLDER.sub("1", field) for field in message]
        assert decode(decoder, concrete) is None
        try:
            diffs += [f"{where}: {d}" for d in compare(concrete, decoder.wrapper.args[0])]
        except BrokerProtocolError as exc:
            if path.name not in _CORRUPT_VALUES:
                diffs.append(f"{where}: our parser refuses it: {exc}")
    assert diffs == []


def test_the_comparison_sees_two_swapped_fields() -> None:
    """Swap filled and remaining of an orderStatus: same types, so only the comparison sees it."""
    decoder = Decoder(_Calls(), 178)
    status = ["3", "7", "Submitted", "4", "6", "0", "1", "0", "0", "1", "", "1.7976931348623157E308"]
    swapped = [*status[:3], status[4], status[3], *status[5:]]
    assert decode(decoder, swapped) is None
    ours = parse_order_status(status)  # what a parser reading the other layout would see
    assert (ours.filled, ours.remaining) == (Decimal(4), Decimal(6))
    assert compare(status, decoder.wrapper.args[0]) != []
