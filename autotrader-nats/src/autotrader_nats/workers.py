"""A fixed set of long-lived tasks that run the gateway's commands.

Starting a task per command (``TaskGroup.start_soon``) cost about 45 µs on the development
machine — more than the rest of a command's handling in the gateway. Here ``size`` tasks
are started once, in the caller's task group (so they are cancelled with it), and each
takes the next command when it is free: at most ``size`` commands run at once, the others
wait in arrival order.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable

from anyio.abc import TaskGroup

from autotrader_nats._events import event_factory

__all__ = ["WorkerPool"]

Job = Callable[[], Awaitable[None]]
"""A job: called, then awaited by a worker. It handles its own errors (an error escaping it
ends the worker's task group)."""


class _Worker:
    __slots__ = ("job", "new_event", "wake")

    def __init__(self) -> None:
        self.job: Job | None = None
        self.new_event = event_factory()
        self.wake = self.new_event()


class WorkerPool:
    """Run jobs on ``size`` tasks of a task group, in arrival order, at most ``size`` at once.

    Args:
        size: How many jobs may run at once.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.size = size
        self._backlog: collections.deque[Job] = collections.deque()
        self._idle: list[_Worker] = []

    @property
    def waiting(self) -> int:
        """Jobs submitted and not started yet (every worker busy)."""
        return len(self._backlog)

    def start(self, tg: TaskGroup) -> None:
        """Start the workers in ``tg``; they run until it is cancelled."""
        for _ in range(self.size):
            tg.start_soon(self._work)

    def submit(self, job: Job) -> None:
        """Run ``job`` on a free worker, or after the jobs already waiting."""
        if self._idle and not self._backlog:
            worker = self._idle.pop()
            worker.job = job
            worker.wake.set()
        else:
            self._backlog.append(job)

    async def _work(self) -> None:
        me = _Worker()
        while True:
            job: Job | None
            if self._backlog:
                job = self._backlog.popleft()
            else:
                me.wake = me.new_event()
                self._idle.append(me)
                await me.wake.wait()
                job, me.job = me.job, None
            if job is not None:  # (submit always hands one over with the wake-up)
                await job()
