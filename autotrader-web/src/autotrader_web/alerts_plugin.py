"""Entry-point plugin (group ``autotrader.observers``, name ``web-alerts``).

pluggy registers this *module*; its hooks forward to one process-wide
:class:`~autotrader_web.alerts.WebhookAlerter` built from the environment
(``AUTOTRADER_WEB_WEBHOOK_URL`` and friends). Without a webhook URL it does nothing;
importing it starts nothing (the posting thread starts with the first alert).
"""

from __future__ import annotations

from autotrader_core.control import ControlAction
from autotrader_core.events import OutcomeResolved, OutcomeUnknown
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Alert, Order

from autotrader_web.alerts import WebhookAlerter
from autotrader_web.settings import WebSettings

__all__ = ["configure", "default_alerter"]

_alerter = WebhookAlerter()


def default_alerter() -> WebhookAlerter:
    """The alerter behind the entry-point hooks."""
    return _alerter


def configure(settings: WebSettings | None = None) -> WebhookAlerter:
    """Replace the process-wide alerter (stopping the old one); returns the new one."""
    global _alerter
    previous, _alerter = _alerter, WebhookAlerter(settings)
    previous.stop(timeout=1.0)
    return _alerter


@hookimpl
def autotrader_on_alert(alert: Alert) -> None:
    """Forward to :meth:`WebhookAlerter.autotrader_on_alert`."""
    _alerter.autotrader_on_alert(alert)


@hookimpl
def autotrader_on_reject(order: Order, reason: str, code: str | None) -> None:
    """Forward to :meth:`WebhookAlerter.autotrader_on_reject`."""
    _alerter.autotrader_on_reject(order, reason, code)


@hookimpl
def autotrader_on_control_action(action: ControlAction) -> None:
    """Forward to :meth:`WebhookAlerter.autotrader_on_control_action`."""
    _alerter.autotrader_on_control_action(action)


@hookimpl
def autotrader_on_outcome_unknown(order: Order, outcome: OutcomeUnknown) -> None:
    """Forward to :meth:`WebhookAlerter.autotrader_on_outcome_unknown`."""
    _alerter.autotrader_on_outcome_unknown(order, outcome)


@hookimpl
def autotrader_on_outcome_resolved(order: Order | None, resolved: OutcomeResolved) -> None:
    """Forward to :meth:`WebhookAlerter.autotrader_on_outcome_resolved`."""
    _alerter.autotrader_on_outcome_resolved(order, resolved)
