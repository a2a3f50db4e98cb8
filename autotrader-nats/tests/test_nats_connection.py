"""The first connection: a refusal ends it at once; a server not up yet is waited for, quietly."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import anyio
import pytest
from autotrader_nats import NatsSettings
from autotrader_nats.connection import _refusal, connect_nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats_kit import NatsServer, free_port

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (NatsError("nats: 'Authorization Violation'"), "Authorization Violation"),
        (NatsError("nats: 'User Authentication Expired'"), "User Authentication Expired"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS: certificate verify failed"),
        (NatsError("nats: 'Authentication Timeout'"), None),  # a slow handshake on a busy host may pass
        (ConnectionRefusedError(111, "Connect call failed"), None),  # not up yet
        (NatsError("nats: 'Maximum Connections Exceeded'"), None),
    ],
)
def test_what_counts_as_a_refusal(error: Exception, refused: str | None) -> None:
    assert _refusal(error) == refused


async def test_a_server_not_up_yet_is_waited_for_with_one_warning_not_one_per_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="autotrader_nats.connection")
    port = free_port()
    settings = NatsSettings(servers=[f"nats://127.0.0.1:{port}"])
    connected: list[Client] = []

    async def connect() -> None:
        connected.append(await connect_nats(settings, role="gateway-test"))

    store = tmp_path / "jetstream"
    store.mkdir()
    server = NatsServer(store, port=port)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(connect)
            await anyio.sleep(1.5)  # ~6 attempts at 0.25 s
            assert not connected
            server.start()
            with anyio.fail_after(10):
                while not connected:
                    await anyio.sleep(0.05)
        assert connected[0].is_connected
        await connected[0].close()
    finally:
        server.stop()
    warnings = [r for r in caplog.records if r.name == "autotrader_nats.connection"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "gateway-test" in warnings[0].getMessage()
