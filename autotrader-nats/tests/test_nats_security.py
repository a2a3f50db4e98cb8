"""Security against a real nats-server: each way ``NatsSettings`` authenticates, TLS, refusals, no secret shown.

Every server here demands what its case configures (``authorization``, an operator's JWTs, TLS
with or without client certificates); the gateway and a remote strategy reach it with
``NatsSettings`` alone and trade. A server that refuses the settings is a typed error at once,
not a connection retried forever, and no secret appears in a log line, an error, a repr or a
message that passed through the server.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import nats
import nkeys
import pytest
from auth_kit import decentralised, new_nkey, public, strategy_permissions, tls_files
from autotrader_core.account import AccountId
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import ConfigurationError
from autotrader_nats import AccountNames, NatsRefused, NatsSettings, connect_gateway
from nats_gateway_main import make_gateway, serving
from nats_kit import NatsServer, autotrader_command, running
from pydantic import SecretStr, ValidationError

pytestmark = pytest.mark.anyio

PASSWORD = "pw-0f9e8d7c6b5a"
TOKEN = "tok-1a2b3c4d5e6f"


@dataclass
class Case:
    """What a server demands, the settings that satisfy it and the secrets in them."""

    server_config: str
    settings: dict[str, Any]
    secrets: list[str] = field(default_factory=list)


def _user_password(folder: Path) -> Case:
    config = f'authorization {{ user: "gateway", password: "{PASSWORD}" }}\n'
    return Case(config, {"user": "gateway", "password": SecretStr(PASSWORD)}, [PASSWORD])


def _token(folder: Path) -> Case:
    return Case(f'authorization {{ token: "{TOKEN}" }}\n', {"token": SecretStr(TOKEN)}, [TOKEN])


def _nkey(folder: Path) -> Case:
    pair, seed = new_nkey(nkeys.PREFIX_BYTE_USER)
    config = f'authorization {{ users: [ {{ nkey: "{public(pair)}" }} ] }}\n'
    return Case(config, {"nkey_seed": SecretStr(seed)}, [seed])


def _creds_file(folder: Path) -> Case:
    setup = decentralised(folder)
    return Case(setup.server_config, {"creds_file": setup.creds_file}, [setup.user_seed])


def _tls(folder: Path) -> Case:
    files = tls_files(folder)
    return Case(files.server_config(verify_clients=False), {"tls_ca": files.ca})


def _mutual_tls_and_password(folder: Path) -> Case:
    files = tls_files(folder)
    password = _user_password(folder)
    return Case(
        files.server_config(verify_clients=True) + password.server_config,
        {"tls_ca": files.ca, "tls_cert": files.client_cert, "tls_key": files.client_key} | password.settings,
        password.secrets,
    )


CASES: dict[str, Callable[[Path], Case]] = {
    "user-password": _user_password,
    "token": _token,
    "nkey": _nkey,
    "creds-file": _creds_file,
    "tls": _tls,
    "mutual-tls-and-password": _mutual_tls_and_password,
}


@pytest.fixture(params=sorted(CASES))
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Case, NatsServer]]:
    """A server demanding one way to authenticate (or TLS), and that case."""
    case = CASES[request.param](tmp_path)
    with running(tmp_path, case.server_config) as server:
        yield case, server


def nats_settings(server: NatsServer, **settings: Any) -> NatsSettings:
    return NatsSettings(servers=[server.url], request_timeout=5, duplicate_window=2.0, **settings)


@asynccontextmanager
async def tapped(settings: NatsSettings) -> AsyncIterator[list[bytes]]:
    """Every message that passes through the account while the block runs (subject, data, headers)."""
    seen: list[bytes] = []

    async def record(msg: Any) -> None:
        seen.append(b" ".join([msg.subject.encode(), msg.data, repr(msg.headers).encode()]))

    tap = await nats.connect(**settings.connect_options(role="tap"))
    await tap.subscribe(">", cb=record)
    try:
        yield seen
    finally:
        await tap.flush()
        await tap.close()


def shown_anywhere(secret: str, *texts: str) -> bool:
    return any(secret in text for text in texts)


async def test_a_strategy_trades_through_the_gateway_with_each_way_to_authenticate(
    secured: tuple[Case, NatsServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case, server = secured
    settings = nats_settings(server, **case.settings)
    caplog.set_level(logging.DEBUG)  # nats-py's own debug lines too
    gateway = make_gateway(server.url, tmp_path / "data", nats_settings=settings)
    async with (
        serving(gateway),
        tapped(settings) as seen,
        connect_gateway("paper", "paper", nats_settings=settings) as engine,
    ):
        with anyio.fail_after(10):
            order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == Decimal("0.01")
    assert any(b".cmd" in message for message in seen)  # the tap saw the account's traffic
    for secret in case.secrets:
        assert not shown_anywhere(
            secret, caplog.text, repr(settings), str(settings), settings.model_dump_json()
        )
        assert not [message for message in seen if secret.encode() in message]


async def test_a_strategy_with_the_documented_permissions_trades_and_cannot_halt_the_account(
    tmp_path: Path,
) -> None:
    names = AccountNames(AccountId("paper", "paper", "default"))
    config = (
        "authorization { users = [\n"
        f'  {{ user: gateway, password: "{PASSWORD}" }}\n'
        f'  {{ user: alpha, password: "alpha-{PASSWORD}", permissions: {strategy_permissions(names, "alpha")} }}\n'
        "] }\n"
    )
    with running(tmp_path, config) as server:
        gateway = make_gateway(
            server.url,
            tmp_path / "data",
            nats_settings=nats_settings(server, user="gateway", password=SecretStr(PASSWORD)),
        )
        alpha = nats_settings(server, user="alpha", password=SecretStr(f"alpha-{PASSWORD}"))
        async with (
            serving(gateway),
            connect_gateway(
                "paper", "paper", owner="alpha", nats_settings=alpha, cancel_on_disconnect=True
            ) as engine,
        ):
            with anyio.fail_after(10):
                order = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
                while engine.context.position("BTCUSDT").quantity != Decimal("0.01"):  # its fill event came
                    await anyio.sleep(0.02)
            assert order.status is OrderStatus.FILLED
            # What it is not given: halting the account through the bucket, the command stream.
            nc = await nats.connect(**alpha.connect_options(role="alpha-tries"))
            js = nc.jetstream(timeout=1)
            with pytest.raises(nats.errors.TimeoutError):  # no answer to a denied publish
                await js.publish(f"$KV.{names.state_bucket}.trading_state", b"halted")
            with pytest.raises(nats.errors.TimeoutError):
                await js.delete_stream(names.command_stream)
            await nc.close()
            assert gateway.control.trading_state.value == "active"
            with anyio.fail_after(10):
                again = await engine.submit_order("BTCUSDT", "buy", Decimal("0.01"))
            assert again.status is OrderStatus.FILLED


@dataclass
class Refusal:
    """A server's demand, settings it refuses, and what the error must say."""

    server_config: str
    settings: dict[str, Any]
    says: str
    secret: str | None = None


