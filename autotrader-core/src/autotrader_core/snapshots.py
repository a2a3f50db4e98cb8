"""Bounded restart time: snapshot the journal's state and compact the rows it folds.

A restart replays the journal (about 50,000 rows/s); a process that runs for months would
replay months. :func:`compact_journal` folds the rows up to the last committed one into
a **snapshot** (the OMS state they rebuild: open orders, recent finished ones, their
fills, positions, orphan fills, counters) stored in the same SQLite file, and deletes
them in the **same transaction**. The next replay restores the snapshot and applies
only the rows after it.

How the snapshot is built decides whether it can be trusted: it is **not** the live
OMS (whose state may run one record behind or ahead of the journal while a request
awaits its commit) but the journal's own rows replayed — by the very
:func:`~autotrader_core.recovery.replay_journal` a restart runs — into a scratch OMS,
so "snapshot + tail" is by construction what a full replay gives. The fold runs in a
worker thread with its own event loop: a long tail never stalls the caller's loop.

What compaction never forgets:

* every client order id ever journaled (``journal_order_ids``): an id is never used
  twice (:meth:`~autotrader_core.journal.Journal.has_client_order_id`), and the final
  state of each finished order the snapshot drops stays readable by its id
  (:meth:`~autotrader_core.journal.Journal.compacted_order`), never replayed;
* every fill identity, with the fill's time (``journal_fill_keys``): a restart loads
  those from :data:`~autotrader_core.journal.snapshot.FILL_KEY_MARGIN` before its oldest
  open order or its last row — reconciliation asks the broker for no older fill — so it
  never applies a fill twice, and its cost does not grow with the journal's age;
* dead letters (kept as rows).

A kill at any instant leaves either the old rows or the new snapshot (one SQLite
transaction); both replay to the same state. The account gateway compacts periodically
(:class:`CompactionPolicy`); a script can call :func:`compact_journal` on an open journal.

The fold costs CPU in proportion to the tail (about 20 µs per row on the 2-core development
machine: a minute of a busy gateway's rows is seconds of replay). In a worker thread it shares
the process's one interpreter lock with the event loop; ``separate_process=True`` runs the
fold *and* its transaction in a child process instead (:mod:`autotrader_core.compaction_worker`,
SQLite journals), so the event loop only waits for it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.abc
import anyio.to_thread

from autotrader_core.journal import codec
from autotrader_core.journal import snapshot as journal_snapshot
from autotrader_core.journal.base import Journal, JournalError, StoredSnapshot
from autotrader_core.journal.sqlite import SqliteStorage
from autotrader_core.models import Instrument, utc_now
from autotrader_core.oms import OrderManager
from autotrader_core.recovery import ReplaySummary, replay_journal

__all__ = [
    "CompactionPolicy",
    "CompactionResult",
    "compact_journal",
    "fold",
    "run_compactor",
    "snapshot_of",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What one compaction did."""

    snapshot_seq: int
    """The last row folded (0: nothing to fold)."""
    rows_folded: int
    """Rows replayed into the snapshot (the tail a restart would have replayed)."""
    rows_deleted: int
    open_orders: int
    seconds: float


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """When to compact (checked every ``check_interval`` seconds by :func:`run_compactor`).

    Args:
        max_records: Compact once the tail after the last snapshot holds this many rows.
        max_age: ... or once its oldest row is this old (``None``: by count only).
        keep_completed: Finished orders kept in the snapshot (the newest ones), besides
            every open order; older ones live on only as ids.
        check_interval: Seconds between checks.
    """

    max_records: int = 100_000
    max_age: timedelta | None = timedelta(days=1)
    keep_completed: int = 1_000
    check_interval: float = 60.0

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.keep_completed < 0 or self.check_interval <= 0:
            raise ValueError("max_records ≥ 1, keep_completed ≥ 0 and check_interval > 0 are required")

    async def due(self, journal: Journal, *, now: datetime | None = None) -> bool:
        """Whether the journal's tail is long or old enough to compact."""
        tail = await journal.tail_length()
        if tail >= self.max_records:
            return True
        if tail == 0 or self.max_age is None:
            return False
        oldest = await journal.oldest_tail_time()
        return oldest is not None and (now or utc_now()) - oldest >= self.max_age


