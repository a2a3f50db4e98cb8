"""Webhook alerts, posted to a Slack-style receiver on 127.0.0.1 started by each test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from typing import Any

import pytest
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import TransientError
from autotrader_core.events import OutcomeResolved, OutcomeUnknown
from autotrader_core.models import Alert, Order
from autotrader_core.plugins import OBSERVER_GROUP, PluginManager
from autotrader_core.settings import EngineSettings
from autotrader_web import WebhookAlerter, WebSettings, alerts_plugin
from pydantic import SecretStr
from web_support import lose_next_submit, paper_adapter

SECRET_PATH = "/services/T000/B000/hook-secret-4f9a"


class Receiver:
    """A webhook receiver: answers each post with the next scripted status (then 200)."""

    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.script = list(script or [])
        self.posts: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.posts.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                receiver.times.append(time.monotonic())
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.posts

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def alerter_for(url: str, **overrides: Any) -> WebhookAlerter:
    values: dict[str, Any] = {
        "webhook_url": SecretStr(url),
        "webhook_backoff": 0.05,
        "webhook_max_backoff": 0.2,
    }
    values.update(overrides)
    return WebhookAlerter(WebSettings(_env_file=None, **values))  # type: ignore[call-arg]


def test_kill_switch_alert_is_posted_as_slack_text(receiver: Receiver) -> None:
    alerter = alerter_for(receiver.url)
    alerter.autotrader_on_alert(
        Alert(level="critical", message="kill switch engaged: drill", source="kill_switch")
    )
    alerter.autotrader_on_alert(Alert(level="info", message="chatter", source="engine"))  # below warning
    alerter.stop()
    assert receiver.posts == [{"text": ":rotating_light: [critical] kill_switch: kill switch engaged: drill"}]
    assert receiver.paths == [SECRET_PATH]
    assert alerter.sent == 1 and alerter.failed == 0


def test_server_errors_and_429_are_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver([(503, {}), (429, {"Retry-After": "0.3"}), (500, {})])
    try:
        alerter = alerter_for(receiver.url, webhook_attempts=5)
        alerter.autotrader_on_alert(
            Alert(level="critical", message="circuit breaker paper-requests opened", source="engine")
        )
        receiver.wait_for(4)
        alerter.stop()
    finally:
        receiver.close()
    assert len(receiver.posts) == 4 and alerter.sent == 1
    gaps = [b - a for a, b in zip(receiver.times, receiver.times[1:], strict=False)]
    assert gaps[0] >= 0.04  # backoff 0.05
    assert gaps[1] >= 0.19  # Retry-After 0.3, capped at webhook_max_backoff 0.2
    assert SECRET_PATH not in caplog.text


def test_a_refusal_is_not_retried_and_giving_up_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver([(400, {})])
    try:
        alerter = alerter_for(receiver.url)
        alerter.autotrader_on_alert(Alert(level="warning", message="submit outcome unknown", source="engine"))
        alerter.stop()
    finally:
        receiver.close()
    assert len(receiver.posts) == 1 and alerter.failed == 1
    assert "not delivered" in caplog.text and SECRET_PATH not in caplog.text


def test_an_unreachable_webhook_is_given_up_after_the_attempts(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    url = receiver.url
    receiver.close()  # nothing listens there any more
    alerter = alerter_for(url, webhook_attempts=3)
    started = time.monotonic()
    alerter.autotrader_on_alert(Alert(level="critical", message="x", source="engine"))
    alerter.stop(timeout=10)
    assert alerter.failed == 1 and alerter.sent == 0
    assert time.monotonic() - started >= 0.05 + 0.1  # two backoffs between three attempts
    assert SECRET_PATH not in caplog.text and "hook-secret" not in caplog.text


def test_hooks_never_block_and_a_full_queue_drops_with_a_log(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver([(503, {})] * 100)
    try:
        alerter = alerter_for(receiver.url, webhook_queue=2, webhook_attempts=20, webhook_backoff=0.5)
        started = time.monotonic()
        for i in range(10):
            alerter.autotrader_on_alert(Alert(level="critical", message=f"a{i}", source="engine"))
        assert time.monotonic() - started < 0.5
        assert alerter.dropped >= 7 and "queue full" in caplog.text
        alerter.stop(timeout=0.1)
    finally:
        receiver.close()


def test_without_a_url_nothing_is_posted_or_started() -> None:
    alerter = WebhookAlerter(WebSettings(_env_file=None))  # type: ignore[call-arg]
    alerter.autotrader_on_alert(Alert(level="critical", message="x", source="engine"))
    assert not alerter.enabled and alerter.sent == 0 and alerter._thread is None


def market_order(client_order_id: str) -> Order:
    """A market buy of 1 BTCUSDT on the paper broker (never sent: the alerter only reads it)."""
    return Order(
        client_order_id=client_order_id,
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D("1"),
        order_type=OrderType.MARKET,
        broker="paper",
    )


def test_journal_failure_is_posted(receiver: Receiver) -> None:
    alerter = alerter_for(receiver.url)
    order = market_order("c1")
    alerter.autotrader_on_reject(order, "journal unavailable: disk full", None)
    alerter.autotrader_on_reject(
        order, "MAX_ORDER_NOTIONAL", "MAX_ORDER_NOTIONAL"
    )  # an ordinary refusal: no post
    alerter.stop()
    assert len(receiver.posts) == 1 and "journal unavailable: disk full" in receiver.posts[0]["text"]


@pytest.mark.anyio
async def test_a_real_engine_posts_halt_and_kill_with_the_actor(receiver: Receiver) -> None:
    alerter = alerter_for(receiver.url)
    plugins = PluginManager(disabled=set())
    plugins.register(alerter, name="alerts")
    engine = ExecutionEngine(paper_adapter(), plugins=plugins, settings=EngineSettings(order_timeout=5))
    async with engine:
        await engine.control.halt(actor="web:alice", reason="maintenance")
        await engine.control.kill(actor="web:alice", reason="drill")
    alerter.stop()
    texts = [p["text"] for p in receiver.posts]
    assert any("halt by web:alice" in t and "reason=maintenance" in t for t in texts)
    assert any("kill by web:alice" in t for t in texts)
    assert any("kill_switch" in t and "drill (by web:alice)" in t for t in texts), texts
    assert all(SECRET_PATH not in t and "hook-secret" not in t for t in texts)


def test_the_plugin_registers_through_the_observer_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group=OBSERVER_GROUP)}
    assert names.get("web-alerts") == "autotrader_web.alerts_plugin"
    manager = PluginManager(disabled=set()).load_entry_points()
    assert not [e for e in manager.load_errors if e.name == "web-alerts"]


def test_the_plugin_module_forwards_to_the_configured_alerter(receiver: Receiver) -> None:
    alerter = alerts_plugin.configure(
        WebSettings(webhook_url=SecretStr(receiver.url), _env_file=None)  # type: ignore[call-arg]
    )
    try:
        assert alerts_plugin.default_alerter() is alerter
        alerts_plugin.autotrader_on_alert(Alert(level="critical", message="breaker open", source="engine"))
        assert receiver.wait_for(1) and "breaker open" in receiver.posts[0]["text"]
    finally:
        alerts_plugin.configure(WebSettings(_env_file=None))  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_an_unknown_order_is_posted_at_any_level_and_so_is_its_settling(receiver: Receiver) -> None:
    # Only critical engine alerts are wanted here: the unknown order is posted all the same.
    alerter = alerter_for(receiver.url, webhook_min_level="critical")
    plugins = PluginManager(disabled=set())
    plugins.register(alerter, name="alerts")
    adapter = paper_adapter()
    engine = ExecutionEngine(adapter, plugins=plugins, settings=EngineSettings(order_timeout=5))
    async with engine:
        lose_next_submit(adapter)
        with pytest.raises(TransientError):
            await engine.submit_order("BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price="60000")
        [order] = engine.control.open_orders()
        await engine.control.settle_unknown(
            order.client_order_id, as_="rejected", by="web:alice", reason="not at the venue"
        )
    alerter.stop()
    texts = [p["text"] for p in receiver.posts]
    unknown = [t for t in texts if "unknown order" in t and order.client_order_id in t]
    assert len(unknown) == 2, texts
    assert (
        unknown[0].startswith(":rotating_light:")
        and "submit reply was lost (reply lost in transit)" in unknown[0]
    )
    assert "0.01 BTCUSDT" in unknown[0] and "autotrader settle" in unknown[0]
    assert "settled: rejected, settled by web:alice: not at the venue" in unknown[1]
    assert all(SECRET_PATH not in t for t in texts)


def test_the_plugin_module_forwards_unknown_orders(receiver: Receiver) -> None:
    alerter = alerts_plugin.configure(
        WebSettings(webhook_url=SecretStr(receiver.url), _env_file=None)  # type: ignore[call-arg]
    )
    order = market_order("c9")
    try:
        assert alerts_plugin.default_alerter() is alerter
        alerts_plugin.autotrader_on_outcome_unknown(
            order, OutcomeUnknown("c9", "submit", "timed out", datetime.now(UTC))
        )
        alerts_plugin.autotrader_on_outcome_resolved(order, OutcomeResolved("c9", "submit", "found working"))
        assert len(receiver.wait_for(2)) == 2
        assert "unknown order c9" in receiver.posts[0]["text"]
        assert "c9 settled: found working" in receiver.posts[1]["text"]
    finally:
        alerts_plugin.configure(WebSettings(_env_file=None))  # type: ignore[call-arg]
