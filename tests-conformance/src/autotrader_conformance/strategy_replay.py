"""Serve a whole trading session from recordings: REST, the private stream and public market data at once.

The scenario tests drive an adapter one call at a time. A strategy run (the README's example on
every adapter, say) runs the real engine for a few seconds: it loads instruments, subscribes
quotes, places orders and books the fills its private stream pushes, all concurrently. Two
recording files in the kit's schema describe such a session: ``trading`` (every HTTP exchange
and, as its ``stream``, the private stream) and ``quotes`` (the public market-data stream as its
``stream``; its HTTP exchanges, such as a REST snapshot, join the others). Each stream plays on its
own loopback server, so the order in which the adapter opens them does not matter::

    async with StrategyReplay(RECORDINGS / "README-TRADE.json", RECORDINGS / "README-QUOTES.json") as replay:
        settings = BinanceSettings(base_url=replay.base_url, ws_url=replay.private_url,
                                   market_data_url=replay.market_url, ...)
        ...  # run the engine until the fills are booked
    replay.check()  # no mismatch, every script played, every exchange requested

A venue that streams both from one host (OANDA's chunked-line streams) gets ``replay.stream_url``:
one loopback port that sends each connection to the server whose recording's first step names
its request path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import httpx
import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.engine import ExecutionEngine
from autotrader_core.ids import ClientOrderIdGenerator
from autotrader_core.plugins import PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_core.status import EngineStatus
from autotrader_core.strategy import Strategy

from autotrader_conformance._monitor import ReplayMonitor
from autotrader_conformance.http_loopback import HttpLoopbackServer
from autotrader_conformance.line_stream_replay import LineStreamReplayServer
from autotrader_conformance.recordings import HttpExchange, Recording, StreamScript, load_recording
from autotrader_conformance.ws_replay import WsReplayServer

__all__ = ["RecordedIds", "StrategyReplay", "run_strategy", "trade_from_environment"]

_StreamServer = WsReplayServer | LineStreamReplayServer


class StrategyReplay:
    """Loopback servers replaying one trading session (an async context manager).

    Args:
        trading: Recording with every HTTP exchange and, as its ``stream``, the private stream.
        quotes: Recording whose ``stream`` is the public market-data stream (its HTTP exchanges,
            if any, are served with ``trading``'s).

    Attributes:
        base_url: ``http://127.0.0.1:<port>``: the REST host.
        private_url: The private stream's server (``ws://`` or ``http://``), ``""`` without one.
        market_url: The market-data stream's server, ``""`` without one.
        stream_url: One ``http://`` port routing line-stream connections by request path to the
            private or the market-data server (both streams ``lines``), else ``""``.
    """

    def __init__(self, trading: Path, quotes: Path | None = None) -> None:
        self.trading: Recording = load_recording(trading)
        self.quotes: Recording | None = load_recording(quotes) if quotes is not None else None
        self.monitor = ReplayMonitor()
        self._stack = AsyncExitStack()
        self._http: HttpLoopbackServer | None = None
        self._servers: list[_StreamServer] = []
        self.base_url = ""
        self.private_url = ""
        self.market_url = ""
        self.stream_url = ""

    @property
    def recordings(self) -> list[Recording]:
        """The recordings served (trading first)."""
        return [self.trading] + ([self.quotes] if self.quotes is not None else [])

    async def __aenter__(self) -> StrategyReplay:
        exchanges = _renumbered([e for recording in self.recordings for e in recording.http])
        self._http = await self._stack.enter_async_context(HttpLoopbackServer(exchanges, self.monitor))
        self.base_url = self._http.url
        private = await self._serve(self.trading.stream)
        market = await self._serve(self.quotes.stream if self.quotes is not None else None)
        self.private_url = private.url if private is not None else ""
        self.market_url = market.url if market is not None else ""
        if isinstance(private, LineStreamReplayServer) and isinstance(market, LineStreamReplayServer):
            assert self.quotes is not None and self.quotes.stream is not None
            router = _PathRouter(_first_path(self.quotes.stream), market.url, private.url)
            self.stream_url = await self._stack.enter_async_context(router)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()
        if exc is not None and self.monitor.failures:  # the replay's diff says more than the adapter's error
            raise AssertionError("\n\n".join(self.monitor.failures)) from exc

    async def _serve(self, script: StreamScript | None) -> _StreamServer | None:
        if script is None:
            return None
        server: _StreamServer = (
            WsReplayServer(script, self.monitor)
            if script.kind == "websocket"
            else LineStreamReplayServer(script, self.monitor)
        )
        self._servers.append(await self._stack.enter_async_context(server))
        return server

    def requests(self, label: str) -> list[httpx.Request]:
        """The requests the exchanges labelled ``label`` answered, in order."""
        assert self._http is not None, "StrategyReplay not entered"
        return self._http.replay.requests_for(label)

    def problems(self) -> list[str]:
        """Mismatches reported by the servers, stream scripts not played to the end, and
        HTTP exchanges (not marked optional) never requested."""
        found = list(self.monitor.failures)
        for server in self._servers:
            found += server.unfinished()
        if self._http is not None:
            found += [
                f"{exchange.describe()} was never requested"
                for exchange in self._http.replay.unrequested()
                if not exchange.optional
            ]
        return found

    def check(self) -> None:
        """Fail (``AssertionError``) with :meth:`problems` when there are any."""
        problems = self.problems()
        assert not problems, "the session did not play as recorded:\n" + "\n".join(
            f"  - {problem}" for problem in problems
        )

    def status(self) -> str:
        """Where each stream's script stands (for a timeout's message)."""
        return "\n".join(server.status() for server in self._servers)


class RecordedIds(ClientOrderIdGenerator):
    """The client order ids a recording names, handed out in order (the engine's are random).

    Args:
        ids: The recorded ids, e.g. ``("atreadme01", "atreadme02")``.
    """

    def __init__(self, *ids: str) -> None:
        super().__init__("at")
        self._ids = iter(ids)

    def next_id(self) -> str:
        """The next recorded id (``AssertionError`` once they are used up: an order the recording lacks)."""
        recorded = next(self._ids, None)
        assert recorded is not None, "the strategy placed more orders than the recording has"
        return recorded


async def run_strategy(
    adapter: BrokerAdapter,
    strategy: Strategy,
    replay: StrategyReplay | None,
    *,
    ids: ClientOrderIdGenerator,
    settings: EngineSettings,
    fills: int,
    within: float = 15.0,
) -> EngineStatus:
    """Run the real engine with ``strategy`` on ``adapter`` until it has booked ``fills`` fills and
    holds no open order, then stop it and return its status.

    ``replay`` is ``None`` when the venue is served otherwise (IBKR's fake TWS).

    Raises:
        AssertionError: a replay mismatch, or the fills not booked within ``within`` seconds
            (the message says where each recorded stream stands).
    """
    engine = ExecutionEngine(adapter, strategy=strategy, settings=settings, ids=ids)
    async with engine:
        with anyio.move_on_after(within):
            # The engine has no "fills booked" event to wait on: poll.
            while not _done(engine, replay, fills):  # noqa: ASYNC110
                await anyio.sleep(0.02)
    status = engine.status()
    failures = replay.monitor.failures if replay is not None else []
    assert not failures, "\n".join(failures)
    assert status.fills_total >= fills and status.open_orders == 0, (
        f"{fills} fill(s) not booked within {within}s: {status}\n{replay.status() if replay else ''}"
    )
    return status


async def trade_from_environment(
    broker: str,
    strategy: Strategy,
    replay: StrategyReplay | None,
    *,
    environment: Mapping[str, str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    order_ids: Sequence[str],
    within: float = 15.0,
) -> EngineStatus:
    """Build ``broker``'s adapter as a user's script does and trade ``strategy`` on it.

    ``environment`` (names without the prefix, e.g. ``{"API_KEY": "k", "BASE_URL": replay.base_url}``)
    becomes ``AUTOTRADER_<BROKER>_*`` through ``monkeypatch``; the adapter is then
    ``PluginManager().load_entry_points().create_adapter(broker)``, its settings read from the
    environment, and :func:`run_strategy` runs it (a 0.02 s decision cycle, no signal handling)
    until one fill per recorded client order id in ``order_ids`` is booked.
    """
    for name, value in environment.items():
        monkeypatch.setenv(f"AUTOTRADER_{broker.upper()}_{name}", value)
    adapter = PluginManager().load_entry_points().create_adapter(broker)
    return await run_strategy(
        adapter,
        strategy,
        replay,
        ids=RecordedIds(*order_ids),
        settings=EngineSettings(data_dir=data_dir, decision_interval=0.02, handle_signals=False),
        fills=len(order_ids),
        within=within,
    )


def _done(engine: ExecutionEngine, replay: StrategyReplay | None, fills: int) -> bool:
    status = engine.status()
    return (replay is not None and bool(replay.monitor.failures)) or (
        status.fills_total >= fills and status.open_orders == 0
    )


def _renumbered(exchanges: list[HttpExchange]) -> tuple[HttpExchange, ...]:
    """The exchanges of both files with one index each (the replay keys its callbacks by index)."""
    return tuple(
        HttpExchange(index, e.label, e.request, e.response, optional=e.optional, reusable=e.reusable)
        for index, e in enumerate(exchanges)
    )


def _first_path(script: StreamScript) -> str:
    for steps in script.connections:
        if steps and "request" in steps[0] and "path" in steps[0]["request"]:
            return str(steps[0]["request"]["path"])
    raise ValueError("routing one stream host needs the market-data script to start with a request path")


class _PathRouter:
    """One loopback port in front of two line-stream servers: a connection whose request path is
    ``path`` goes to ``match``, every other one to ``other`` (bytes piped both ways)."""

    def __init__(self, path: str, match: str, other: str) -> None:
        self._path = path
        self._targets = (_port(match), _port(other))
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc_info: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].split(b"?", 1)[0].decode("latin-1")
            port = self._targets[0] if path == self._path else self._targets[1]
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, IndexError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