async def compact_journal(
    journal: Journal,
    *,
    instruments: Iterable[Instrument],
    keep_completed: int = 1_000,
    trading_state: str | None = None,
    separate_process: bool = False,
    up_to_seq: int | None = None,
) -> CompactionResult:
    """Fold every committed row into a snapshot and delete those rows (one transaction).

    Args:
        journal: An open journal (its writer keeps appending meanwhile: rows committed
            after the fold started are simply part of the next tail).
        instruments: The session's instruments, as the engine gives its OMS (positions
            value fees and multipliers by them: the snapshot's must equal the engine's).
        keep_completed: Finished orders the snapshot keeps (the newest).
        trading_state: Recorded in the snapshot (informational).
        separate_process: Fold and store in a child process
            (:mod:`autotrader_core.compaction_worker`): the same rows, snapshot and
            transaction, without this process's interpreter. SQLite journals only.
        up_to_seq: Fold no row after this one (``None``: every committed row). A
            caller that still needs newer rows in the tail sets it (the NATS gateway: rows
            whose events it has not yet stored in its event stream).

    Raises:
        JournalError: the journal is closed, the storage failed, or the child process
            failed; the journal is unchanged.
        CorruptJournal: a row cannot be decoded (nothing is deleted).
    """
    if not journal.is_open:
        raise JournalError("the journal is not open")
    if journal.compacting:  # two folds racing would each delete what the other replays
        raise JournalError("a compaction of this journal is already running")
    if separate_process and not isinstance(journal.storage, SqliteStorage):
        raise JournalError(
            f"a compaction in a separate process needs a SQLite journal, not {type(journal.storage).__name__}"
        )
    journal.compacting = True
    try:
        if separate_process:
            return await _compact_in_child(
                journal, list(instruments), keep_completed, trading_state, up_to_seq
            )
        return await _compact(journal, list(instruments), keep_completed, trading_state, up_to_seq)
    finally:
        journal.compacting = False


def snapshot_of(
    oms: OrderManager, summary: ReplaySummary, trading_state: str | None
) -> StoredSnapshot | None:
    """The snapshot a fold (:func:`fold`) makes, or ``None`` when it folded no new row."""
    if summary.last_seq <= summary.snapshot_seq:
        return None
    recorded = (summary.last_recorded_at or utc_now()).isoformat()
    body = journal_snapshot.encode_state(oms.export_state(), trading_state=trading_state)
    return StoredSnapshot(summary.last_seq, recorded, body)


async def _compact(
    journal: Journal,
    instruments: list[Instrument],
    keep_completed: int,
    trading_state: str | None,
    up_to_seq: int | None,
) -> CompactionResult:
    started = time.monotonic()
    oms, summary = await anyio.to_thread.run_sync(fold, journal, instruments, keep_completed, up_to_seq)
    snapshot = snapshot_of(oms, summary, trading_state)
    if snapshot is None:
        return CompactionResult(
            summary.snapshot_seq, 0, 0, oms.open_order_count(), time.monotonic() - started
        )
    deleted = await journal.store_snapshot(snapshot, oms.archived)
    result = CompactionResult(
        summary.last_seq, summary.records, deleted, oms.open_order_count(), time.monotonic() - started
    )
    _log(result)
    return result


async def _compact_in_child(
    journal: Journal,
    instruments: list[Instrument],
    keep_completed: int,
    trading_state: str | None,
    up_to_seq: int | None,
) -> CompactionResult:
    storage = journal.storage
    assert isinstance(storage, SqliteStorage)  # compact_journal checked
    started = time.monotonic()
    request = {
        "path": str(storage.path),
        "fsync": storage.fsync,
        "parent_pid": os.getpid(),
        "keep_completed": keep_completed,
        "trading_state": trading_state,
        "up_to_seq": up_to_seq,
        "instruments": [codec.encode_instrument(i) for i in instruments],
    }
    returncode, stdout, stderr = await _run_child(json.dumps(request).encode())
    if returncode != 0:
        why = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise JournalError(
            f"the compaction process failed (exit {returncode}: {why[0]}); the journal is unchanged"
        )
    try:
        reply = json.loads(stdout)
        result = CompactionResult(
            int(reply["snapshot_seq"]),
            int(reply["rows_folded"]),
            int(reply["rows_deleted"]),
            int(reply["open_orders"]),
            time.monotonic() - started,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"the compaction process answered {stdout[:200]!r}: {exc}") from None
    if result.rows_folded:
        _log(result)
    return result


