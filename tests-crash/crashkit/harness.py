"""Run one crash scenario and check the books: nothing lost, nothing doubled.

A scenario (seeded): start the broker; run the engine child up to ``crashes`` times,
each killed with SIGKILL at a kill point (before send, after send before the reply
counts, mid-fill on the stream, after a cancel) or after a random delay; then run it
once more to the end and compare:

* every plan item exists exactly once at the broker (no duplicate, none lost);
* every broker fill is in the engine's books exactly once (no fill counted twice or missed);
* each order's filled quantity equals the sum of its broker fills;
* the engine's positions equal the signed sum of the broker's fills, and the broker's positions.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from crashkit.broker import BrokerServer
from crashkit.child import make_plan

__all__ = ["KILL_POINTS", "ScenarioResult", "run_scenario"]

HERE = Path(__file__).resolve().parent.parent
KILL_POINTS = (
    "submit.before_send",
    "submit.after_send",
    "stream.fill",
    "cancel.before_send",
    "cancel.after_send",
    "timer",
)


@dataclass
class ScenarioResult:
    """What happened and every violation found (empty = the books agree)."""

    seed: int
    kills: list[str] = field(default_factory=list)
    killed: int = 0
    violations: list[str] = field(default_factory=list)
    orders_at_broker: int = 0
    fills_at_broker: int = 0
    recoveries: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no invariant was broken."""
        return not self.violations


def _run_child(
    port: int, journal: Path, seed: int, orders: int, sync: str, kill: str | None, timer: float | None
) -> tuple[int, list[dict[str, Any]], str]:
    env = dict(os.environ)
    env.pop("CRASH_POINT", None)
    if kill and kill != "timer":
        env["CRASH_POINT"] = kill
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "crashkit.child", "--port", str(port), "--journal", str(journal)]
    cmd += ["--seed", str(seed), "--orders", str(orders), "--sync", sync]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timer if timer is not None else 60)
    except subprocess.TimeoutExpired:
        proc.kill()  # SIGKILL
        out, err = proc.communicate()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return proc.returncode, lines, err


def run_scenario(
    seed: int,
    *,
    orders: int = 16,
    crashes: int = 2,
    sync: str = "intent",
    lose_journal: bool = False,
    kills: list[str] | None = None,
) -> ScenarioResult:
    """Run one seeded scenario. ``lose_journal`` deletes the journal after each crash (sabotage:
    the checks must then find duplicates, proving they can fail)."""
    rng = random.Random(f"crash:{seed}")
    result = ScenarioResult(seed)
    started = time.perf_counter()
    plan = make_plan(seed, orders)
    with tempfile.TemporaryDirectory(prefix="autotrader-crash-") as tmp, start_blocking_portal() as portal:
        journal = Path(tmp) / "journal.sqlite3"
        server = BrokerServer(seed)
        serving = portal.start_task_soon(server.serve)
        while server.port == 0:
            time.sleep(0.01)
        plans = (
            kills
            if kills is not None
            else [
                f"{point}:{rng.randint(1, 4)}" if point != "timer" else "timer"
                for point in (rng.choice(KILL_POINTS) for _ in range(crashes))
            ]
        )
        for plan_kill in plans:
            timer = rng.uniform(0.3, 1.5) if plan_kill == "timer" else None
            result.kills.append(plan_kill if timer is None else f"timer:{timer:.2f}s")
            code, lines, err = _run_child(server.port, journal, seed, orders, sync, plan_kill, timer)
            result.recoveries += [line["summary"] for line in lines if line.get("phase") == "recovered"]
            if code == -9:
                result.killed += 1
            elif code != 0:
                result.violations.append(f"crash run exited {code}: {lines[-3:]} {err[-6000:]}")
                break
            if lose_journal:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{journal}{suffix}").unlink(missing_ok=True)
        code, lines, err = _run_child(server.port, journal, seed, orders, sync, None, None)
        result.recoveries += [line["summary"] for line in lines if line.get("phase") == "recovered"]
        final = next((line["final"] for line in lines if "final" in line), None)
        if code != 0 or final is None:
            result.violations.append(f"final run exited {code}: {lines[-3:]} {err[-6000:]}")
        else:
            broker_fills = portal.call(_sync_call, server.fills)
            broker_positions = portal.call(_sync_call, server.positions)
            tags = dict(server.tags)
            _check(result, plan, final, broker_fills, broker_positions, tags)
        if serving.done() and not serving.cancelled() and serving.exception() is not None:
            result.violations.append(f"the broker server died: {serving.exception()!r}")
        result.violations += [f"broker internal error: {e}" for e in server.internal_errors]
        serving.cancel()
    result.seconds = time.perf_counter() - started
    return result


async def _sync_call(fn: Any) -> Any:
    return fn()


def _check(
    result: ScenarioResult,
    plan: list[Any],
    final: dict[str, Any],
    broker_fills: list[Any],
    broker_positions: dict[str, Decimal],
    tags: dict[str, str | None],
) -> None:
    v = result.violations
    result.orders_at_broker = len(tags)
    result.fills_at_broker = len(broker_fills)
    per_tag = Counter(tags.values())
    for item in plan:
        if per_tag[item.tag] != 1:
            v.append(f"plan item {item.tag} exists {per_tag[item.tag]} times at the broker")
    orders = {o["client_order_id"]: o for o in final["orders"]}
    for cid in tags:
        if cid not in orders:
            v.append(f"broker order {cid} is missing from the engine's books")
    engine_fills = [t for o in final["orders"] for t in o["fills"]] + list(final["orphans"])
    dupes = [t for t, n in Counter(engine_fills).items() if n > 1]
    if dupes:
        v.append(f"fills counted twice: {dupes}")
    if final["fills_total"] + len(final["orphans"]) != len(set(engine_fills)):
        v.append(f"fills_total {final['fills_total']} != distinct fills {len(set(engine_fills))}")
    broker_ids = {f.trade_id for f in broker_fills}
    if missing := broker_ids - set(engine_fills):
        v.append(f"broker fills missing from the engine: {sorted(missing)}")
    if extra := set(engine_fills) - broker_ids:
        v.append(f"engine fills the broker never made: {sorted(extra)}")
    by_order: dict[str, Decimal] = {}
    signed: dict[str, Decimal] = {}
    for f in broker_fills:
        by_order[f.client_order_id] = by_order.get(f.client_order_id, Decimal(0)) + f.quantity
        signed[f.symbol] = signed.get(f.symbol, Decimal(0)) + f.quantity * f.side.sign
    for cid, order in orders.items():
        if Decimal(order["filled"]) != by_order.get(cid, Decimal(0)):
            v.append(f"order {cid} filled {order['filled']} but the broker filled {by_order.get(cid, 0)}")
    for symbol in set(signed) | {s for s, q in final["positions"].items() if Decimal(q)}:
        ours = Decimal(final["positions"].get(symbol, "0"))
        if ours != signed.get(symbol, Decimal(0)):
            v.append(f"position {symbol}: engine {ours} != sum of broker fills {signed.get(symbol, 0)}")
        if ours != broker_positions.get(symbol, Decimal(0)):
            v.append(f"position {symbol}: engine {ours} != broker {broker_positions.get(symbol, 0)}")
    if final["open"]:
        v.append(f"{final['open']} orders still open after wind-down")
