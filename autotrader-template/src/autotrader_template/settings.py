"""Settings of the template adapter (env prefix ``AUTOTRADER_TEMPLATE_``).

REPLACE: the environments, their URLs and the credential fields with your venue's.
The test environment is the default: live trading must be asked for explicitly.
"""

from __future__ import annotations

from typing import Literal

from autotrader_core.errors import ConfigurationError
from autotrader_core.settings import BrokerSettings, refuse_live_hosts
from autotrader_core.transport_choice import TransportChoice
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

__all__ = ["ENVIRONMENTS", "TemplateEnvironment", "TemplateSettings"]

TemplateEnvironment = Literal["live", "testnet"]

ENVIRONMENTS: dict[str, tuple[str, str]] = {
    # environment: (REST base URL, private WebSocket URL). ".invalid" never resolves: imaginary venue.
    "live": ("https://api.template.invalid", "wss://stream.template.invalid/v1/private"),
    "testnet": ("https://api.testnet.template.invalid", "wss://stream.testnet.template.invalid/v1/private"),
}
"""Documented endpoints per environment: ``(REST base URL, private stream URL)``."""


class TemplateSettings(BrokerSettings):
    """Configuration of one account at the template venue."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOTRADER_TEMPLATE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        hide_input_in_errors=True,  # a malformed secret is never echoed in a ValidationError
    )

    environment: TemplateEnvironment = "testnet"
    """``testnet`` (default) or ``live`` (real money; must be asked for)."""
    api_key: SecretStr | None = None
    """The API key (sent as the ``TV-KEY`` header)."""
    api_secret: SecretStr | None = None
    """The HMAC secret that signs requests (never sent)."""
    http_transport: TransportChoice = "auto"
    """REST transport: ``auto`` (lean unless a proxy applies), ``lean``, ``httpx`` or ``aiohttp``."""
    reconnect_backoff: float = Field(default=0.5, gt=0)
    """First wait before the private stream reconnects (doubles up to 30 s)."""

    @model_validator(mode="after")
    def _no_live_host_outside_live(self) -> TemplateSettings:
        # An override pointing at the live host would trade real money while is_live says False.
        refuse_live_hosts(self, broker="template", live_urls=ENVIRONMENTS["live"])
        return self

    @property
    def rest_url(self) -> str:
        """REST base URL: the override if set, else the environment's."""
        return (self.base_url or ENVIRONMENTS[self.environment][0]).rstrip("/")

    @property
    def stream_url(self) -> str:
        """Private stream URL: the override if set, else the environment's."""
        return self.ws_url or ENVIRONMENTS[self.environment][1]

    def credentials(self) -> tuple[str, str]:
        """``(api_key, api_secret)`` as plain text, for the signer only.

        Raises:
            ConfigurationError: either is missing.
        """
        if self.api_key is None or self.api_secret is None:
            raise ConfigurationError(
                "the template venue needs AUTOTRADER_TEMPLATE_API_KEY and AUTOTRADER_TEMPLATE_API_SECRET",
                broker="template",
            )
        return self.api_key.get_secret_value(), self.api_secret.get_secret_value()
