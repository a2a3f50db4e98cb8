"""Bearer-token authentication: named tokens, read or control, compared in constant time."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from autotrader_web.settings import WebSettings

__all__ = ["Principal", "Role", "TokenStore"]

Role = Literal["read", "control"]
"""What a token may do: ``read`` every endpoint, or also ``control`` (act)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the token's name and role (never the token itself)."""

    name: str
    role: Role

    @property
    def can_control(self) -> bool:
        """True for control tokens."""
        return self.role == "control"

    @property
    def actor(self) -> str:
        """The actor written to the audit log: ``web:<token name>``."""
        return f"web:{self.name}"


class TokenStore:
    """Checks ``Authorization: Bearer <token>`` headers against the configured tokens.

    Every configured token is compared (with :func:`hmac.compare_digest`) on every
    request, matching or not, so the time taken says nothing about which token, or how
    much of one, was right.
    """

    def __init__(self, read: dict[str, SecretStr], control: dict[str, SecretStr]) -> None:
        self._tokens: list[tuple[bytes, Principal]] = [
            (secret.get_secret_value().encode(), Principal(name, "read")) for name, secret in read.items()
        ] + [
            (secret.get_secret_value().encode(), Principal(name, "control"))
            for name, secret in control.items()
        ]

    @classmethod
    def from_settings(cls, settings: WebSettings) -> TokenStore:
        """The tokens of ``settings``."""
        return cls(settings.read_tokens, settings.control_tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __repr__(self) -> str:
        return f"TokenStore({[p.name for _, p in self._tokens]!r})"

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal for an ``Authorization`` header value, or ``None`` if it is not valid."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        offered = credentials.strip().encode()
        found: Principal | None = None
        for secret, principal in self._tokens:
            if hmac.compare_digest(offered, secret) and found is None:
                found = principal
        return found
