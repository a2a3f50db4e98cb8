"""Paper and live money stay apart: a live port needs ``environment="live"``.

IBKR has no URLs to override: TWS / IB Gateway picks paper or live money by its
API port, so the guard is on ``port``. Settings errors never echo input values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from autotrader_core.errors import ConfigurationError
from autotrader_ibkr import IbkrSettings
from autotrader_ibkr.settings import DEFAULT_PORTS
from pydantic import ValidationError

SENTINEL = "NEVER-ECHOED-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "HOST", "PORT", "APPLICATION", "CLIENT_ID", "ACCOUNT"):
        monkeypatch.delenv(f"AUTOTRADER_IBKR_{name}", raising=False)


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        # live port + paper: refused (TWS and Gateway)
        ({"environment": "paper", "port": DEFAULT_PORTS[("live", "tws")]}, True),
        ({"environment": "paper", "port": DEFAULT_PORTS[("live", "gateway")]}, True),
        # paper port + live: refused too (the configuration would lie the other way)
        ({"environment": "live", "port": DEFAULT_PORTS[("paper", "gateway")]}, True),
        # live port + live: allowed
        ({"environment": "live", "port": DEFAULT_PORTS[("live", "gateway")]}, False),
        # loopback host, paper port or a custom (forwarded) port: allowed
        ({"environment": "paper", "host": "127.0.0.1", "port": DEFAULT_PORTS[("paper", "tws")]}, False),
        ({"environment": "paper", "host": "127.0.0.1", "port": 14002}, False),
    ],
)
def test_port_must_match_environment(values: dict[str, object], refused: bool) -> None:
    def build() -> IbkrSettings:
        return IbkrSettings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]

    if not refused:
        settings = build()
        assert settings.is_live == (values["environment"] == "live")
        assert settings.resolved_port == values["port"]
        return
    with pytest.raises(ConfigurationError, match="set environment="):
        build()


def test_malformed_value_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRADER_IBKR_CLIENT_ID", f"id-{SENTINEL}")  # not an integer
    with pytest.raises(ValidationError, match="client_id") as caught:
        IbkrSettings(_env_file=None)  # type: ignore[call-arg]
    assert SENTINEL not in str(caught.value)


def test_env_file_is_read_as_utf8(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# Händler-Konto für Tests\nAUTOTRADER_IBKR_ACCOUNT=DU1234567\n", encoding="utf-8")
    assert IbkrSettings(_env_file=env_file).account == "DU1234567"  # type: ignore[call-arg]
    assert IbkrSettings.model_config.get("env_file_encoding") == "utf-8"
    assert IbkrSettings.model_config.get("validate_default") is True
