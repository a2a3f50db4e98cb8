"""Where a light-load round trip through the account gateway goes, hop by hop.

``nats_gateway.py`` gives the added latency of a remote order; this script splits one order's
submit → reply into its hops, with a timestamp taken in each process on the machine's
monotonic clock (``time.perf_counter`` is ``CLOCK_MONOTONIC`` on Linux, one clock for every
process), joined by the order's client order id:

====================  ======================================================================
``send``              the strategy's ``RemoteEngine`` starts the command
``strategy writes``   its bytes reach the strategy's socket (nats-py's flusher task)
``gateway reads``     they come out of the gateway's socket (the server stored and pushed them)
``gateway callback``  nats-py hands the message to the gateway's subscription
``run``               the command starts in a gateway worker
``engine``            ``ExecutionEngine.submit_order`` starts (risk checks, the order built)
``intent queued``     the journal's intent is handed to its writer thread
``intent durable``    the writer has committed it and the engine resumes (write-ahead)
``broker back``       the paper broker has answered (accepted and filled)
``events applied``    the OMS has applied both events and ``submit_order`` returns
``reply ready``       the worker has the reply and publishes it
``gateway writes``    the reply's bytes reach the gateway's socket
``strategy reads``    they come out of the strategy's socket
``reply callback``    nats-py hands the reply to the strategy's subscription
``back``              ``submit_order`` returns in the strategy
====================  ======================================================================

It runs ``nats_gateway.py``'s own processes (server, gateway, latency phase) with these
timestamps patched in, so it measures the same path; the patches add a few microseconds per
hop. The hops from ``engine`` to ``events applied`` are the engine's own, the same work an
order does in process (the ``in process`` line above the tables); the rest is what the
gateway adds. Prints p50 and p90 per hop (ms) at light load (a 5 ms pause before each order) and back
to back. Needs the ``nats`` venv: ``.nox/nats/bin/python benchmarks/nats_hops.py``.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
import nats_gateway as gateway_bench  # noqa: E402 - the sibling benchmark's roles and driver

HOPS = (
    "send",
    "strategy writes",
    "gateway reads",
    "gateway callback",
    "run",
    "engine",
    "intent queued",
    "intent durable",
    "broker back",
    "events applied",
    "reply ready",
    "gateway writes",
    "strategy reads",
    "reply callback",
    "back",
)
_ENV = "AUTOTRADER_HOPS_DIR"
_MSG_ID = re.compile(rb"Nats-Msg-Id: ?([^\r\s]+)\r\n")
_REPLY_SUBJECT = re.compile(rb"_INBOX\.[A-Za-z0-9]+\.([A-Za-z0-9_-]+)[ \r]")


class _Stamps:
    """This process's timestamps (hop, client order id, time), appended to a file now and then."""

    def __init__(self, directory: str) -> None:
        self.path = Path(directory) / f"stamps-{os.getpid()}.jsonl"
        self.rows: list[tuple[str, str, float]] = []

    def add(self, hop: str, cid: str) -> None:
        self.rows.append((hop, cid, time.perf_counter()))
        if len(self.rows) >= 64:  # a write per ~13 orders; what a SIGKILL loses is the tail
            self.dump()

    def dump(self) -> None:
        with self.path.open("a") as out:
            out.writelines(json.dumps(row) + "\n" for row in self.rows)
        self.rows.clear()


def _patch(stamps: _Stamps, gateway: bool) -> None:
    # Wraps the methods each hop passes through; a wrapper stamps, then calls the original.
    from autotrader_nats import gateway as gateway_module
    from autotrader_nats import remote
    from nats.aio import transport

    def on_socket(direction: str, data: bytes) -> None:
        # The gateway reads commands (their Nats-Msg-Id) and writes replies (their subject);
        # the strategy the other way round.
        ours = _MSG_ID if gateway == (direction == "reads") else _REPLY_SUBJECT
        for match in ours.finditer(data):
            stamps.add(f"{'gateway' if gateway else 'strategy'} {direction}", match.group(1).decode())

    tcp: Any = transport.TcpTransport
    write, writelines, read = tcp.write, tcp.writelines, tcp.read

    def stamped_write(self: Any, payload: bytes) -> Any:
        on_socket("writes", payload)
        return write(self, payload)

    def stamped_writelines(self: Any, payload: list[bytes]) -> Any:
        on_socket("writes", b"".join(payload))
        return writelines(self, payload)

    async def stamped_read(self: Any, size: int) -> bytes:
        data: bytes = await read(self, size)
        on_socket("reads", data)
        return data

    tcp.write, tcp.writelines, tcp.read = stamped_write, stamped_writelines, stamped_read

    gw: Any = gateway_module.AccountGateway
    on_command, run_command, execute = gw._on_command, gw._run_command, gw._execute

    async def stamped_on_command(self: Any, msg: Any) -> None:
        stamps.add("gateway callback", (msg.headers or {}).get("Nats-Msg-Id", ""))
        await on_command(self, msg)

    async def stamped_run_command(self: Any, msg: Any, seq: int, command: dict[str, Any], *rest: Any) -> None:
        stamps.add("run", str(command["id"]))
        await run_command(self, msg, seq, command, *rest)

    async def stamped_execute(self: Any, command_id: str, *rest: Any) -> bytes:
        stamps.add("engine", command_id)
        reply: bytes = await execute(self, command_id, *rest)
        stamps.add("reply ready", command_id)
        return reply

    gw._on_command, gw._run_command, gw._execute = stamped_on_command, stamped_run_command, stamped_execute

    # The engine's own hops: its journal's intent, the paper broker's answer, the events applied.
    from autotrader_core.engine import ExecutionEngine
    from autotrader_core.journal import Journal
    from autotrader_paper import PaperAdapter

    journal: Any = Journal
    record_intent = journal.record_intent

    async def stamped_record_intent(self: Any, order: Any) -> None:
        stamps.add("intent queued", order.client_order_id)
        await record_intent(self, order)
        stamps.add("intent durable", order.client_order_id)

    journal.record_intent = stamped_record_intent
    paper: Any = PaperAdapter
    paper_submit = paper.submit_order

    async def stamped_paper_submit(self: Any, order: Any) -> Any:
        events = await paper_submit(self, order)
        stamps.add("broker back", order.client_order_id)
        return events

    paper.submit_order = stamped_paper_submit
    execution: Any = ExecutionEngine
    submit_order = execution.submit_order

    async def stamped_submit_order(self: Any, *args: Any, **kwargs: Any) -> Any:
        order = await submit_order(self, *args, **kwargs)
        stamps.add("events applied", order.client_order_id)
        return order

    execution.submit_order = stamped_submit_order

    engine: Any = remote.RemoteEngine
    command, on_reply = engine._command, engine._on_reply

    async def stamped_command(self: Any, kind: str, args: dict[str, Any], command_id: str, **kw: Any) -> Any:
        stamps.add("send", command_id)
        body = await command(self, kind, args, command_id, **kw)
        stamps.add("back", command_id)
        return body

    async def stamped_on_reply(self: Any, msg: Any) -> None:
        stamps.add("reply callback", msg.subject.rsplit(".", 1)[-1])
        await on_reply(self, msg)

    engine._command, engine._on_reply = stamped_command, stamped_on_reply


