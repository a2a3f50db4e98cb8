"""One thread writes the gateway's command log, so the event loop never waits on a worker per batch.

The gateway claims commands before executing them and records their replies behind. Done
through a worker thread per call (``anyio.to_thread``), each call cost a thread hand-off in
each direction — measured as the largest single cost of the gateway's event loop under load.
Here one long-lived thread takes jobs from a queue, like the engine's journal writer: what
queued up meanwhile is written in one transaction, a claim's answer comes back through a
future, and a reply's record is not waited for at all (it is written behind the reply, as
before; a reply lost with a crash leaves its command "started", answered "outcome unknown").
A submit the gateway knows to be new is not claimed: it is recorded once, behind, with its
reply (:meth:`CommandLogWriter.record`), and its caller told when that record is durable.

Needs the asyncio backend (the gateway's, through nats-py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import anyio.to_thread

from autotrader_nats.command_log import CommandLog, CommandRecord, Executed

__all__ = ["CommandLogWriter"]

logger = logging.getLogger(__name__)

Claim = tuple[str, str, str, str | None]
"""``(command id, kind, owner, target client order id)``."""

_STOP = object()
_REPLIES = object()


class CommandLogWriter:
    """The single writer of a :class:`~autotrader_nats.command_log.CommandLog` (open it first).

    Use :meth:`start`, then :meth:`claim_many` / :meth:`finish`, then :meth:`stop`, which
    writes whatever is still queued before it returns.
    """

    def __init__(self, log: CommandLog) -> None:
        self.log = log
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._replies: list[tuple[str, bytes]] = []
        self._done: list[tuple[Executed, asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._replies_lock = threading.Lock()
        self.transactions = 0
        """Transactions committed (claims + replies per transaction = the batching achieved)."""

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="autotrader-command-log", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        """Write everything queued, then end the thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            await anyio.to_thread.run_sync(thread.join)

    async def claim_many(self, commands: list[Claim]) -> list[CommandRecord | None]:
        """:meth:`CommandLog.claim_many <autotrader_nats.command_log.CommandLog.claim_many>`,
        durable on return, batched with whatever else is queued.

        Raises:
            RuntimeError: the writer is not running.
            sqlite3.Error: the log could not be written (nothing may execute then).
        """
        return await self.claim_many_soon(commands)

    def claim_many_soon(self, commands: list[Claim]) -> asyncio.Future[list[CommandRecord | None]]:
        """Queue the claims now; the future resolves once they are durable (as :meth:`claim_many`).

        Claims are written in the order they were queued, so a claim queued later finds
        every one queued before it. A claim that cannot be written fails its future, whether
        the log failed before it was queued or while writing it: its waiter learns it one way.

        The future fails with:
            RuntimeError: the writer is not running.
            sqlite3.Error: the log could not be written (nothing may execute then).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[CommandRecord | None]] = loop.create_future()
        if self._thread is None:
            future.set_exception(RuntimeError("the command log writer is not running"))
        elif self._failure is not None:
            future.set_exception(self._failure)
        else:
            self._queue.put((commands, loop, future))
        return future

    def finish(self, command_id: str, reply: bytes) -> None:
        """Record the reply given to ``command_id`` (written behind; returns at once)."""
        with self._replies_lock:  # one wake-up of the writer for every reply until it takes them
            self._replies.append((command_id, reply))
            first = len(self._replies) + len(self._done) == 1
        if first:
            self._queue.put(_REPLIES)

    def record(self, executed: Executed, durable: Callable[[], None]) -> None:
        """Record a command executed without a claim, with its reply (written behind; returns at once).

        ``durable`` is called on this event loop once the record is committed (never, if the
        log cannot be written): the gateway acknowledges the command then, so a command whose
        record a crash lost comes again.
        """
        loop = asyncio.get_running_loop()
        with self._replies_lock:
            self._done.append((executed, loop, durable))
            first = len(self._replies) + len(self._done) == 1
        if first:
            self._queue.put(_REPLIES)

    def _run(self) -> None:
        stop = False
        while not stop:
            jobs = [self._queue.get()]
            while True:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            claims: list[Claim] = []
            waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[Any]]] = []
            with self._replies_lock:
                replies, self._replies = self._replies, []
                done, self._done = self._done, []
            for job in jobs:
                if job is _STOP:
                    stop = True
                elif job is _REPLIES:
                    continue
                else:
                    commands, loop, future = job
                    waiters.append((len(commands), loop, future))
                    claims += commands
            if not claims and not replies and not done:
                continue
            # Outcomes first (see CommandLog.write_batch): a reply queued before a claim of the
            # same command (a redelivery) answers it; its own claim was answered long before.
            try:
                records = self.log.write_batch(claims, replies, [executed for executed, _, _ in done])
            except BaseException as exc:
                logger.critical("command log write failed; no more commands can execute: %s", exc)
                self._failure = exc
                for _, loop, future in waiters:
                    _settle(loop, future, None, exc)
                continue
            self.transactions += 1
            if done:
                _call_back(done)
            start = 0
            for count, loop, future in waiters:
                _settle(loop, future, records[start : start + count], None)
                start += count


def _call_back(done: list[tuple[Executed, asyncio.AbstractEventLoop, Callable[[], None]]]) -> None:
    # One wake-up of each event loop for the whole batch.
    by_loop: dict[asyncio.AbstractEventLoop, list[Callable[[], None]]] = {}
    for _, loop, durable in done:
        by_loop.setdefault(loop, []).append(durable)
    for loop, callbacks in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting any more
            loop.call_soon_threadsafe(_call_all, callbacks)


def _call_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


def _settle(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    def settle() -> None:
        if future.done():  # its caller was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting any more
        loop.call_soon_threadsafe(settle)
