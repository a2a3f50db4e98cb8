"""Credentials and certificates for the security tests, made fresh per test (no key is checked in).

* **nkeys**: a user key pair made with the ``nkeys`` package (what nats-py signs with).
* **creds file**: NATS's decentralised auth — an operator, an account (JetStream enabled) and a
  user, each a JWT signed with its issuer's nkey, as ``nsc`` would make them; the server
  trusts the operator and has the account preloaded (``resolver: MEMORY``).
* **TLS**: a throwaway CA and certificates for ``127.0.0.1`` made with ``trustme``.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys
import trustme
from autotrader_nats import permissions
from autotrader_nats.wire import AccountNames

_UNLIMITED = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_nkey(prefix: int) -> tuple[nkeys.KeyPair, str]:
    """A fresh key pair of this kind (``nkeys.PREFIX_BYTE_USER`` …) and its seed (``S…``)."""
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    return nkeys.from_seed(bytearray(seed)), seed.decode()


def public(pair: nkeys.KeyPair) -> str:
    """The key pair's public key (``U…``, ``A…``, ``O…``)."""
    return str(pair.public_key.decode())


def _jwt(issuer: nkeys.KeyPair, subject: str, name: str, claims: dict[str, Any]) -> str:
    body = {"jti": _b64(os.urandom(16)), "iat": int(time.time()), "iss": public(issuer), "name": name}
    body |= {"sub": subject, "nats": claims | {"version": 2}}
    signed = f"{_b64(json.dumps({'typ': 'JWT', 'alg': 'ed25519-nkey'}).encode())}.{_b64(json.dumps(body).encode())}"
    return f"{signed}.{_b64(issuer.sign(signed.encode()))}"


@dataclass(frozen=True)
class Decentralised:
    """An operator-mode server's configuration and a user's ``.creds`` file for it."""

    server_config: str
    creds_file: Path
    user_seed: str


def decentralised(folder: Path) -> Decentralised:
    """Operator, account (JetStream on, no limits) and user JWTs; the user's creds file in ``folder``."""
    operator, _ = new_nkey(nkeys.PREFIX_BYTE_OPERATOR)
    account, _ = new_nkey(nkeys.PREFIX_BYTE_ACCOUNT)
    system, _ = new_nkey(nkeys.PREFIX_BYTE_ACCOUNT)
    user, user_seed = new_nkey(nkeys.PREFIX_BYTE_USER)
    jetstream = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
    account_jwt = _jwt(
        operator,
        public(account),
        "trading",
        {"type": "account", "limits": _UNLIMITED | {"conn": -1, "leaf": -1} | jetstream},
    )
    system_jwt = _jwt(operator, public(system), "SYS", {"type": "account", "limits": _UNLIMITED})
    user_jwt = _jwt(account, public(user), "gateway", {"type": "user", "pub": {}, "sub": {}} | _UNLIMITED)
    creds = folder / "gateway.creds"
    creds.write_text(
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user_seed}\n"
        "------END USER NKEY SEED------\n"
    )
    config = (
        f'operator: "{_jwt(operator, public(operator), "test-operator", {"type": "operator"})}"\n'
        f'system_account: "{public(system)}"\n'
        "resolver: MEMORY\n"
        f'resolver_preload: {{\n  {public(account)}: "{account_jwt}"\n  {public(system)}: "{system_jwt}"\n}}\n'
    )
    return Decentralised(config, creds, user_seed)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_config(self, *, verify_clients: bool) -> str:
        """The server's ``tls`` block (``verify_clients``: mutual TLS, a client must show a certificate)."""
        verify = "true" if verify_clients else "false"
        return (
            f'tls {{\n  cert_file: "{self.server_cert}"\n  key_file: "{self.server_key}"\n'
            f'  ca_file: "{self.ca}"\n  verify: {verify}\n  timeout: 2\n}}\n'
        )


def tls_files(folder: Path) -> TlsFiles:
    """A new CA and its certificates, written to ``folder``."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("gateway@autotrader.test")
    files = TlsFiles(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    server.cert_chain_pems[0].write_to_path(str(files.server_cert))
    server.private_key_pem.write_to_path(str(files.server_key))
    client.cert_chain_pems[0].write_to_path(str(files.client_cert))
    client.private_key_pem.write_to_path(str(files.client_key))
    return files


def strategy_permissions(names: AccountNames, owner: str) -> str:
    """The permissions docs/deployment-nats.md gives a strategy process (what ``autotrader
    nats-permissions`` prints), as the JSON a nats-server user's block takes."""
    return json.dumps(permissions.strategy_permissions(names, owner))
