"""The README's "Using it" examples, run as written on the paper broker (issue 17 items 0 and 1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from autotrader_core import ExecutionEngine, OrderStatus, PluginManager
from autotrader_core.settings import EngineSettings

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = README.parent / "examples" / "mean_reversion.py"


def _examples() -> list[str]:
    """The python blocks of the README's "Using it" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_first_example_is_examples_mean_reversion_py_verbatim() -> None:
    # Every adapter's test_<broker>_readme_example.py runs that file's strategy on loopback
    # recordings: the README shows exactly what they prove trades.
    assert _examples()[0] == EXAMPLE.read_text(encoding="utf-8")


def test_the_first_example_trades_on_paper_and_prints_its_fills(tmp_path: Path) -> None:
    code = _examples()[0]
    assert "duration=60" in code
    script = tmp_path / "example.py"
    script.write_text(code.replace("duration=60", "duration=6"))  # the same code, shorter
    env = {**os.environ, "AUTOTRADER_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    fills = re.findall(r"^(buy|sell) 0\.01 BTCUSDT @ \d+\.\d+, position ", done.stdout, re.MULTILINE)
    assert fills and fills[0] == "buy", done.stdout  # it traded, and said so as it went
    orders = re.search(r"orders_total=(\d+)", done.stdout)
    assert orders is not None and int(orders.group(1)) >= len(fills) > 0, done.stdout


@pytest.mark.anyio
async def test_the_cancel_and_modify_example_places_moves_and_cancels_a_limit_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _examples()[:2]
    namespace: dict[str, Any] = {}
    exec(first.replace("anyio.run(main)", ""), namespace)  # the names the second example uses
    exec(second, namespace)
    strategy = namespace["PlaceModifyCancel"]()
    adapter = PluginManager().load_entry_points().create_adapter("paper")
    settings = EngineSettings(data_dir=tmp_path)
    async with ExecutionEngine(adapter, strategy=strategy, settings=settings) as engine:
        with anyio.fail_after(10):
            while strategy.order is None or strategy.order.status is not OrderStatus.CANCELED:
                await anyio.sleep(0.02)
        order = strategy.order
        assert order.client_order_id not in {o.client_order_id for o in await adapter.get_open_orders()}
        assert engine.oms.open_orders() == []
    price = adapter.last_price("BTCUSDT")
    assert price is not None and order.limit_price is not None
    assert order.limit_price < price * Decimal("0.985")  # moved from 1 % to 2 % below the market
    out = capsys.readouterr().out
    assert f"{order.client_order_id} canceled" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_first_example_is_ctrl_c_safe_as_written(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_examples()[0])  # unchanged: duration=60
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
    first = proc.stdout.readline()  # blocks until the first fill is printed
    assert first.startswith("buy 0.01 BTCUSDT @"), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "SIGINT received: strategy stopped" in err
    assert "EngineStatus(" in out  # the script went on after run() returned
