"""What the fault tests send and judge: raw commands, their outcomes, the journal's intents, and
the crash suite's loopback broker (``tests-crash/crashkit``) running beside them.

The broker lives in a thread of the test process, so it survives the gateway it serves; it can
hold a request in flight (:class:`~crashkit.holds.HoldPlan`) as a venue's gateway does.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import nats
from anyio.from_thread import BlockingPortal, start_blocking_portal
from autotrader_core.control import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.resend import ResendGuarantee
from autotrader_nats import AccountNames
from autotrader_nats.wire import dumps, loads
from nats_kit import HERE

# The crash suite is not a package: whoever imports this module (or the test modules' names from
# it) finds crashkit through the path set here, whatever order pytest collects them in.
sys.path.insert(0, str(HERE.parents[1] / "tests-crash"))
from crashkit.broker import BrokerServer
from crashkit.holds import HeldRequest, HoldMode, HoldPlan

__all__ = [
    "JOURNAL",
    "NAMES",
    "CrashBroker",
    "HeldRequest",
    "HoldMode",
    "HoldPlan",
    "collect_outcomes",
    "crash_broker",
    "intents",
    "pending",
    "send_submits",
    "settled",
    "snapshots",
    "submit",
    "subscribe_replies",
    "wait_for_a_fold",
]

NAMES = AccountNames(AccountId("paper", "paper", "default"))
JOURNAL = "journal-paper-paper.sqlite3"

T = TypeVar("T")


def intents(data_dir: Path) -> Counter[str]:
    """How many times each client order id was journaled as a new order (write-ahead of every send).

    Intents a compaction folded away count once each (their ids are kept in ``journal_order_ids``).
    """
    with sqlite3.connect(data_dir / JOURNAL) as conn:
        rows = conn.execute(
            "SELECT client_order_id FROM journal WHERE kind = 'intent' "
            "UNION ALL SELECT client_order_id FROM journal_order_ids"
        ).fetchall()
    return Counter(str(r[0]) for r in rows)


def submit(cid: str, qty: str = "0.001", *, once: bool = False) -> bytes:
    """A submit command; ``once``: marked as RemoteEngine marks a fresh one (the gateway may run it unclaimed)."""
    return dumps(
        {
            "id": cid,
            "kind": "submit",
            "owner": "flood",
            "args": {"symbol": "BTCUSDT", "side": "buy", "quantity": qty},
            **({"once": True} if once else {}),
        }
    )


async def subscribe_replies(nc: Any) -> dict[str, dict[str, Any]]:
    """Every command's first reply, by command id, as they come (to ``test.replies.<id>``)."""
    replies: dict[str, dict[str, Any]] = {}

    async def on_reply(msg: Any) -> None:
        body = loads(msg.data)
        replies.setdefault(str(body["id"]), body)

    await nc.subscribe("test.replies.*", cb=on_reply)
    return replies


async def send_submits(nc: Any, cids: list[str], *, once: bool = False) -> None:
    """Publish a submit per id into the command stream, each with its id and reply subject."""
    js = nc.jetstream()
    for cid in cids:
        await js.publish(
            NAMES.commands,
            submit(cid, once=once),
            headers={"Nats-Msg-Id": cid, "At-Reply-To": f"test.replies.{cid}"},
        )


async def collect_outcomes(
    nc: Any, cids: list[str], replies: dict[str, dict[str, Any]], within: float
) -> None:
    """Wait for a settled outcome of every command, asking the gateway (svc.result) for the rest.

    A reply can come while the order's outcome is still being resolved (its request was in
    flight when the gateway died: ``pending_submit``, unknown until the venue's window has
    passed); a strategy then asks again, as it would for a lost reply.
    """
    with anyio.fail_after(within):
        while True:
            waiting = [c for c in cids if c not in replies or pending(replies[c])]
            if not waiting:
                return
            await anyio.sleep(0.2)
            for cid in waiting:
                try:
                    msg = await nc.request(NAMES.service("result"), dumps({"id": cid}), timeout=1)
                except (nats.errors.Error, TimeoutError):
                    continue
                body = loads(msg.data)
                if body.get("ok") is not None:
                    replies[cid] = body


def snapshots(data_dir: Path) -> int:
    """How many snapshots the journal holds (a compaction folds its tail into one)."""
    with sqlite3.connect(data_dir / JOURNAL) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM journal_snapshot").fetchone()
    return int(count)


async def wait_for_a_fold(data_dir: Path, within: float) -> None:
    """Wait until the gateway has compacted its journal at least once.

    Its compactor checks every 50 ms here but folds in a child process it spawns: on a loaded
    machine that start alone can outlast the commands, so the test waits for it rather than
    assuming it happened while they ran.
    """
    with anyio.fail_after(within):
        while await anyio.to_thread.run_sync(snapshots, data_dir) == 0:
            await anyio.sleep(0.05)


def pending(body: dict[str, Any]) -> bool:
    """Whether a reply carries an order whose outcome is still unknown (``pending_submit``)."""
    order = body.get("order")
    return isinstance(order, dict) and order.get("status") == OrderStatus.PENDING_SUBMIT.value


def settled(body: dict[str, Any]) -> bool:
    """Whether a reply carries a market order's final outcome: filled, or known never to have reached the broker."""
    order = body["order"]
    return order["status"] == OrderStatus.FILLED.value or (
        order["status"] == OrderStatus.REJECTED.value
        and "never reached" in (order.get("reject_reason") or "")
    )


@dataclass
class CrashBroker:
    """The crash suite's paper broker, serving on ``127.0.0.1:port`` from a thread of this process."""

    server: BrokerServer
    portal: BlockingPortal

    @property
    def port(self) -> int:
        """Where it listens."""
        return self.server.port

    def call(self, read: Callable[[], T]) -> T:
        """``read()`` on the broker's own thread (its state is not for other threads to touch)."""

        async def run() -> T:
            return read()

        return self.portal.call(run)


@contextmanager
def crash_broker(guarantee: ResendGuarantee | None = None) -> Iterator[CrashBroker]:
    """Serve the crash broker (seed 1, the gateway's ``RemotePaperAdapter`` seed) until the block
    ends; then check it met no internal error and saw no re-send its guarantee does not make safe.

    Args:
        guarantee: The re-send guarantee it gives and enforces (default: an expiry of
            :data:`crashkit.holds.DEFAULT_WINDOW` seconds); the gateway's adapter must declare the same.
    """
    server = BrokerServer(1) if guarantee is None else BrokerServer(1, guarantee=guarantee)
    with start_blocking_portal() as portal:
        serving = portal.start_task_soon(server.serve)
        while server.port == 0:
            time.sleep(0.01)
        yield CrashBroker(server, portal)
        serving.cancel()
    assert server.internal_errors == []
    assert server.resend_violations == []
