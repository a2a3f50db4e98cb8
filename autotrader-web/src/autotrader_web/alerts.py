"""Alert delivery to a Slack-compatible webhook, so an unattended engine can wake someone.

:class:`WebhookAlerter` is an observer plugin. It posts ``{"text": "..."}`` (the
incoming-webhook format of Slack, and of Mattermost and Rocket.Chat) for:

* every engine alert at or above ``webhook_min_level`` — the kill switch, a circuit
  breaker opening, an order whose outcome is unknown, a failing stream;
* an **unknown order** (a submit or modify whose reply was lost), whatever the level
  setting, and its settling;
* a journal failure (an order refused because the journal is unavailable);
* every operator action (halt, resume, cancel, flatten, kill — with who did it).

Hooks must return at once, so they only put the message on a bounded queue; one
daemon thread posts it, with up to ``webhook_attempts`` attempts, exponential backoff
and ``Retry-After`` honoured (capped). A message is retried only when it was not
accepted (transport error, 429, 5xx); a duplicate notification is harmless, a lost one
is not. The webhook URL is the secret: it is never logged and never in the body, and
the body carries alert text and token *names* only.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from autotrader_core.control import ControlAction
from autotrader_core.events import OutcomeResolved, OutcomeUnknown
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Alert, Order

from autotrader_web.settings import WebSettings

__all__ = ["AlertMessage", "WebhookAlerter"]

logger = logging.getLogger(__name__)

_LEVELS = {"info": 0, "warning": 1, "critical": 2}
_ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One notification: its level and the text posted."""

    level: str
    text: str

    def payload(self) -> dict[str, Any]:
        """The JSON body posted to the webhook (Slack's ``text`` field)."""
        return {"text": f"{_ICONS.get(self.level, '')} {self.text}".strip()}


class WebhookAlerter:
    """Posts alerts to ``settings.webhook_url`` from a background thread (register it as a plugin).

    Args:
        settings: Webhook URL, retry and queue limits; ``WebSettings()`` (the environment)
            by default. Without a URL the alerter does nothing.
        transport: httpx transport for the posting client (tests).

    Attributes:
        sent: Messages the webhook accepted.
        failed: Messages given up after every attempt (each one logged).
        dropped: Messages dropped because the queue was full (each one logged).
    """

    def __init__(
        self, settings: WebSettings | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings if settings is not None else WebSettings()
        self._transport = transport
        self._queue: queue.Queue[AlertMessage | None] = queue.Queue(maxsize=self.settings.webhook_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        """Set when :meth:`stop` ran out of time: the worker gives up what is left."""
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        """True when a webhook URL is configured."""
        return self.settings.webhook_url is not None

    def __repr__(self) -> str:
        return f"WebhookAlerter(enabled={self.enabled}, sent={self.sent}, failed={self.failed})"

    # -- hooks ----------------------------------------------------------------------------
    @hookimpl
    def autotrader_on_alert(self, alert: Alert) -> None:
        """Post an engine alert at or above the configured level."""
        if _LEVELS.get(alert.level, 2) >= _LEVELS[self.settings.webhook_min_level]:
            self.post(AlertMessage(alert.level, f"[{alert.level}] {alert.source}: {alert.message}"))

    @hookimpl
    def autotrader_on_reject(self, order: Order, reason: str, code: str | None) -> None:
        """Post a journal failure (orders are refused while the journal is unavailable)."""
        if reason.startswith("journal unavailable"):
            self.post(
                AlertMessage(
                    "critical",
                    f"[critical] journal: {reason} — new orders are refused ({order.broker} {order.symbol})",
                )
            )

    @hookimpl
    def autotrader_on_outcome_unknown(self, order: Order, outcome: OutcomeUnknown) -> None:
        """Post an unknown order at any level setting: it counts as open until the broker or a human settles it."""
        self.post(
            AlertMessage(
                "critical",
                f"[critical] unknown order {order.client_order_id} ({order.broker} {order.side} "
                f"{order.quantity} {order.symbol}): the {outcome.operation} reply was lost ({outcome.reason}); "
                "settle it on the operator page or with `autotrader settle` once you have checked the broker",
            )
        )

    @hookimpl
    def autotrader_on_outcome_resolved(self, order: Order | None, resolved: OutcomeResolved) -> None:
        """Post that an unknown order was settled (the person woken by the alert above can stand down)."""
        self.post(
            AlertMessage("warning", f"[unknown order] {resolved.client_order_id} settled: {resolved.how}")
        )

    @hookimpl
    def autotrader_on_control_action(self, action: ControlAction) -> None:
        """Post every operator action, with who did it."""
        detail = ", ".join(f"{k}={v}" for k, v in action.detail.items() if v)
        level = "critical" if action.action in ("kill", "halt", "flatten") else "warning"
        text = f"[control] {action.action} by {action.actor} on {action.account}"
        self.post(AlertMessage(level, text + (f" ({detail})" if detail else "")))

    # -- delivery -------------------------------------------------------------------------
    def post(self, message: AlertMessage) -> None:
        """Queue ``message`` for delivery (never blocks; drops and logs when the queue is full)."""
        if not self.enabled or self._stopping.is_set():
            return
        self._ensure_worker()
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
            logger.error("alert webhook queue full; dropped alert: %s", message.text)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds), then end the worker thread."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            thread.join(timeout)
            if thread.is_alive():
                self._abandon.set()
                logger.error("alert webhook: gave up delivering after %.1f s at shutdown", timeout)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="autotrader-web-alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        settings = self.settings
        assert settings.webhook_url is not None
        url = settings.webhook_url.get_secret_value()
        with httpx.Client(timeout=settings.webhook_timeout, transport=self._transport) as client:
            while True:
                message = self._queue.get()
                if message is None or self._abandon.is_set():
                    return
                if self._deliver(client, url, message):
                    self.sent += 1
                else:
                    self.failed += 1
                    logger.error(
                        "alert not delivered after %d attempts: %s", settings.webhook_attempts, message.text
                    )

    def _deliver(self, client: httpx.Client, url: str, message: AlertMessage) -> bool:
        settings = self.settings
        for attempt in range(1, settings.webhook_attempts + 1):
            delay = min(settings.webhook_backoff * 2 ** (attempt - 1), settings.webhook_max_backoff)
            try:
                response = client.post(url, json=message.payload())
            except httpx.HTTPError as exc:
                # The exception text may hold the URL (the secret): log its type only.
                logger.warning("alert webhook attempt %d failed: %s", attempt, type(exc).__name__)
            else:
                if response.is_success:
                    return True
                if response.status_code != 429 and response.status_code < 500:
                    logger.error("alert webhook refused the alert with HTTP %d", response.status_code)
                    return False
                logger.warning("alert webhook attempt %d: HTTP %d", attempt, response.status_code)
                delay = _retry_after(response, delay, settings.webhook_max_backoff)
            if attempt < settings.webhook_attempts and self._abandon.wait(delay):
                return False
        return False


def _retry_after(response: httpx.Response, default: float, cap: float) -> float:
    text = response.headers.get("retry-after", "")
    try:
        return min(max(float(text), 0.0), cap)
    except ValueError:
        return default
