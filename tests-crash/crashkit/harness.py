"""Run one crash scenario and check the books: nothing lost, nothing doubled.

A scenario (seeded): start the broker; run the engine child up to ``crashes`` times,
each killed with SIGKILL at a kill point (before send, after send before the reply
counts, mid-fill on the stream, after a cancel), after a random delay, or while the
broker holds one of its requests in flight (``held.*``, see :func:`parse_kill`); then
run it once more to the end and compare:

* every plan item exists exactly once at the broker (no duplicate, none lost);
* every broker fill is in the engine's books exactly once (no fill counted twice or missed);
* each order's filled quantity equals the sum of its broker fills;
* the engine's positions equal the signed sum of the broker's fills, and the broker's positions;
* each order's final status is the broker's; the engine never reports REJECTED (or
  NEVER_SENT) for an order the broker has, never closes an order as REJECTED while its
  submit is still held and could still execute (that is a guess: its outcome is unknown),
  and reports as unknown an order whose submit is still held when it ends;
* the broker saw no re-send its re-send guarantee does not make safe.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from autotrader_core.enums import OrderStatus
from autotrader_core.resend import ResendGuarantee, ResendRule

from crashkit.broker import BrokerServer
from crashkit.child import make_plan
from crashkit.holds import (
    DEFAULT_WINDOW,
    HeldRequest,
    HoldMode,
    HoldPlan,
    guarantee_from_text,
    guarantee_to_text,
)

__all__ = ["HELD_KILLS", "KILL_POINTS", "Kill", "ScenarioResult", "kill_mode", "parse_kill", "run_scenario"]

HERE = Path(__file__).resolve().parent.parent
KILL_POINTS = (
    "submit.before_send",
    "submit.after_send",
    "stream.fill",
    "cancel.before_send",
    "cancel.after_send",
    "timer",
)
HELD_KILLS = ("held.before_land", "held.reply_lost")
"""Kills while the broker holds a request in flight (see :func:`parse_kill`)."""
_OPS = ("submit", "cancel", "modify")
_LANDINGS = ("inside", "late", "race")
_RESTARTS = ("now", "after")
_CHILD_TIMEOUT = 60.0


@dataclass(frozen=True)
class Kill:
    """How one crash run ends: at a code point, after a delay, or while a request is held."""

    text: str
    point: str | None = None
    """The child's ``CRASH_POINT`` (code-point kills)."""
    timer: float | None = None
    """Seconds after start (``timer`` kills)."""
    hold: HoldPlan | None = None
    """The request the broker holds; the harness SIGKILLs the child once it is held."""
    restart: str = "now"
    """Held kills: restart at once (a warm engine) or ``after`` the request's window passed."""


def parse_kill(text: str, rng: random.Random, window: float = DEFAULT_WINDOW, expires: bool = True) -> Kill:
    """Read a kill plan.

    * ``submit.before_send:2`` and the other code points: the child kills itself there;
    * ``timer``: SIGKILL after a seeded 0.3–1.5 s;
    * ``held.before_land:N[/cancel|/modify][/inside|late|race][/now|after]``: the broker holds
      the N-th submit (or cancel, or modify: the engine then modifies about half its resting
      limits) before its matching engine, the harness SIGKILLs the engine
      while it is held, and the request lands ``inside`` its window (0.4–0.8 of it), ``late``
      (1.3–2 windows: an expiry refuses it) or in the ``race`` (right after the restarted
      engine was told "no such order"; at the latest at 0.9 of the window when the broker
      ``expires`` requests, else 3 windows); the next engine starts
      ``now`` (warm, while the request is held) or ``after`` the window passed;
    * ``held.reply_lost:N[/cancel|/modify][/now|after]``: the request executes, its reply is dropped,
      the engine is SIGKILLed.
    """
    name, _, rest = text.partition(":")
    if name == "timer":
        return Kill(text, timer=rng.uniform(0.3, 1.5))
    if name not in HELD_KILLS:
        return Kill(text, point=text)
    count, *options = rest.split("/")
    op = next((o for o in options if o in _OPS), "submit")
    landing = next((o for o in options if o in _LANDINGS), "inside")
    restart = next((o for o in options if o in _RESTARTS), "now")
    if unknown := set(options) - {*_OPS, *_LANDINGS, *_RESTARTS}:
        raise ValueError(f"unknown held-kill options {sorted(unknown)} in {text!r}")
    mode = HoldMode(name.removeprefix("held."))
    hold, race = 0.0, False
    if mode is HoldMode.BEFORE_LAND:
        if landing == "inside":
            hold = rng.uniform(0.4, 0.8) * window
        elif landing == "late":
            hold = rng.uniform(1.3, 2.0) * window
        else:
            hold, race = (0.9 if expires else 3.0) * window, True
    plan = HoldPlan(mode, op=op, nth=int(count or 1), hold=hold, race=race)
    return Kill(text, hold=plan, restart=restart)


