"""How to reach NATS: servers, credentials, TLS (pydantic-settings, env prefix ``AUTOTRADER_NATS_``).

Credentials are ``SecretStr`` (never in a repr, a log line or an error) and are only
turned into text when handed to the client. Example::

    AUTOTRADER_NATS_SERVERS='["nats://10.0.0.5:4222","nats://10.0.0.6:4222"]'
    AUTOTRADER_NATS_CREDS_FILE=/etc/autotrader/gateway.creds
    AUTOTRADER_NATS_TLS_CA=/etc/autotrader/ca.pem
"""

from __future__ import annotations

import ssl
from typing import Any

from autotrader_core.settings import redact_url
from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["NatsSettings"]


class NatsSettings(BaseSettings):
    """Connection and JetStream settings shared by the gateway and remote strategies."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_NATS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    """Seed servers of the cluster (the client learns the others and fails over); no
    credentials in them (a URL is not a secret: it shows in reprs and logs)."""
    name: str | None = None
    """Connection name shown in the server's monitoring (defaults to the role)."""
    creds_file: FilePath | None = None
    """A ``.creds`` file (JWT + nkey seed) for decentralised auth."""
    nkey_seed: SecretStr | None = None
    """An nkey seed (``SU...``) for nkey auth, when no creds file is used."""
    user: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    tls_ca: FilePath | None = None
    """CA bundle to verify the servers; setting any ``tls_*`` turns TLS on."""
    tls_cert: FilePath | None = None
    """Client certificate (mutual TLS)."""
    tls_key: FilePath | None = None
    tls_required: bool = False
    """Use TLS with the system's trust store even without ``tls_ca``."""
    replicas: int = Field(default=1, ge=1, le=5)
    """JetStream replicas of the gateway's streams and bucket (3 on a three-node cluster)."""
    duplicate_window: float = Field(default=120.0, gt=0)
    """Seconds JetStream de-duplicates commands by ``Nats-Msg-Id`` (the gateway's own
    record of executed commands is the final word beyond it)."""
    events_max_age: float = Field(default=7 * 24 * 3600.0, gt=0)
    """Seconds the event stream keeps events for replay."""
    request_timeout: float = Field(default=10.0, gt=0)
    """Seconds a remote strategy waits for a command's reply before asking what happened."""

    @field_validator("servers")
    @classmethod
    def _no_credentials_in_urls(cls, servers: list[str]) -> list[str]:
        for number, url in enumerate(servers, 1):
            if redact_url(url) != url:  # the URL itself is never repeated here: it holds the secret
                raise ValueError(
                    f"server {number} carries credentials in its URL, where they would show in reprs "
                    "and logs: use AUTOTRADER_NATS_USER and AUTOTRADER_NATS_PASSWORD, or AUTOTRADER_NATS_TOKEN"
                )
        return servers

    def connect_options(self, *, role: str) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (secrets revealed only here)."""
        options: dict[str, Any] = {
            "servers": list(self.servers),
            "name": self.name or f"autotrader-{role}",
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.25,
            "allow_reconnect": True,
        }
        if self.creds_file is not None:
            options["user_credentials"] = str(self.creds_file)
        elif self.nkey_seed is not None:
            options["nkeys_seed_str"] = self.nkey_seed.get_secret_value()
        if self.user is not None:
            options["user"] = self.user
        if self.password is not None:
            options["password"] = self.password.get_secret_value()
        if self.token is not None:
            options["token"] = self.token.get_secret_value()
        if self.tls_ca or self.tls_cert or self.tls_required:
            context = ssl.create_default_context(cafile=str(self.tls_ca) if self.tls_ca else None)
            if self.tls_cert is not None:
                context.load_cert_chain(str(self.tls_cert), str(self.tls_key) if self.tls_key else None)
            options["tls"] = context
        return options
