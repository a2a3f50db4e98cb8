"""The journal: an append-only, ordered record of every order intent and broker event.

Two layers:

* :class:`JournalStorage` — the small, *blocking* storage interface (open, write one
  batch in one transaction, read a range, keep the journal's identity, close). SQLite implements it
  (:mod:`autotrader_core.journal.sqlite`); a server database can implement it later.
  It is only ever called from the journal's own writer thread, or a worker thread.
* :class:`Journal` — the async front the engine talks to. It numbers records in the
  order the OMS applies them, hands them to one writer thread that commits them in
  batches (group commit), and makes the caller wait for durability only where the
  ``sync`` policy says so:

  ``"intent"`` (default)
      order intents, cancel and modify requests are durable *before* the request
      leaves (write-ahead); broker events are committed in the background, in batches.
      A crash can lose the last events, never an intent that was sent: the broker
      still has those events and reconciliation fetches them on restart.
  ``"every"``
      every record is durable before the engine goes on (slowest, nothing to re-fetch).
  ``"off"``
      nothing waits; batches are committed in the background (fastest; a crash may
      lose the last intents too, which reconciliation then adopts from the broker).

A journal belongs to one broker in one environment (:mod:`.identity`): opened for an
engine it records the adapter's name and environment the first time, and refuses with
:class:`~autotrader_core.errors.ConfigurationError` to be opened for another one, before
anything is replayed or sent.

Whether "durable" means *fsynced* (survives power loss) or *written to the OS*
(survives the process being killed) is the storage's setting (``fsync=``).
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import anyio.to_thread

from autotrader_core.adapter import OrderChange
from autotrader_core.errors import AutotraderError, ConfigurationError
from autotrader_core.events import OrderEvent, OutcomeResolved, OutcomeUnknown
from autotrader_core.journal import codec
from autotrader_core.journal.identity import JournalIdentity, check_identity
from autotrader_core.models import Order, OrderReport, utc_now
from autotrader_core.resiliency.dead_letter import DeadLetter

__all__ = [
    "SYNC_MODES",
    "FillKey",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStorage",
    "RecordKind",
    "StoredRow",
    "StoredSnapshot",
    "SyncMode",
]

logger = logging.getLogger(__name__)

SyncMode = Literal["intent", "every", "off"]
"""When the caller waits for a record to be durable (see the module docstring)."""
SYNC_MODES: tuple[SyncMode, ...] = ("intent", "every", "off")

RecordKind = Literal[
    "intent", "cancel_request", "modify_request", "event", "report", "dead_letter", "outcome"
]
"""What a journal row holds."""


class JournalError(AutotraderError):
    """The journal cannot record (disk full, database locked, closed): nothing is sent."""


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row as storage keeps it: the body is JSON text (see :mod:`.codec`)."""

    seq: int
    kind: str
    client_order_id: str | None
    recorded_at: str
    """ISO 8601 UTC time the row was appended."""
    body: str


FillKey = tuple[str, str, str]
"""A fill's identity, ``(broker, symbol, trade_id)`` (:attr:`~autotrader_core.models.Fill.key`)."""


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """The state every row up to ``seq`` folds into, as storage keeps it (see :mod:`autotrader_core.snapshots`)."""

    seq: int
    recorded_at: str
    """ISO 8601 UTC time of the last row it folds (replay's ``last_recorded_at``)."""
    body: str
    """JSON text (:mod:`autotrader_core.journal.snapshot`)."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One decoded journal record, as replay sees it."""

    seq: int
    kind: str
    client_order_id: str | None
    recorded_at: datetime
    payload: Any
    """``Order`` (intent), ``OrderEvent``, ``OrderReport``, ``DeadLetter``,
    ``OutcomeUnknown | OutcomeResolved`` (outcome), or ``OrderChange | None`` for
    cancel/modify requests."""