def kill_mode(text: str) -> str:
    """The kill's mode without its count, for summaries: ``held.before_land/race/now``, ``timer``…"""
    name, _, rest = text.partition(":")
    if name not in HELD_KILLS:
        return name
    options = rest.split("/")[1:]
    landing = [next((o for o in options if o in _LANDINGS), "inside")] if name == "held.before_land" else []
    op = [o for o in options if o in _OPS and o != "submit"]
    return "/".join([name, *op, *landing, next((o for o in options if o in _RESTARTS), "now")])


def random_held_kill(rng: random.Random) -> str:
    """A seeded held-in-flight kill (mostly submits: they are where an outcome can be unknown)."""
    mode = rng.choice(HELD_KILLS)
    draw = rng.random()
    options = ["cancel"] if draw < 0.15 else ["modify"] if draw < 0.3 else []
    if mode == "held.before_land":
        options.append(rng.choice(_LANDINGS))
    options.append(rng.choice(_RESTARTS))
    nth = 1 if options[0] in ("cancel", "modify") else rng.randint(1, 6)
    return "/".join([f"{mode}:{nth}", *options])


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
    holds: list[str] = field(default_factory=list)
    """What became of each request the broker held."""
    guarantee: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no invariant was broken."""
        return not self.violations


class _Zygote:
    """The fork server (:mod:`crashkit.zygote`) this process starts engines from: imported once."""

    _instance: _Zygote | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crashkit.zygote"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._pids: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._ended = threading.Condition()
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(120):
            raise RuntimeError("the crash engine fork server did not start")

    @classmethod
    def get(cls) -> _Zygote:
        """The running fork server (started on first use, ended when this process exits)."""
        with cls._lock:
            if cls._instance is None or cls._instance.proc.poll() is not None:
                cls._instance = cls()
                atexit.register(cls._instance.close)
            return cls._instance

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            message = json.loads(raw)
            if "ready" in message:
                self._ready.set()
            elif "pid" in message:
                self._pids.put(int(message["pid"]))
            elif "exit" in message:
                with self._ended:
                    self._exits[int(message["exit"])] = int(message["code"])
                    self._ended.notify_all()

    def spawn(self, argv: list[str], env: dict[str, str], fifos: dict[str, str]) -> int:
        """Fork an engine; its pid."""
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(json.dumps({"argv": argv, "env": env, **fifos}).encode() + b"\n")
            self.proc.stdin.flush()
            return self._pids.get(timeout=30)

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The engine's exit code once it ended (``-9``: SIGKILLed), ``None`` if it still runs."""
        with self._ended:
            self._ended.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.get(pid)

    def close(self) -> None:
        """End the fork server (its stdin closes; it exits)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class _Child:
    """One engine process, forked warm: it waits for :meth:`go` before it touches anything."""

    def __init__(self, argv: list[str], kill: Kill | None, on_line: Callable[[dict[str, Any]], None]) -> None:
        env = dict(os.environ)
        env.pop("CRASH_POINT", None)
        if kill is not None and kill.point:
            env["CRASH_POINT"] = kill.point
        self._dir = tempfile.mkdtemp(prefix="autotrader-crash-child-")
        self._fifos = {name: os.path.join(self._dir, name) for name in ("stdin", "stdout", "stderr")}
        for path in self._fifos.values():
            os.mkfifo(path)
        self.lines: list[dict[str, Any]] = []
        self.err: list[str] = []
        self.ready = threading.Event()
        self.code: int | None = None
        self._timer: threading.Timer | None = None
        self._on_line = on_line
        self._zygote = _Zygote.get()
        self.pid = self._zygote.spawn(argv, env, self._fifos)
        self._readers = [
            threading.Thread(target=self._read_lines, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self._stdin = self._open_stdin()

    def _open_stdin(self) -> int | None:
        # Non-blocking until the engine opened its end: it may die before it does.
        while True:
            try:
                fd = os.open(self._fifos["stdin"], os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self._poll() is not None:
                    return None
                time.sleep(0.002)
                continue
            os.set_blocking(fd, True)
            return fd

    def _read_lines(self) -> None:
        with open(self._fifos["stdout"], encoding="utf-8") as pipe:
            for raw in pipe:
                if raw.startswith("{"):
                    line = json.loads(raw)
                    self.lines.append(line)
                    if line.get("phase") == "ready":
                        self.ready.set()
                    self._on_line(line)

    def _read_err(self) -> None:
        with open(self._fifos["stderr"], encoding="utf-8", errors="replace") as pipe:
            self.err.extend(pipe)

    def _poll(self, timeout: float = 0.0) -> int | None:
        if self.code is None:
            self.code = self._zygote.exit_code(self.pid, timeout)
        return self.code

    def wait_ready(self) -> None:
        """Wait until the engine is up and waiting (or died)."""
        while not self.ready.wait(0.01) and self._poll() is None:
            pass

    def go(self, timer: float | None = None) -> None:
        """Let the warm engine start (journal, broker, recovery); SIGKILL it ``timer`` s from now."""
        self.wait_ready()
        self._say("go")
        if timer is not None:
            self._timer = threading.Timer(timer, self._kill)
            self._timer.daemon = True
            self._timer.start()

    def release(self) -> None:
        """Let the recovered engine work through its plan."""
        self._say("plan")
        if self._stdin is not None:
            with contextlib.suppress(OSError):
                os.close(self._stdin)
            self._stdin = None

    def _say(self, word: str) -> None:
        if self._stdin is not None:
            with contextlib.suppress(OSError):  # it may be dead already
                os.write(self._stdin, word.encode() + b"\n")

    def _kill(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)

    def finish(self, kill_when: threading.Event | None = None) -> int:
        """Wait for the engine to end; SIGKILL it as soon as ``kill_when`` is set."""
        started = time.monotonic()
        while self._poll(0.0 if kill_when is not None else 0.01) is None:
            if kill_when is not None and kill_when.is_set():
                self._kill()
                break
            if time.monotonic() - started > _CHILD_TIMEOUT:
                self._kill()
                break
            if kill_when is not None:
                kill_when.wait(0.002)
        code = self._poll(30.0)
        if self._timer is not None:
            self._timer.cancel()
        self.release()
        for name, reader in zip(("stdout", "stderr"), self._readers, strict=True):
            if reader.is_alive():
                # The engine died before it opened this pipe: unblock the reader's open.
                with contextlib.suppress(OSError):
                    os.close(os.open(self._fifos[name], os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)
        if code is None:
            raise RuntimeError(f"engine {self.pid} did not end after SIGKILL")
        return code

    def discard(self) -> None:
        """Stop a warm engine that was never needed."""
        self._kill()
        self.finish()

    @property
    def stderr(self) -> str:
        """What the engine wrote to stderr."""
        return "".join(self.err)


def run_scenario(
    seed: int,
    *,
    orders: int = 16,
    crashes: int = 2,
    sync: str = "intent",
    lose_journal: bool = False,
    kills: list[str] | None = None,
    held: bool = False,
    guarantee: str | ResendGuarantee = "expiry",
) -> ScenarioResult:
    """Run one seeded scenario.

    Args:
        kills: The kill plans (see :func:`parse_kill`); by default ``crashes`` seeded ones,
            at code points and timers, or (``held``) while requests are held in flight.
        guarantee: The broker's re-send guarantee (``expiry[:seconds]``, ``idempotency_key``,
            ``same_id``, ``none``), declared by the engine's adapter too.
        lose_journal: Delete the journal after each crash (sabotage: the checks must then
            find duplicates, proving they can fail).
    """
    rng = random.Random(f"crash:{seed}")
    promise = guarantee if isinstance(guarantee, ResendGuarantee) else guarantee_from_text(guarantee)
    window = promise.window or DEFAULT_WINDOW
    result = ScenarioResult(seed, guarantee=guarantee_to_text(promise))
    started = time.perf_counter()
    plan = make_plan(seed, orders)
    texts = (
        kills
        if kills is not None
        else [
            random_held_kill(rng)
            if held
            else (f"{point}:{rng.randint(1, 4)}" if point != "timer" else "timer")
            for point in (rng.choice(KILL_POINTS) for _ in range(crashes))
        ]
    )
    runs = [parse_kill(text, rng, window, promise.rule is ResendRule.EXPIRY) for text in texts]
    # The broker's clock is not the machine's: an engine that judges expiry by its own is wrong.
    clock_offset = rng.uniform(-2.0, 2.0)
    with tempfile.TemporaryDirectory(prefix="autotrader-crash-") as tmp, start_blocking_portal() as portal:
        journal = Path(tmp) / "journal.sqlite3"
        server = BrokerServer(seed, guarantee=promise, clock_offset=clock_offset)
        serving = portal.start_task_soon(server.serve)
        while server.port == 0:
            time.sleep(0.01)
        cmd = ["--port", str(server.port), "--journal", str(journal)]
        cmd += ["--seed", str(seed), "--orders", str(orders), "--sync", sync]
        cmd += ["--guarantee", guarantee_to_text(promise), "--wait-go"]
        if any(run.hold is not None and run.hold.op == "modify" for run in runs):
            cmd.append("--modify")

        def judge(line: dict[str, Any]) -> None:
            if line.get("phase") == "recovered":
                result.recoveries.append(line["summary"])
                _judge_recovery(result, portal, server, line)

        upcoming = _Child(cmd, runs[0] if runs else None, judge)
        planned_for: Kill | None = runs[0] if runs else None
        for index, kill in enumerate(runs):
            child = upcoming
            held_before = len(server.holds)
            portal.call(_sync_call, lambda plan=kill.hold: server.arm(plan))
            child.go(kill.timer)  # at once: a restart right after a kill recovers while requests are held
            # Warm the next engine before this one reaches its plan, so its restart can be immediate.
            planned_for = runs[index + 1] if index + 1 < len(runs) else None
            upcoming = _Child(cmd, planned_for, judge)
            upcoming.wait_ready()
            child.release()
            code = child.finish(server.held_now if kill.hold else None)
            result.kills.append(kill.text if kill.timer is None else f"timer:{kill.timer:.2f}s")
            portal.call(_sync_call, lambda: server.arm(None))
            if code == -9:
                result.killed += 1
            elif code != 0:
                result.violations.append(
                    f"crash run exited {code}: {child.lines[-3:]} {child.stderr[-6000:]}"
                )
                break
            if kill.hold is not None and kill.restart == "after" and len(server.holds) > held_before:
                _wait_out_window(portal, server, server.holds[-1], window)
            if lose_journal:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{journal}{suffix}").unlink(missing_ok=True)
        final_child = upcoming
        if planned_for is not None:  # a crash run failed: the warm engine has a kill point, replace it
            upcoming.discard()
            final_child = _Child(cmd, None, judge)
        final_child.go()
        final_child.release()
        code = final_child.finish()
        final = next((line["final"] for line in final_child.lines if "final" in line), None)
        if code != 0 or final is None:
            result.violations.append(
                f"final run exited {code}: {final_child.lines[-3:]} {final_child.stderr[-6000:]}"
            )
        else:
            broker_fills = portal.call(_sync_call, server.fills)
            broker_positions = portal.call(_sync_call, server.positions)
            statuses = portal.call(_sync_call, server.statuses)
            prices = portal.call(_sync_call, server.limit_prices)
            in_flight = portal.call(_sync_call, server.in_flight)
            tags = dict(server.tags)
            _check(result, plan, final, broker_fills, broker_positions, tags)
            _check_states(result, final, statuses, prices, in_flight)
        result.holds = [h.describe() for h in server.holds]
        if serving.done() and not serving.cancelled() and serving.exception() is not None:
            result.violations.append(f"the broker server died: {serving.exception()!r}")
        result.violations += [f"broker internal error: {e}" for e in server.internal_errors]
        result.violations += [f"unsafe re-send: {e}" for e in server.resend_violations]
        serving.cancel()
    result.seconds = time.perf_counter() - started
    return result


def _wait_out_window(portal: BlockingPortal, server: BrokerServer, held: HeldRequest, window: float) -> None:
    """Restart only once the held request's window has passed by the broker's clock."""
    stamp = held.stamp or held.arrived
    left = (stamp - portal.call(_sync_call, server.now)).total_seconds() + window + 0.05
    if left > 0:
        time.sleep(left)


def _judge_recovery(
    result: ScenarioResult, portal: BlockingPortal, server: BrokerServer, line: dict[str, Any]
) -> None:
    """Right after recovery: no order closed as REJECTED while its submit is held and may still execute."""
    rejected = set(line.get("rejected", []))

    for held in portal.call(_sync_call, server.in_flight):
        if held.op != "submit" or held.client_order_id not in rejected:
            continue
        if any(held.client_order_id in v for v in result.violations):
            continue  # a later recovery that replays the same closed order says nothing new
        never_sent = held.client_order_id in line.get("never_sent", [])
        result.violations.append(
            f"recovery closed {held.client_order_id} as {'NEVER_SENT' if never_sent else 'REJECTED'} "
            f"while its submit was held at the broker and could still execute (a guess: it is unknown)"
        )


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


def _check_states(
    result: ScenarioResult,
    final: dict[str, Any],
    statuses: dict[str, OrderStatus],
    prices: dict[str, Decimal | None],
    in_flight: list[HeldRequest],
) -> None:
    """Final state engine = broker; no REJECTED for an order the broker has; unknown stays unknown."""
    v = result.violations
    orders = {o["client_order_id"]: o for o in final["orders"]}
    for cid, status in statuses.items():
        order = orders.get(cid)
        if order is None:
            continue  # reported by _check
        if order["status"] == OrderStatus.REJECTED.value and status is not OrderStatus.REJECTED:
            what = "NEVER_SENT" if order["never_sent"] else "REJECTED"
            v.append(f"engine reports {cid} ({order['tag']}) {what} but the broker has it {status.value}")
        elif order["status"] != status.value and not order["unknown"]:
            v.append(f"order {cid} ({order['tag']}): engine {order['status']} != broker {status.value}")
        ours = None if order["limit_price"] is None else Decimal(order["limit_price"])
        if ours != prices.get(cid):
            v.append(f"order {cid} ({order['tag']}): engine's limit {ours} != broker's {prices.get(cid)}")
    # On a venue with an idempotency key (or same-id semantics) a held submit whose client
    # order id the broker already has can only be refused when it lands: the engine's
    # re-send settled it, so it is not unknown any more.
    deduplicated = result.guarantee.split(":")[0] in ("idempotency_key", "same_id")
    for held in in_flight:
        if held.op == "submit" and deduplicated and held.client_order_id in statuses:
            continue
        if held.op == "submit":
            order = orders.get(held.client_order_id)
            if order is None or not order["unknown"]:
                shown = "missing" if order is None else order["status"]
                v.append(
                    f"{held.client_order_id} is still held at the broker but the engine reports it {shown}"
                )
