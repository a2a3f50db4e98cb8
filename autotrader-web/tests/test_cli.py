"""``autotrader web --paper``: the demo session with the page, as a user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

AUTOTRADER = str(Path(sys.executable).with_name("autotrader"))


def test_web_is_an_autotrader_subcommand() -> None:
    out = subprocess.run([AUTOTRADER, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "web" in out.stdout and "failed to load" not in out.stderr


def test_without_paper_it_explains_what_to_do() -> None:
    out = subprocess.run([AUTOTRADER, "web"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--paper" in out.stderr


def test_paper_demo_serves_the_page_and_prints_url_and_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTRADER_WEB_")}
    env["AUTOTRADER_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [AUTOTRADER, "web", "--paper", "--seconds", "6", "--port", "0", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[0])
        token = re.search(r"sign-in box\): (\S+)", lines[1])
        assert url and token, lines
        assert "Authorization: Bearer" in lines[2]
        assert token.group(1) not in url.group(0)  # never a token in a URL
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        assert httpx.get(url.group(0) + "api/status", timeout=5).status_code == 401
        deadline = time.monotonic() + 5
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            status = httpx.get(url.group(0) + "api/status", headers=headers, timeout=5).json()
            if status["strategy"] == "mean-reversion-demo" and status["running"]:
                break
            time.sleep(0.1)
        assert status["strategy"] == "mean-reversion-demo" and status["broker"] == "paper"
        assert httpx.get(url.group(0), timeout=5).status_code == 200
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "session over" in rest and "Traceback" not in err


def test_ctrl_c_engages_the_kill_switch_and_ends_the_session(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOTRADER_WEB_")}
    env["AUTOTRADER_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [AUTOTRADER, "web", "--paper", "--port", "0"],  # no --seconds: runs until a signal
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        assert "operator page" in proc.stdout.readline()
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "KILL SWITCH engaged: signal SIGINT" in err
    assert "trading state halted" in out
