"""Ctrl-C and `autotrader kill` on a script written like the README (issue 17 item 2).

The script runs in its own process, as a user's would: it buys a position, rests a limit
order far below the market and waits in ``engine.run()``. A signal must end it with exit
code 0 and no traceback, the open order cancelled at the (paper) broker, the position
left, and a message saying both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = """
from decimal import Decimal

import anyio
from autotrader_core import ExecutionEngine, Order, PluginManager, Strategy, StrategyContext


class Ready(Strategy):
    async def on_order_update(self, order: Order, ctx: StrategyContext) -> None:
        if order.order_type.value == "limit" and order.is_open:
            print("READY", order.client_order_id, flush=True)


async def main() -> None:
    adapter = PluginManager().load_entry_points().create_adapter("paper")
    async with ExecutionEngine(adapter, strategy=Ready()) as engine:
        await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
        await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("30000")
        )
        await engine.run(duration=30)
    print("OPEN AT BROKER", len(adapter.simulator.open_orders(None)), flush=True)
    print("POSITION", engine.oms.position("BTCUSDT").quantity, flush=True)


anyio.run(main)
"""


def _start(tmp_path: Path, code: str = SCRIPT) -> tuple[subprocess.Popen[str], str]:
    script = tmp_path / "my_strategy.py"
    script.write_text(code)
    env = {**os.environ, "AUTOTRADER_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.startswith("READY"):
            return proc, line.split()[1]
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"the script never placed its limit order: {proc.communicate()}")


def _wait_registered(data_dir: Path, pid: int) -> None:
    deadline = time.monotonic() + 20
    while not (data_dir / f"session-{pid}.pid").exists():
        assert time.monotonic() < deadline, "engine.run() did not register the session"
        time.sleep(0.05)


def _finish(proc: subprocess.Popen[str], cid: str, *, flattened: bool = False) -> str:
    out, err = proc.communicate(timeout=30)
    text = out + err
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "OPEN AT BROKER 0" in out  # the resting limit order was cancelled at the broker
    assert f"cancelled 1 open order(s): {cid}" in err  # and the user is told
    if flattened:
        assert "POSITION 0.00" in out  # the full kill switch closed the position
        assert "flatten orders sent: 1" in err and "no open positions" in err
    else:
        assert "POSITION 0.01" in out  # the position is left as it is, and the user is told
        assert "positions left as they are: BTCUSDT 0.01" in err
    return text


def test_ctrl_c_cancels_the_scripts_orders_keeps_the_position_and_says_so(tmp_path: Path) -> None:
    proc, cid = _start(tmp_path)
    _wait_registered(tmp_path / "data", proc.pid)
    proc.send_signal(signal.SIGINT)
    _finish(proc, cid)
    assert list((tmp_path / "data").glob("session-*.pid")) == []


def test_autotrader_kill_finds_the_running_script(tmp_path: Path) -> None:
    proc, cid = _start(tmp_path)
    data_dir = tmp_path / "data"
    _wait_registered(data_dir, proc.pid)
    env = {**os.environ, "AUTOTRADER_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-c", "import sys; from autotrader_core.cli import main; sys.exit(main())"]
    listed = subprocess.run([*cli, "sessions"], env=env, capture_output=True, text=True, timeout=60)
    assert f"{proc.pid}" in listed.stdout and "paper" in listed.stdout, listed
    killed = subprocess.run(
        [*cli, "kill", "--pid", str(proc.pid)], env=env, capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == 0, killed
    text = _finish(proc, cid, flattened=True)  # `autotrader kill` stays the full kill switch
    assert "SIGUSR1 received" in text and "KILL SWITCH engaged" in text


def test_sigterm_is_the_gentle_stop_like_ctrl_c(tmp_path: Path) -> None:
    proc, cid = _start(tmp_path)
    _wait_registered(tmp_path / "data", proc.pid)
    proc.send_signal(signal.SIGTERM)  # systemd stop, docker stop, kill PID
    assert "SIGTERM received" in _finish(proc, cid)


def test_an_explicit_kill_on_signals_keeps_the_signals_and_flattens(tmp_path: Path) -> None:
    """The dry-run guide's pattern: kill_on_signals beside engine.run() stays the full kill switch."""
    code = SCRIPT.replace(
        "        await engine.run(duration=30)\n",
        "        async with anyio.create_task_group() as tg:\n"
        "            tg.start_soon(kill_on_signals, engine.kill_switch)\n"
        "            await engine.run(duration=30)\n"
        "            tg.cancel_scope.cancel()\n",
    ).replace("import anyio\n", "import anyio\nfrom autotrader_core.kill_switch import kill_on_signals\n")
    assert "kill_on_signals, engine.kill_switch" in code
    proc, _ = _start(tmp_path, code)
    time.sleep(1.0)  # no registration to wait for (no data_dir): give the handlers a moment
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "OPEN AT BROKER 0" in out
    assert "POSITION 0.00" in out  # flattened by the kill switch
    assert "signal shutdown" not in err.lower() and "KILL SWITCH engaged: signal SIGINT" in err