def _wrong_password(folder: Path) -> Refusal:
    case = _user_password(folder)
    return Refusal(
        case.server_config,
        {"user": "gateway", "password": SecretStr("not-it-42")},
        "Authorization",
        "not-it-42",
    )


def _wrong_token(folder: Path) -> Refusal:
    return Refusal(
        _token(folder).server_config, {"token": SecretStr("tok-not-it-42")}, "Authorization", "tok-not-it-42"
    )


def _unknown_nkey(folder: Path) -> Refusal:
    _, stranger = new_nkey(nkeys.PREFIX_BYTE_USER)
    return Refusal(_nkey(folder).server_config, {"nkey_seed": SecretStr(stranger)}, "Authorization", stranger)


def _another_operators_creds(folder: Path) -> Refusal:
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    other = decentralised(elsewhere)
    return Refusal(
        _creds_file(folder).server_config, {"creds_file": other.creds_file}, "Authorization", other.user_seed
    )


def _untrusted_server_certificate(folder: Path) -> Refusal:
    # The system's trust store does not know the test CA that signed the server's certificate.
    return Refusal(_tls(folder).server_config, {"tls_required": True}, "certificate")


def _no_client_certificate(folder: Path) -> Refusal:
    files = tls_files(folder)
    return Refusal(files.server_config(verify_clients=True), {"tls_ca": files.ca}, "TLS")


