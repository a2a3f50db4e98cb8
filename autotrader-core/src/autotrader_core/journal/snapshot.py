"""A journal snapshot's body: the OMS state every row up to its ``seq`` folds into.

JSON like every journal row, with the same exactness (:mod:`.codec`: decimals as their
exact strings, timestamps with their offset). It holds the open orders, the most recent
finished ones, their fills, every position, orphan fills, the OMS's counters, and the
trading state when the snapshot was taken (informational: the gateway's KV bucket and
recovery's own halt decide the state after a restart).

Replay (:func:`autotrader_core.recovery.replay_journal`) restores it into a fresh OMS
with :func:`restore` and applies only the rows after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from autotrader_core.journal import codec
from autotrader_core.journal.base import FillKey, Journal
from autotrader_core.journal.codec import CorruptJournal
from autotrader_core.oms import OmsMetrics, OmsState, OrderManager

__all__ = ["FILL_KEY_MARGIN", "FORMAT", "SnapshotBase", "decode_state", "encode_state", "restore"]

FORMAT = 1
"""Version of the snapshot body (inside a schema-2 journal)."""

FILL_KEY_MARGIN = timedelta(days=7)
"""How far before the snapshot's oldest open order (or its last row) compacted fill
identities are loaded. Reconciliation fetches broker fills from 10 minutes
(its ``lookback``) before the oldest open order or the last journal row: any fill it can
see is younger than this horizon, so its identity is loaded and it is never applied twice."""


@dataclass(frozen=True, slots=True)
class SnapshotBase:
    """Where a replay starts after restoring a snapshot."""

    seq: int
    """The last row the snapshot folds; replay applies the rows after it."""
    recorded_at: datetime
    """When that row was written."""
    fill_keys: set[FillKey]
    """Fill identities folded away since :data:`FILL_KEY_MARGIN` before the oldest open
    order or the last row, and the snapshot's own fills."""
    trading_state: str | None
    """The trading state when it was taken (informational)."""


def encode_state(state: OmsState, *, trading_state: str | None = None) -> str:
    """The JSON text of ``state``."""
    return codec.dumps(
        {
            "format": FORMAT,
            "active": [codec.encode_order(o) for o in state.active],
            "completed": [codec.encode_order(o) for o in state.completed],
            "fills": {cid: [codec.encode_fill(f) for f in fills] for cid, fills in state.fills.items()},
            "broker_ids": dict(state.broker_ids),
            "positions": [codec.encode_position(p) for p in state.positions],
            "orphans": [codec.encode_fill(f) for f in state.orphans],
            "metrics": {f.name: _scalar(getattr(state.metrics, f.name)) for f in fields(OmsMetrics)},
            "trading_state": trading_state,
        }
    )


def decode_state(text: str) -> tuple[OmsState, str | None]:
    """The state and trading state :func:`encode_state` wrote.

    Raises:
        CorruptJournal: unknown format or a malformed field.
    """
    body = codec.loads(text)
    if body.get("format") != FORMAT:
        raise CorruptJournal(f"unknown snapshot format {body.get('format')!r} (this code reads {FORMAT})")
    try:
        state = OmsState(
            active=[codec.decode_order(o) for o in body["active"]],
            completed=[codec.decode_order(o) for o in body["completed"]],
            fills={str(cid): [codec.decode_fill(f) for f in fs] for cid, fs in body["fills"].items()},
            broker_ids={str(b): str(c) for b, c in body["broker_ids"].items()},
            positions=[codec.decode_position(p) for p in body["positions"]],
            orphans=[codec.decode_fill(f) for f in body["orphans"]],
            metrics=_decode_metrics(body["metrics"]),
        )
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise CorruptJournal(f"malformed snapshot: {exc!r}") from None
    trading_state = body.get("trading_state")
    return state, None if trading_state is None else str(trading_state)


async def restore(journal: Journal, oms: OrderManager) -> SnapshotBase | None:
    """Load the journal's latest snapshot into the fresh ``oms``; ``None`` when it has none.

    Raises:
        CorruptJournal: the snapshot cannot be decoded.
    """
    stored = await journal.snapshot()
    if stored is None:
        return None
    state, trading_state = decode_state(stored.body)
    oms.restore_state(state)
    try:
        recorded_at = datetime.fromisoformat(stored.recorded_at)
    except ValueError:
        raise CorruptJournal(f"bad snapshot time {stored.recorded_at!r}") from None
    horizon = min([recorded_at, *(o.created_at for o in state.active)]) - FILL_KEY_MARGIN
    keys = await journal.compacted_fill_keys(since=horizon)
    keys.update(f.key for fs in state.fills.values() for f in fs)
    keys.update(f.key for f in state.orphans)
    return SnapshotBase(stored.seq, recorded_at, keys, trading_state)


def _scalar(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _dec(value: object) -> Decimal:
    if not isinstance(value, str):
        raise CorruptJournal(f"snapshot decimal must be a string, got {value!r}")
    return Decimal(value)


def _decode_metrics(b: Mapping[str, Any]) -> OmsMetrics:
    metrics = OmsMetrics()
    for f in fields(OmsMetrics):
        if f.name not in b:
            continue
        current = getattr(metrics, f.name)
        value = b[f.name]
        if isinstance(current, Decimal):
            setattr(metrics, f.name, _dec(value))
        elif isinstance(current, float):
            setattr(metrics, f.name, float(value))
        else:
            setattr(metrics, f.name, int(value))
    return metrics
