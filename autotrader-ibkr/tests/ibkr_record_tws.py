"""Record a TWS API session as a transcript the fake TWS can replay.

A man-in-the-middle on loopback: point the adapter (or any ib_async script) at
``--listen`` and this proxy forwards every byte to the real TWS / IB Gateway at
``--tws-host:--tws-port``, decoding the frames in both directions:

* the server's handshake reply gives ``server_version`` and ``connection_time``;
* messages TWS sends after ``startApi`` and before the next request become ``on_connect``;
* every later client request becomes a script step ``{"expect": {...}, "reply": [...]}``
  holding the messages TWS sent until the next request; a pause longer than
  ``--gap`` seconds starts a ``{"sleep": …}, {"push": […]}`` pair instead (fills that
  arrive later than the acknowledgement), and a dropped connection adds ``{"drop": true}``.

Account codes (those ``managedAccounts`` names, plus any ``--account``) are replaced by
``DU1234567``.

Usage (paper account only; see the package README):

    python tests/ibkr_record_tws.py --tws-port 4002 --listen 14002 --out tests/recordings/my_case.json \\
        --description "what the session does"
    # in another shell: run your scenario with AUTOTRADER_IBKR_PORT=14002, then Ctrl-C the recorder
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibkr_fake_tws import REQUEST_NAMES, named_fields

FAKE_ACCOUNT = "DU1234567"
DEFAULT_SOURCE = "Recorded with tests/ibkr_record_tws.py against an IBKR paper account on {date}"


@dataclass
class Recorder:
    """Accumulates one transcript from the frames it sees."""

    accounts: list[str]
    gap: float = 0.2
    server_version: int = 0
    connection_time: str = ""
    on_connect: list[list[str]] = field(default_factory=list)
    script: list[dict[str, Any]] = field(default_factory=list)
    _started: bool = False
    _last_server: float = 0.0
    _target: list[list[str]] | None = None

    def redact(self, fields: list[str]) -> list[str]:
        """Replace account codes by the fake paper account."""
        out = []
        for value in fields:
            for account in self.accounts:
                value = value.replace(account, FAKE_ACCOUNT)
            out.append(value)
        return out

    def client_message(self, fields: list[str]) -> None:
        """A request from the client."""
        name = REQUEST_NAMES.get(int(fields[0]), f"msg{fields[0]}")
        if name == "startApi":
            self._started = True
            self._target = self.on_connect
            return
        named = {k: v for k, v in named_fields(name, self.redact(fields)).items() if k not in ("reqId",)}
        step: dict[str, Any] = {"expect": {"request": name, "fields": named}, "reply": []}
        self.script.append(step)
        self._target = step["reply"]
        self._last_server = time.monotonic()

    def server_message(self, fields: list[str]) -> None:
        """A message from TWS."""
        now = time.monotonic()
        if fields[:1] == ["15"] and len(fields) > 2:  # managedAccounts: redact every code it names
            self.accounts.extend(a for a in fields[2].split(",") if a and a not in self.accounts)
        if self._target is None:
            return
        if self._target is not self.on_connect and now - self._last_server > self.gap:
            self.script.append({"sleep": round(min(now - self._last_server, 1.0), 3)})
            push: list[list[str]] = []
            self.script.append({"push": push})
            self._target = push
        self._target.append(self.redact(fields))
        self._last_server = now

    def dropped(self) -> None:
        """The connection ended."""
        self.script.append({"drop": True})
        self._target = None

    def transcript(self, description: str, source: str) -> dict[str, Any]:
        """The transcript in the schema ``ibkr_fake_tws.Transcript`` reads."""
        return {
            "description": description,
            "provenance": f"captured: {source}",
            "source": source,
            "server_version": self.server_version,
            "connection_time": self.connection_time,
            "on_connect": self.on_connect,
            "answers": {},
            "script": self.script,
        }


async def _frames(reader: asyncio.StreamReader) -> Any:
    while True:
        size = struct.unpack(">I", await reader.readexactly(4))[0]
        yield (await reader.readexactly(size)).decode(errors="backslashreplace").split("\0")[:-1]


async def _pipe_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, recorder: Recorder
) -> None:
    prefix = await reader.readexactly(4)  # b"API\0"
    size = await reader.readexactly(4)
    versions = await reader.readexactly(struct.unpack(">I", size)[0])
    writer.write(prefix + size + versions)
    async for fields in _frames(reader):
        recorder.client_message(fields)
        payload = "".join(f"{f}\0" for f in fields).encode()
        writer.write(struct.pack(">I", len(payload)) + payload)
        await writer.drain()


async def _pipe_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, recorder: Recorder
) -> None:
    first = True
    async for fields in _frames(reader):
        if first:
            recorder.server_version, recorder.connection_time = int(fields[0]), fields[1]
            first = False
        else:
            recorder.server_message(fields)
        payload = "".join(f"{f}\0" for f in fields).encode()
        writer.write(struct.pack(">I", len(payload)) + payload)
        await writer.drain()


async def serve(recorder: Recorder, listen: int, tws_host: str, tws_port: int) -> asyncio.Server:
    """Start the recording proxy on 127.0.0.1:``listen`` (0 = any free port)."""

    async def on_client(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection(tws_host, tws_port)
        tasks = [
            asyncio.ensure_future(_pipe_client(c_reader, s_writer, recorder)),
            asyncio.ensure_future(_pipe_server(s_reader, c_writer, recorder)),
        ]
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        recorder.dropped()
        c_writer.close()
        s_writer.close()

    return await asyncio.start_server(on_client, "127.0.0.1", listen)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tws-host", default="127.0.0.1")
    parser.add_argument("--tws-port", type=int, default=4002, help="paper IB Gateway 4002, paper TWS 7497")
    parser.add_argument("--listen", type=int, default=14002)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--description", required=True)
    parser.add_argument("--account", action="append", default=[], help="account code to redact (repeatable)")
    parser.add_argument("--gap", type=float, default=0.2)
    args = parser.parse_args()
    if args.tws_port in (7496, 4001):
        parser.error("refusing to record against a live port; use a paper account (7497 / 4002)")
    recorder = Recorder(accounts=args.account, gap=args.gap)

    async def run() -> None:
        server = await serve(recorder, args.listen, args.tws_host, args.tws_port)
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    source = DEFAULT_SOURCE.format(date=time.strftime("%Y-%m-%d"))
    args.out.write_text(json.dumps(recorder.transcript(args.description, source), indent=1) + "\n")
    print(f"wrote {args.out} ({len(recorder.script)} steps)")


if __name__ == "__main__":
    main()