def _child(directory: str) -> None:
    # A role process of nats_gateway.py, stamped (the throughput step's strategy is not: only
    # the latency phase is read). The latency process writes its last stamps as it exits; the
    # gateway, ended by SIGKILL, has written its own by then (see main).
    if "strategy" not in sys.argv:
        stamps = _Stamps(directory)
        _patch(stamps, gateway="gateway" in sys.argv)
        atexit.register(stamps.dump)
    gateway_bench.main()


def _phases(directory: Path) -> list[list[dict[str, float]]]:
    """The stamped orders of each latency process (one per phase, in the order they ran)."""
    stamps: dict[str, dict[str, float]] = {}
    senders: dict[str, str] = {}
    for path in directory.glob("stamps-*.jsonl"):
        for line in path.read_text().splitlines():
            hop, cid, at = json.loads(line)
            stamps.setdefault(cid, {}).setdefault(hop, at)  # the first time each hop saw it
            if hop == "send":
                senders[cid] = path.name
    phases: dict[str, list[dict[str, float]]] = {}
    for cid, hops in stamps.items():
        if cid in senders and all(h in hops for h in HOPS):
            phases.setdefault(senders[cid], []).append(hops)
    ordered = [sorted(orders, key=lambda o: o["send"]) for orders in phases.values()]
    return sorted(ordered, key=lambda orders: orders[0]["send"])


def _table(orders: list[dict[str, float]], title: str) -> None:
    print(f"{title} ({len(orders)} orders; p50 / p90, ms)")
    for before, after in itertools.pairwise(HOPS):
        spans = sorted((o[after] - o[before]) * 1000 for o in orders)
        print(
            f"  {before:>16s} → {after:<16s} {statistics.median(spans):6.3f} / {spans[int(0.9 * len(spans))]:6.3f}"
        )
    totals = [(o["back"] - o["send"]) * 1000 for o in orders]
    print(f"  {'submit → reply':>35s} {statistics.median(totals):6.3f}")


def main(count: int = 300) -> None:
    """Run the latency phase of ``nats_gateway.py`` stamped, and print the hops."""
    with tempfile.TemporaryDirectory(prefix="autotrader-hops-") as tmp:
        os.environ[_ENV] = tmp
        gateway_bench.HERE = HERE  # the driver starts its role processes through this script
        # The throughput step that follows the latency phase is there for its orders alone: the
        # driver ends the gateway with SIGKILL, and they carry the latency phase's last stamps
        # to the file (they have no "send" stamp of their own, so none is counted).
        sys.argv = [str(HERE), "--latency-orders", str(count), "--strategies", "1", "--outstanding", "1"]
        sys.argv += ["--seconds", "1"]
        print(f"# hops of a remote order — {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        gateway_bench.main()
        phases = _phases(Path(tmp))
        if len(phases) != 2:
            raise SystemExit(f"expected the stamps of two latency phases, found {len(phases)}")
        # nats_gateway.py's latency phase: a pause first, then back to back; 20 warm-up orders each.
        _table(phases[0][20:], "\nlight load, a 5 ms pause before each order")
        _table(phases[1][20:], "\nback to back")


def _entry() -> Callable[[], None]:
    directory = os.environ.get(_ENV)
    if directory and "--role" in sys.argv:
        return lambda: _child(directory)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--count", type=int, default=300, help="orders per phase (after 20 warm-up orders)")
    args = parser.parse_args()
    return lambda: main(args.count)


if __name__ == "__main__":
    _entry()()
