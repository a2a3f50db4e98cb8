"""autotrader-web: the operator control plane — a JSON control API, a live page and webhook alerts.

Built only on the core's public control seam (:class:`~autotrader_core.control.EngineControl`)
and observer hooks. ``autotrader web --paper`` serves the page for the paper demo;
:class:`ControlPlane` serves it for an engine of your own. Names resolve on first use,
so loading the alert plugin does not import the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrader_core.lazy import lazy_names

if TYPE_CHECKING:
    from autotrader_web.alerts import AlertMessage, WebhookAlerter
    from autotrader_web.api import ApiError, create_app
    from autotrader_web.auth import Principal, TokenStore
    from autotrader_web.hub import LiveHub
    from autotrader_web.seam import OrderOwners, TradingStateActions
    from autotrader_web.server import ControlPlane
    from autotrader_web.settings import DEFAULT_PORT, WebSettings

__all__ = [
    "DEFAULT_PORT",
    "AlertMessage",
    "ApiError",
    "ControlPlane",
    "LiveHub",
    "OrderOwners",
    "Principal",
    "TokenStore",
    "TradingStateActions",
    "WebSettings",
    "WebhookAlerter",
    "create_app",
]

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_names(
    globals(),
    {
        "AlertMessage": "autotrader_web.alerts",
        "WebhookAlerter": "autotrader_web.alerts",
        "ApiError": "autotrader_web.api",
        "create_app": "autotrader_web.api",
        "Principal": "autotrader_web.auth",
        "TokenStore": "autotrader_web.auth",
        "LiveHub": "autotrader_web.hub",
        "OrderOwners": "autotrader_web.seam",
        "TradingStateActions": "autotrader_web.seam",
        "ControlPlane": "autotrader_web.server",
        "DEFAULT_PORT": "autotrader_web.settings",
        "WebSettings": "autotrader_web.settings",
    },
)