REFUSALS: dict[str, Callable[[Path], Refusal]] = {
    "wrong-password": _wrong_password,
    "wrong-token": _wrong_token,
    "unknown-nkey": _unknown_nkey,
    "another-operators-creds": _another_operators_creds,
    "untrusted-server-certificate": _untrusted_server_certificate,
    "no-client-certificate": _no_client_certificate,
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
async def test_settings_the_server_refuses_are_a_typed_error_at_once_not_a_retry_loop(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = REFUSALS[name](tmp_path)
    caplog.set_level(logging.DEBUG)
    with running(tmp_path, refusal.server_config) as server:
        settings = nats_settings(server, **refusal.settings)
        with anyio.fail_after(10):  # before the fix: retried forever, never returned
            with pytest.raises(NatsRefused) as strategy_refused:
                async with connect_gateway("paper", "paper", nats_settings=settings):
                    pass
            with pytest.raises(NatsRefused) as gateway_refused:
                await make_gateway(server.url, tmp_path / "data", nats_settings=settings).run()
    for refused in (strategy_refused, gateway_refused):
        assert isinstance(refused.value, ConfigurationError)  # the core's error tree: fix the settings
        message = str(refused.value)
        assert server.url in message and refusal.says in message, message
    if refusal.secret is not None:
        texts = (caplog.text, str(strategy_refused.value), str(gateway_refused.value))
        assert not shown_anywhere(refusal.secret, *texts)


@pytest.mark.parametrize(
    "url", ["nats://gateway:not-it-42@127.0.0.1:4222", "nats://not-it-42@127.0.0.1:4222"]
)
def test_a_server_url_that_carries_credentials_is_refused_by_the_settings(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NatsSettings(servers=["nats://127.0.0.1:4223", url])
    assert "server 2 carries credentials" in str(refused.value) and "AUTOTRADER_NATS_PASSWORD" in str(
        refused.value
    )
    assert "not-it-42" not in str(refused.value)


def test_the_gateway_command_says_what_was_refused_in_a_line(tmp_path: Path) -> None:
    with running(tmp_path, _user_password(tmp_path).server_config) as server:
        env = {**os.environ, "AUTOTRADER_NATS_USER": "gateway", "AUTOTRADER_NATS_PASSWORD": "not-it-42"}
        data = str(tmp_path / "data")
        command = autotrader_command(
            "gateway", "--broker", "paper", "--data-dir", data, "--servers", server.url
        )
        # Before the fix it never returned: a timeout here is that failure.
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    # Its last line says it all (a reset the refusal caused may be logged before it).
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Authorization" in last and server.url in last, done.stderr
    assert "Traceback" not in done.stderr and "not-it-42" not in done.stderr + done.stdout


@pytest.mark.parametrize("field", ["creds_file", "tls_ca", "tls_cert", "tls_key"])
def test_a_credentials_or_certificate_file_that_is_not_there_is_refused_by_the_settings(
    field: str, tmp_path: Path
) -> None:
    missing: dict[str, Any] = {field: tmp_path / "nowhere.pem"}
    with pytest.raises(ValidationError, match=field):
        NatsSettings(**missing)


def test_the_gateway_command_names_a_settings_file_that_is_not_there(tmp_path: Path) -> None:
    env = {**os.environ, "AUTOTRADER_NATS_CREDS_FILE": str(tmp_path / "gateway.creds")}
    command = autotrader_command("gateway", "--broker", "paper", "--data-dir", str(tmp_path / "data"))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid NATS settings") and "creds_file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