async def _run_child(request: bytes) -> tuple[int, bytes, bytes]:
    """Run the compaction worker on ``request``; its exit status, stdout and stderr.

    Cancelled, it kills the child and waits for it: a child left running could commit after this
    process has closed the journal, under another engine replaying it. (``anyio.run_process``
    leaks a child whose start is interrupted by the cancellation: the start is shielded here.)
    """
    # The child imports the very modules this process runs (the same sys.path).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    with anyio.CancelScope(shield=True):
        process = await anyio.open_process(
            [sys.executable, "-m", "autotrader_core.compaction_worker"], env=env
        )
    async with process:  # on the way out, cancelled: kill, then wait
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        outputs: list[bytes] = [b"", b""]

        async def drain(stream: anyio.abc.ByteReceiveStream, index: int) -> None:
            async for chunk in stream:
                outputs[index] += chunk

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stdout, 0)
            tg.start_soon(drain, process.stderr, 1)
            await process.stdin.send(request)
            await process.stdin.aclose()
            returncode = await process.wait()
    return returncode, outputs[0], outputs[1]


def _log(result: CompactionResult) -> None:
    logger.info(
        "journal compacted up to row %d: %d rows folded, %d deleted, %d open orders kept (%.2f s)",
        result.snapshot_seq,
        result.rows_folded,
        result.rows_deleted,
        result.open_orders,
        result.seconds,
    )


class _FoldingOms(OrderManager):
    """The fold's OMS: a finished order it drops (beyond ``keep_completed``) is archived, not lost."""

    def __init__(self, keep_completed: int) -> None:
        super().__init__(completed_retention=keep_completed)
        self.archived: list[tuple[str, str]] = []

    def _evict(self, cid: str) -> None:
        order = self.get(cid)
        if order is not None:
            self.archived.append((cid, codec.dumps(codec.encode_order(order))))
        super()._evict(cid)


def fold(
    journal: Journal, instruments: list[Instrument], keep_completed: int, up_to_seq: int | None = None
) -> tuple[_FoldingOms, ReplaySummary]:
    """Replay the journal into a scratch OMS, as a restart would (blocking: call it from a
    worker thread or a process of its own; it runs its own event loop); ``up_to_seq``: no
    record after this one.

    Returns:
        The OMS (its ``archived`` holds the finished orders it dropped) and the replay summary.
    """
    oms = _FoldingOms(keep_completed)
    oms.set_instruments(instruments)

    async def replay() -> ReplaySummary:
        return await replay_journal(journal, oms, up_to_seq=up_to_seq)

    return oms, anyio.run(replay)


async def run_compactor(
    journal: Journal,
    policy: CompactionPolicy | None = None,
    *,
    instruments: Callable[[], Iterable[Instrument]],
    trading_state: Callable[[], str | None] | None = None,
    separate_process: bool = False,
    up_to_seq: Callable[[], int | None] | None = None,
) -> None:
    """Compact ``journal`` whenever ``policy`` says it is due; runs until cancelled.

    A failed compaction is logged and tried again at the next check: the journal is
    unchanged by it, and trading goes on. ``separate_process``: as for :func:`compact_journal`;
    ``up_to_seq``: asked at each compaction for the last row it may fold (``None``: every row).
    """
    policy = policy or CompactionPolicy()
    while True:
        await anyio.sleep(policy.check_interval)
        try:
            if await policy.due(journal):
                await compact_journal(
                    journal,
                    instruments=instruments(),
                    keep_completed=policy.keep_completed,
                    trading_state=trading_state() if trading_state is not None else None,
                    separate_process=separate_process,
                    up_to_seq=up_to_seq() if up_to_seq is not None else None,
                )
        except Exception:
            logger.exception("journal compaction failed; the journal is unchanged, retried later")
