"""``autotrader unknown`` and ``autotrader settle``: orders of unknown outcome in a stopped engine's journal.

* ``autotrader unknown --journal PATH`` lists the orders whose submit or modify outcome
  was unknown when the engine stopped (and every order it left pending).
* ``autotrader settle CID --as rejected|canceled|working --reason TEXT --journal PATH``
  records an operator's decision, audited, in the journal: the next start replays it.

Both work on a **stopped** engine only: the journal's lock refuses while an engine has it
open (for a running engine use ``EngineControl.settle_unknown``, which can also look the
order up again and fetch its fills). Offline there is no broker to ask, so only what the
operator saw at the broker can be recorded: ``look_up`` and ``filled`` are refused (the
next start's recovery looks every pending order up and fetches its fills by itself).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import anyio

from autotrader_core.enums import OrderStatus
from autotrader_core.errors import InvalidOrder
from autotrader_core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderModifyRejected,
    OrderRejected,
    OutcomeResolved,
)
from autotrader_core.journal.sqlite import SqliteJournal
from autotrader_core.models import Order
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import replay_journal
from autotrader_core.resolver import OPERATOR_CODE, SettleAs

__all__ = ["InDoubt", "add_commands", "in_doubt", "settle_offline"]

audit_logger = logging.getLogger("autotrader.audit")

_OFFLINE_CHOICES = (SettleAs.REJECTED.value, SettleAs.CANCELED.value, SettleAs.WORKING.value)
_PENDING = (OrderStatus.PENDING_SUBMIT, OrderStatus.PENDING_MODIFY)


class InDoubt(dict[str, str]):
    """One order in doubt, as plain strings (client order id, symbol, side, quantity, status, operation, reason)."""


async def in_doubt(path: Path) -> list[InDoubt]:
    """The orders a stopped engine's journal leaves in doubt (unknown outcome, or left pending)."""
    journal = SqliteJournal(path, fsync=False)
    await journal.open()
    try:
        oms = OrderManager()
        summary = await replay_journal(journal, oms)
    finally:
        await journal.close()
    rows: list[InDoubt] = []
    for order in oms.open_orders():
        if order.status not in _PENDING:
            continue
        note = summary.in_doubt.get(order.client_order_id)
        rows.append(
            InDoubt(
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side.value,
                quantity=str(order.quantity),
                status=order.status.value,
                operation=note.operation if note else _operation(order),
                since=note.timestamp.isoformat() if note else order.updated_at.isoformat(),
                reason=note.reason if note else "left pending when the engine stopped",
            )
        )
    return rows


async def settle_offline(path: Path, client_order_id: str, as_: str, *, reason: str, by: str) -> Order:
    """Record an operator's settlement of an order in doubt in a stopped engine's journal.

    Raises:
        InvalidOrder: not an order in doubt, a choice that needs the broker, or no reason.
    """
    if as_ not in _OFFLINE_CHOICES:
        raise InvalidOrder(
            f"offline, settle as one of {', '.join(_OFFLINE_CHOICES)}; to look it up or fetch its "
            "fills, start the engine (recovery does both) or use EngineControl.settle_unknown"
        )
    if not reason.strip():
        raise InvalidOrder("settling by hand needs --reason (what the broker shows)")
    journal = SqliteJournal(path)
    await journal.open()
    try:
        oms = OrderManager()
        await replay_journal(journal, oms)
        order = oms.get(client_order_id)
        if order is None or order.status not in _PENDING:
            raise InvalidOrder(f"{client_order_id!r} is not an order in doubt in {path}")
        operation = _operation(order)
        text = f"settled by {by}: {reason}"
        event: OrderEvent
        if as_ == SettleAs.REJECTED.value:
            if operation != "submit":
                raise InvalidOrder("only a submit can be settled as rejected; a modify: --as working")
            event = OrderRejected(client_order_id, reason=text, code=OPERATOR_CODE)
        elif as_ == SettleAs.CANCELED.value:
            event = OrderCanceled(client_order_id, reason=text)
        elif operation == "submit":
            event = OrderAccepted(client_order_id, order.broker_order_id)
        else:
            event = OrderModifyRejected(client_order_id, reason=text)
        audit_logger.warning(
            "control action settle_unknown by %s on journal %s",
            by,
            path,
            extra={
                "event": "control",
                "action": "settle_unknown",
                "actor": by,
                "client_order_id": client_order_id,
                "as_": as_,
                "reason": reason,
            },
        )
        await journal.record_event(event)
        await journal.record_outcome(OutcomeResolved(client_order_id, operation, f"{as_}, {text}"))
        oms.apply(event)
        await journal.flush()
    finally:
        await journal.close()
    return order


def _operation(order: Order) -> str:
    return "modify" if order.status is OrderStatus.PENDING_MODIFY else "submit"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``unknown`` and ``settle`` to the ``autotrader`` command."""
    unknown = sub.add_parser("unknown", help="list orders of unknown outcome in a stopped engine's journal")
    unknown.add_argument("--journal", type=Path, required=True, help="the engine's journal file")
    unknown.add_argument("--json", action="store_true", help="machine-readable output")
    unknown.set_defaults(func=_cmd_unknown)

    settle = sub.add_parser("settle", help="settle an order of unknown outcome by hand (stopped engine)")
    settle.add_argument("client_order_id")
    settle.add_argument(
        "--as", dest="as_", required=True, choices=_OFFLINE_CHOICES, help="what the broker shows"
    )
    settle.add_argument("--reason", required=True, help="what you saw at the broker (audited)")
    settle.add_argument("--by", default="cli", help="who decides (audited; default 'cli')")
    settle.add_argument("--journal", type=Path, required=True, help="the engine's journal file")
    settle.set_defaults(func=_cmd_settle)


def _cmd_unknown(args: argparse.Namespace) -> int:
    rows = anyio.run(in_doubt, args.journal)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no order in doubt")
        return 0
    for row in rows:
        print(
            f"{row['client_order_id']}  {row['operation']:<6} {row['side']} {row['quantity']} {row['symbol']}  "
            f"{row['status']}  since {row['since']}  ({row['reason']})"
        )
    return 0


def _cmd_settle(args: argparse.Namespace) -> int:
    order = anyio.run(
        lambda: settle_offline(args.journal, args.client_order_id, args.as_, reason=args.reason, by=args.by)
    )
    print(
        f"{order.client_order_id}: {order.status.value} (recorded; the next start replays it)",
        file=sys.stdout,
    )
    return 0
