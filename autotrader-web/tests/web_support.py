"""Constants and builders the web tests share (a module of its own: test modules cannot import
``conftest`` once every package's tests are collected in one pytest run)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx
from autotrader_core.engine import ExecutionEngine
from autotrader_core.errors import RequestTimeout
from autotrader_core.resend import ResendGuarantee
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_web import ControlPlane, WebSettings
from pydantic import SecretStr

CONTROL_TOKEN = "control-token-alice-0123456789"
READ_TOKEN = "read-token-wallboard-0123456789"
PRICE = Decimal("65000.00")


def web_settings(**overrides: object) -> WebSettings:
    """Loopback, a free port, one control token (alice) and one read token (wallboard)."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "control_tokens": {"alice": SecretStr(CONTROL_TOKEN)},
        "read_tokens": {"wallboard": SecretStr(READ_TOKEN)},
        "heartbeat_seconds": 1.0,
        **overrides,
    }
    return WebSettings(**values)  # type: ignore[arg-type]


def paper_adapter() -> PaperAdapter:
    """The paper broker at a fixed price: market orders fill at once, far limits rest."""
    return PaperAdapter(PaperSettings(quote_source="static", static_price=PRICE, slippage_bps=Decimal(0)))


def lose_next_submit(adapter: PaperAdapter) -> None:
    """The next submit never reaches the paper book and its reply is lost: its outcome stays unknown.

    The paper simulator declares an idempotency key, so the resolver would settle a lost submit
    by re-sending it; here the venue declares none (as OANDA), so it stays unknown for an operator.
    """
    adapter.resend_guarantee = ResendGuarantee.none("web tests: a lost submit stays unknown")
    adapter.faults.fail_next("submit", RequestTimeout("reply lost in transit"), after_apply=False)


@dataclass
class Session:
    """A running engine with the control plane's app and a client for it."""

    engine: ExecutionEngine
    adapter: PaperAdapter
    plane: ControlPlane
    client: httpx.AsyncClient

    def headers(self, token: str = CONTROL_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}