class JournalStorage(abc.ABC):
    """Blocking storage behind a :class:`Journal` (called from threads, never the event loop)."""

    @abc.abstractmethod
    def open(self) -> int:
        """Open (creating the schema if needed); return the highest stored ``seq`` (0 if empty)."""

    @abc.abstractmethod
    def write(self, rows: Sequence[StoredRow]) -> None:
        """Append ``rows`` in one transaction; durable (per the storage's fsync setting) on return."""

    @abc.abstractmethod
    def read(self, after_seq: int, limit: int, kinds: Sequence[str] | None = None) -> list[StoredRow]:
        """Up to ``limit`` rows with ``seq > after_seq``, in ``seq`` order (optionally of some kinds)."""

    @abc.abstractmethod
    def identity(self, claim: str | None = None) -> str | None:
        """The identity text stored with the journal (``None`` if none).

        With ``claim``, and no identity stored yet, store ``claim`` first (atomically, and
        durably) and return it. The storage never compares: :class:`Journal` does.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the storage; safe to call twice."""

    # Snapshots and compaction: optional (a storage without them replays every row).
    def read_snapshot(self) -> StoredSnapshot | None:
        """The latest snapshot, or ``None`` (none taken, or not supported)."""
        return None

    def read_fill_keys(self, since: str = "") -> list[FillKey]:
        """The identities of the fills whose rows a compaction removed, of fills at ``since``
        (ISO 8601 UTC) or later."""
        return []

    def has_client_order_id(self, client_order_id: str) -> bool:
        """Whether an intent with this client order id was ever journaled (compacted or not)."""
        return any(row.client_order_id == client_order_id for row in self.read(0, _ALL, ("intent",)))

    def tail_length(self) -> int:
        """Rows a replay reads after the latest snapshot."""
        return len(self.read(0, _ALL))

    def compacted_order(self, client_order_id: str) -> str | None:
        """The final order (JSON) a compaction archived under this id (``None``: none)."""
        return None

    def compact(self, snapshot: StoredSnapshot, archived: Sequence[tuple[str, str]] = ()) -> int:
        """Store ``snapshot`` and drop the rows up to its ``seq``, atomically; return the rows dropped.

        The identities of the fills dropped are kept (:meth:`read_fill_keys`).

        ``archived``: ``(client_order_id, final order JSON)`` of the finished orders the
        snapshot no longer holds, kept for look-ups by id.

        Raises:
            NotImplementedError: this storage keeps every row.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support compaction")


_ALL = 2**62
_STOP = object()
_WAKE = object()


@dataclass(slots=True)
class _Pending:
    seq: int
    kind: str
    client_order_id: str | None
    recorded_at: datetime
    obj: Any


class Journal:
    """Async, ordered, write-ahead journal over a :class:`JournalStorage`.

    Args:
        storage: Where rows go.
        sync: ``"intent"`` (default), ``"every"`` or ``"off"`` (see the module docstring).
        max_batch: Most rows committed in one transaction.
        max_pending: Rows queued but not written before appenders wait (bounded memory).
        identity: The broker and environment this journal is for (optional). When set, the
            journal refuses to be opened for another one even before it stores any identity.

    Use ``async with journal:`` or :meth:`open` / :meth:`close`. The engine opens and
    closes a journal it is given together with its adapter, passing its identity.
    """

    def __init__(
        self,
        storage: JournalStorage,
        *,
        sync: SyncMode = "intent",
        max_batch: int = 5000,
        max_pending: int = 50_000,
        identity: JournalIdentity | None = None,
    ) -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)}, got {sync!r}")
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be at least 1")
        self.storage = storage
        self.sync: SyncMode = sync
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.expected_identity = identity
        """The identity this journal was built for (``None``: whichever it is first opened for)."""
        self._identity: JournalIdentity | None = None
        self._items: collections.deque[_Pending] = collections.deque()
        """Records appended and not taken by the writer yet (the event loop appends, the writer pops)."""
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        """Wake-ups for the writer (and its stop): one per burst of appends, not one per record."""
        self._wake_sent = False
        self._cond = threading.Condition()
        self._seq = 0
        self._durable = 0
        self._history = 0
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._waiters = anyio.CapacityLimiter(64)
        self._async_waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.records_written = 0
        """Rows committed by this journal object (for status displays and benchmarks)."""
        self.commits = 0
        """Transactions committed (records_written / commits = the group-commit batch size)."""
        self.compacting = False
        """True while :func:`autotrader_core.snapshots.compact_journal` works on this journal."""

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._thread is not None

    @property
    def has_history(self) -> bool:
        """True when the storage held records before this journal was opened."""
        return self._history > 0

    @property
    def last_seq(self) -> int:
        """Sequence number of the last record appended (durable or not)."""
        return self._seq

    @property
    def identity(self) -> JournalIdentity | None:
        """The broker and environment the journal belongs to, as read at :meth:`open` (``None``: unknown)."""
        return self._identity

    @property
    def location(self) -> str:
        """Where the journal is kept, for messages (the storage's ``path`` if it has one)."""
        return str(getattr(self.storage, "path", None) or self.storage)

    async def open(self, *, identity: JournalIdentity | None = None) -> None:
        """Open the storage and start the writer thread (reopens after close).

        Args:
            identity: The session this journal is opened for (the engine passes its
                adapter's). A journal that holds no identity yet (new, or written before
                identities existed) records it; one that holds another is refused. Checked
                even when the journal is already open.

        Raises:
            ConfigurationError: the journal belongs to another broker or environment
                (a journal this call opened is closed again), or another open journal
                holds its lock (the message names that process).
            JournalError: the storage cannot be opened.
        """
        wanted = identity or self.expected_identity
        if identity is not None and self.expected_identity is not None:
            check_identity(self.expected_identity, identity, self.location)
        if self.is_open:
            if wanted is not None:
                await self._claim(wanted)
            return
        if self._failure is not None:
            raise JournalError(f"the journal failed earlier: {self._failure}") from self._failure
        self._closed = False
        try:
            last = await anyio.to_thread.run_sync(self.storage.open)
        except ConfigurationError:  # e.g. locked by another process: say so, as itself
            raise
        except Exception as exc:
            raise JournalError(f"cannot open the journal: {exc}") from exc
        try:
            await self._claim(wanted)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.storage.close)
            raise
        self._seq = self._durable = self._history = last
        self._thread = threading.Thread(target=self._writer, name="autotrader-journal", daemon=True)
        self._thread.start()

    async def _claim(self, wanted: JournalIdentity | None) -> None:
        # Reads the stored identity; records ``wanted`` when there is none; refuses a mismatch.
        claim = wanted.encode() if wanted is not None else None
        try:
            stored = await anyio.to_thread.run_sync(self.storage.identity, claim)
        except Exception as exc:
            raise JournalError(f"cannot read the journal's identity: {exc}") from exc
        found = JournalIdentity.decode(stored) if stored is not None else None
        if found is not None and wanted is not None:
            check_identity(found, wanted, self.location)
        self._identity = found

    async def close(self) -> None:
        """Write everything still queued, stop the writer and close the storage."""
        thread = self._thread
        if thread is None or self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await anyio.to_thread.run_sync(thread.join)
        self._thread = None
        await anyio.to_thread.run_sync(self.storage.close)

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- appending -----------------------------------------------------------------------------
    async def record_intent(self, order: Order) -> None:
        """Record a new order before it is sent; durable on return unless ``sync="off"``."""
        # Its terms and state as of now, encoded here: the order changes once it is sent, and
        # encoding it now costs less than copying it for the writer thread to encode later.
        # (Its times left for orjson: the writer thread dumps it, in C: see encode_order.)
        seq = self._append("intent", order.client_order_id, codec.encode_order(order, for_orjson=True))
        if self.sync != "off":
            await self._wait(seq)
        else:
            await self._backpressure(seq)

    async def record_request(
        self, kind: Literal["cancel", "modify"], order: Order, change: OrderChange | None = None
    ) -> None:
        """Record a cancel or modify request before it is sent (write-ahead like an intent)."""
        seq = self._append(f"{kind}_request", order.client_order_id, change)
        if self.sync != "off":
            await self._wait(seq)
        else:
            await self._backpressure(seq)

    async def record_event(self, event: OrderEvent) -> int:
        """Record a broker event just before the OMS applies it (durable at once only for ``"every"``).

        Returns:
            The record's sequence number.
        """
        seq = self._append("event", event.client_order_id, event)
        if self.sync == "every":
            await self._wait(seq)
        else:
            await self._backpressure(seq)
        return seq

    async def record_report(self, report: OrderReport) -> int:
        """Record a broker order report just before the OMS settles an order from it.

        Returns:
            The record's sequence number.
        """
        seq = self._append("report", report.client_order_id, report)
        if self.sync == "every":
            await self._wait(seq)
        else:
            await self._backpressure(seq)
        return seq

    async def record_outcome(self, note: OutcomeUnknown | OutcomeResolved) -> None:
        """Record that an order's outcome became unknown, or was settled (the resolver's notes).

        Durable before returning unless ``sync="off"``: recovery reads them to know which
        orders were in doubt and the stamp bound of their request.
        """
        seq = self._append("outcome", note.client_order_id, note)
        if self.sync != "off":
            await self._wait(seq)
        else:
            await self._backpressure(seq)

    def append(self, letter: DeadLetter) -> None:
        """Persist a dead letter (the :class:`~autotrader_core.resiliency.DeadLetterStore` protocol)."""
        self._append("dead_letter", letter.client_order_id, letter)

    async def flush(self) -> None:
        """Return once every record appended so far is durable."""
        if self._seq > self._durable:
            await self._wait(self._seq)

    def _append(self, kind: str, client_order_id: str | None, obj: Any) -> int:
        if self._thread is None or self._closed:
            raise JournalError("the journal is not open")
        if self._failure is not None:
            raise JournalError(f"the journal cannot write: {self._failure}") from self._failure
        self._seq += 1
        self._items.append(_Pending(self._seq, kind, client_order_id, utc_now(), obj))
        # Waking the writer thread per record made it contend with the event loop for the
        # GIL per record; one wake-up covers every record appended until the writer takes them.
        if not self._wake_sent:
            self._wake_sent = True
            self._queue.put(_WAKE)
        return self._seq

    async def _backpressure(self, seq: int) -> None:
        # Bounded memory: when the writer falls behind, the appender waits for it.
        if seq - self._durable > self.max_pending:
            await self._wait(seq - self.max_pending // 2)

    async def _wait(self, seq: int) -> None:
        if self._durable >= seq:
            return
        loop = _running_asyncio_loop()
        if loop is None:  # another anyio backend (trio): wait in a worker thread
            await anyio.to_thread.run_sync(self._block_until, seq, limiter=self._waiters)
            return
        # asyncio: the writer wakes this task directly (no worker thread per waiter).
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._durable < seq and self._failure is None:
                self._async_waiters.append((seq, loop, future))
            else:
                future.set_result(None)
        await future
        if self._durable < seq:
            raise JournalError(f"the journal cannot write: {self._failure}") from self._failure

    def _block_until(self, seq: int) -> None:
        with self._cond:
            while self._durable < seq and self._failure is None:
                self._cond.wait()
            if self._durable < seq:
                raise JournalError(f"the journal cannot write: {self._failure}") from self._failure

    # -- the writer thread ----------------------------------------------------------------------
    def _writer(self) -> None:
        # Invariant: a wake-up is queued whenever records wait and the flag is down; the flag
        # goes down only right after a wake-up is taken, before looking at the records, so a
        # record appended meanwhile is either seen now or sends a new wake-up.
        stop = False
        items = self._items
        while True:
            if not items:
                if stop:
                    return
                token = self._queue.get()
                if token is _STOP:
                    stop = True  # what was appended before the stop is still written
                self._wake_sent = False
                continue
            batch = [items.popleft() for _ in range(min(self.max_batch, len(items)))]
            try:
                rows = [_encode(item) for item in batch]
                self.storage.write(rows)
            except BaseException as exc:
                logger.critical("journal write failed; no more orders can be sent: %s", exc)
                with self._cond:
                    self._failure = exc
                    self._cond.notify_all()
                    ready, self._async_waiters = self._async_waiters, []
                _wake(ready)
                return
            with self._cond:
                self._durable = durable = rows[-1].seq
                self.records_written += len(rows)
                self.commits += 1
                self._cond.notify_all()
                ready = [w for w in self._async_waiters if w[0] <= durable]
                if ready:
                    self._async_waiters = [w for w in self._async_waiters if w[0] > durable]
            _wake(ready)

    # -- reading -----------------------------------------------------------------------------------
    async def entries(
        self, *, after_seq: int = 0, kinds: Sequence[str] | None = None, chunk: int = 10_000
    ) -> AsyncIterator[JournalEntry]:
        """Decoded records in order (read in chunks, in a worker thread).

        Raises:
            CorruptJournal: a row cannot be decoded.
        """
        while True:
            rows = await anyio.to_thread.run_sync(self.storage.read, after_seq, chunk, kinds)
            for row in rows:
                yield decode_row(row)
            if len(rows) < chunk:
                return
            after_seq = rows[-1].seq

    async def snapshot(self) -> StoredSnapshot | None:
        """The latest snapshot stored by a compaction (``None``: replay starts at the first row)."""
        return await anyio.to_thread.run_sync(self.storage.read_snapshot)

    async def compacted_fill_keys(self, since: datetime | None = None) -> set[FillKey]:
        """Identities of the fills folded into a snapshot (at ``since`` or later: reconciliation
        asks the broker for no older fill, so no older one can be applied twice)."""
        bound = "" if since is None else since.astimezone(UTC).isoformat()
        return set(await anyio.to_thread.run_sync(self.storage.read_fill_keys, bound))

    async def has_client_order_id(self, client_order_id: str) -> bool:
        """Whether this client order id was ever used by an intent here, even one compacted away."""
        return await anyio.to_thread.run_sync(self.storage.has_client_order_id, client_order_id)

    async def tail_length(self) -> int:
        """Rows a restart replays after the latest snapshot."""
        return await anyio.to_thread.run_sync(self.storage.tail_length)

    async def oldest_tail_time(self) -> datetime | None:
        """When the first row after the latest snapshot was written (``None``: no such row)."""
        stored = await self.snapshot()
        rows = await anyio.to_thread.run_sync(self.storage.read, stored.seq if stored else 0, 1)
        return decode_row(rows[0]).recorded_at if rows else None

    async def compacted_order(self, client_order_id: str) -> Order | None:
        """The final state of a finished order a compaction archived (``None``: not archived).

        Raises:
            CorruptJournal: the archived order cannot be decoded.
        """
        body = await anyio.to_thread.run_sync(self.storage.compacted_order, client_order_id)
        return None if body is None else codec.decode_order(codec.loads(body))

    async def store_snapshot(self, snapshot: StoredSnapshot, archived: Sequence[tuple[str, str]] = ()) -> int:
        """Store a snapshot and drop the rows it folds (one transaction); return the rows dropped.

        Use :func:`autotrader_core.snapshots.compact_journal`, which builds the snapshot.

        Raises:
            JournalError: the journal is not open, or the storage failed (nothing changed).
        """
        if not self.is_open:
            raise JournalError("the journal is not open")
        try:
            return await anyio.to_thread.run_sync(self.storage.compact, snapshot, archived)
        except Exception as exc:
            raise JournalError(f"compaction failed, the journal is unchanged: {exc}") from exc

    async def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter ever recorded, oldest first."""
        return [e.payload async for e in self.entries(kinds=("dead_letter",))]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sync={self.sync} seq={self._seq} durable={self._durable}>"


def _running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    # One call per event loop for the whole batch: each call_soon_threadsafe writes to the
    # loop's self-pipe, a system call during which this thread lets the GIL go, so a call per
    # waiter cost the writer a system call and a GIL hand-off per order under load.
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _, loop, future in waiters:
        by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting any more
            loop.call_soon_threadsafe(_resolve, futures)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a cancelled waiter has gone
            future.set_result(None)


def _encode(item: _Pending) -> StoredRow:
    obj = item.obj
    kind = item.kind
    if kind == "intent":
        body = obj  # encoded when recorded (see record_intent)
    elif kind == "event":
        body = codec.encode_event(obj)
    elif kind == "report":
        body = codec.encode_report(obj)
    elif kind == "dead_letter":
        body = codec.encode_dead_letter(obj)
    elif kind == "outcome":
        body = codec.encode_outcome(obj)
    else:  # cancel/modify request
        body = {} if obj is None else codec.encode_change(obj)
    return StoredRow(
        item.seq, kind, item.client_order_id, codec.timestamp(item.recorded_at), codec.dumps(body)
    )


def decode_row(row: StoredRow) -> JournalEntry:
    """Decode one stored row.

    Raises:
        CorruptJournal: unknown kind or a malformed body.
    """
    body = codec.loads(row.body)
    kind = row.kind
    payload: Any
    if kind == "intent":
        payload = codec.decode_order(body)
    elif kind == "event":
        payload = codec.decode_event(body)
    elif kind == "report":
        payload = codec.decode_report(body)
    elif kind == "dead_letter":
        payload = codec.decode_dead_letter(body)
    elif kind == "outcome":
        payload = codec.decode_outcome(body)
    elif kind == "cancel_request":
        payload = None
    elif kind == "modify_request":
        payload = codec.decode_change(body)
    else:
        raise codec.CorruptJournal(f"unknown journal record kind {kind!r} (seq {row.seq})")
    try:
        recorded = datetime.fromisoformat(row.recorded_at)
    except ValueError:
        raise codec.CorruptJournal(f"bad recorded_at {row.recorded_at!r} (seq {row.seq})") from None
    return JournalEntry(row.seq, kind, row.client_order_id, recorded, payload)
