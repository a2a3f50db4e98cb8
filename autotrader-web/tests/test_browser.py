"""The operator page in a real headless Chromium (Debian's ``chromium``), as a person uses it.

A paper session (paper broker + the sample strategy) runs on its own thread's event
loop with the page served by uvicorn on 127.0.0.1; the browser signs in with a token
and sees fills arrive, cancels an order, engages the kill switch.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``CI=true``)
these tests must run, so a missing browser fails them.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal
from autotrader_core.engine import ExecutionEngine
from autotrader_core.enums import OrderStatus
from autotrader_core.errors import TransientError
from autotrader_core.hookspecs import hookimpl
from autotrader_core.models import Fill, Order, Position
from autotrader_core.plugins import PluginManager
from autotrader_core.samples import MeanReversionDemo
from autotrader_core.settings import EngineSettings
from autotrader_paper import PaperAdapter, PaperSettings
from autotrader_web import ControlPlane
from playwright.sync_api import Page, ViewportSize, expect
from web_support import CONTROL_TOKEN, READ_TOKEN, lose_next_submit, web_settings

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not IN_CI,
    reason=f"{CHROMIUM} is missing (apt-get install -y chromium); in CI these tests run and fail instead",
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The distribution's Chromium, headless, with nothing that reaches the network on its own."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


class FillClock:
    """Observer that records the wall-clock time each fill reached the engine."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    @hookimpl
    def autotrader_on_fill(self, order: Order, fill: Fill, position: Position) -> None:
        self.at.setdefault(fill.trade_id, time.time())


@dataclass
class LiveSession:
    """A paper session with the page, on a portal thread; the test drives it from outside."""

    portal: BlockingPortal
    engine: ExecutionEngine
    adapter: PaperAdapter
    plane: ControlPlane
    clock: FillClock
    owners: dict[str, str] = field(default_factory=dict)
    """Order -> strategy, for a session served like a gateway's (``owners=``)."""
    url: str = ""
    done: Any = field(default=None)

    def call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        return self.portal.call(partial(func, *args, **kwargs))

    def price(self) -> D:
        price = self.adapter.last_price("BTCUSDT")
        assert price is not None
        return price


async def _run(session: LiveSession, *, task_status: TaskStatus[str]) -> None:
    async with session.engine, anyio.create_task_group() as tg:
        url = await tg.start(session.plane.serve)
        task_status.started(url)
        await session.plane.stopped.wait()
        tg.cancel_scope.cancel()


@pytest.fixture
def live() -> Iterator[LiveSession]:
    """A running paper session (random-walk prices, the demo strategy trading) with the page."""
    yield from _live_session(MeanReversionDemo("BTCUSDT"))


@pytest.fixture
def quiet_live() -> Iterator[LiveSession]:
    """The same without a strategy: only the test places orders (a planned fault hits its order)."""
    yield from _live_session(None)


@pytest.fixture
def owned_live() -> Iterator[LiveSession]:
    """Without a strategy, served the way a gateway serves it: every order names its strategy."""
    yield from _live_session(None, with_owners=True)


def _live_session(strategy: MeanReversionDemo | None, *, with_owners: bool = False) -> Iterator[LiveSession]:
    with start_blocking_portal("asyncio") as portal:
        adapter = PaperAdapter(PaperSettings(seed=11, tick_interval=0.05))
        plugins = PluginManager(disabled=set())
        clock = FillClock()
        plugins.register(clock, name="fill-clock")
        engine = ExecutionEngine(
            adapter,
            strategy=strategy,
            plugins=plugins,
            settings=EngineSettings(decision_interval=0.1, order_timeout=5),
        )
        owners: dict[str, str] = {}
        plane = ControlPlane(
            engine.control, web_settings(), plugins=plugins, owners=owners.get if with_owners else None
        )
        session = LiveSession(portal, engine, adapter, plane, clock, owners)
        session.done, session.url = portal.start_task(_run, session)
        try:
            yield session
        finally:
            portal.call(plane.stop)
            session.done.result(timeout=15)


def sign_in(page: Page, live: LiveSession, token: str = CONTROL_TOKEN) -> None:
    page.goto(live.url)
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible(timeout=10_000)
    expect(page.locator("#conn")).to_have_text("live", timeout=10_000)


def test_without_a_token_the_page_shows_a_login_prompt_not_data(page: Page, live: LiveSession) -> None:
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"))
    page.goto(live.url)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert page.locator("#fills tbody tr").count() == 0
    assert "BTCUSDT" not in page.inner_text("body")
    page.fill("#token", "wrong-token-wrong-token-0000")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("refused", timeout=10_000)
    expect(page.locator("#app")).to_be_hidden()


def test_page_shows_a_fill_soon_after_it_happens(page: Page, live: LiveSession) -> None:
    sign_in(page, live)
    expect(page.locator("#account")).to_have_text("paper/paper/default")
    expect(page.locator("#state-badge")).to_have_text("active")
    order: Order = live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), tag="browser-test")
    fill: Fill = live.call(lambda: live.engine.control.fills(limit=1000))
    trade_id = next(f.trade_id for f in fill if f.client_order_id == order.client_order_id)  # type: ignore[attr-defined]
    row = page.locator(f'#fills tr[data-trade="{trade_id}"]')
    expect(row).to_be_visible(timeout=10_000)  # generous: the measured delay is printed below
    seen_ms = int(row.get_attribute("data-first-seen") or "0")
    delay = seen_ms / 1000 - live.clock.at[trade_id]
    print(f"\nfill-to-page delay: {delay * 1000:.0f} ms (engine fill hook -> row rendered in Chromium)")
    assert delay < 5.0
    expect(row).to_contain_text(order.client_order_id)
    expect(page.locator("#positions tr[data-symbol=BTCUSDT]")).to_be_visible()


def test_cancel_on_one_order_cancels_it_at_the_paper_broker(page: Page, live: LiveSession) -> None:
    sign_in(page, live)
    far = (live.price() * D("0.5")).quantize(D("0.01"))
    target: Order = live.call(
        live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far
    )
    other: Order = live.call(
        live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far - 1
    )
    row = page.locator(f'#orders tr[data-order="{target.client_order_id}"]')
    expect(row).to_be_visible(timeout=10_000)
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(0, timeout=10_000)
    assert target.status is OrderStatus.CANCELED
    at_broker = {r.client_order_id for r in live.call(live.adapter.get_open_orders)}
    assert target.client_order_id not in at_broker
    assert other.client_order_id in at_broker  # only the one clicked
    expect(page.locator(f'#orders tr[data-order="{other.client_order_id}"]')).to_be_visible()
    expect(page.locator("#alerts")).to_contain_text(
        f"cancel by web:alice (client_order_id={target.client_order_id})"
    )


def test_kill_button_after_confirmation_engages_the_kill_switch(page: Page, live: LiveSession) -> None:
    sign_in(page, live)
    kill = page.locator("#actions button[data-action=kill]")
    kill.click()
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("kill switch")
    page.click("#confirm-no")  # backing out does nothing
    expect(dialog).to_be_hidden()
    time.sleep(0.3)
    untouched = live.engine.control.kill_report  # a local, so mypy's narrowing stays on it alone
    assert untouched is None
    kill.click()
    page.click("#confirm-yes")
    expect(page.locator("#state-badge")).to_have_text("halted · kill switch", timeout=10_000)
    report = live.engine.control.kill_report
    assert report is not None and "web:alice" in report.reason
    assert live.engine.control.trading_state.value == "halted"
    expect(page.locator("#alerts")).to_contain_text("kill by web:alice")
    expect(page.locator("#actions button[data-action=resume]")).to_be_disabled()


def test_an_operator_settles_an_unknown_order_from_the_page_audited(
    page: Page, quiet_live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    live = quiet_live
    sign_in(page, live)
    expect(page.locator("#unknown-card")).to_be_hidden()
    far = (live.price() * D("0.5")).quantize(D("0.01"))
    # The request never reaches the paper book and its reply is lost: the outcome is unknown.
    lose_next_submit(live.adapter)
    with pytest.raises(TransientError):
        live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far)
    [order] = live.call(live.engine.control.open_orders)
    cid = order.client_order_id
    item = page.locator(f'#unknown li[data-unknown="{cid}"]')
    expect(item).to_be_visible(timeout=10_000)
    expect(item).to_contain_text("submit")
    expect(item).to_contain_text("reply lost in transit")
    expect(page.locator("#unknown-count")).to_have_text("(1)")
    page.set_viewport_size(
        {"width": 390, "height": 844}
    )  # a phone: the settle form fits, nothing scrolls sideways
    time.sleep(0.2)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for control in ("select[data-settle-as]", "input[data-settle-reason]", "button[data-settle]"):
        box = item.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (control, box)

    item.locator("select[data-settle-as]").select_option("rejected")
    item.locator("button[data-settle]").click()  # no reason yet: refused on the page, nothing sent
    expect(page.locator("#toast")).to_contain_text("Say what the broker shows")
    expect(page.locator("#confirm")).to_be_hidden()
    reason = item.locator("input[data-settle-reason]")
    reason.click()
    page.keyboard.type("not in the venue's ")
    for _ in range(3):  # live updates re-render the page meanwhile: the focus, the choice and the text stay
        live.call(live.plane.hub.touch)
        time.sleep(0.15)
    page.keyboard.type("order history")
    expect(reason).to_have_value("not in the venue's order history")
    expect(item.locator("select[data-settle-as]")).to_have_value("rejected")
    if os.environ.get("AUTOTRADER_WEB_SCREENSHOTS") == "1":
        page.locator("#unknown-card").screenshot(
            path=str(ROOT / "docs" / "img" / "operator-page-unknown.png")
        )
    with caplog.at_level(logging.WARNING, logger="autotrader.audit"):
        item.locator("button[data-settle]").click()
        dialog = page.locator("#confirm")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(cid)
        expect(dialog).to_contain_text("Never reached the broker")
        page.click("#confirm-yes")
        expect(page.locator("#unknown-card")).to_be_hidden(timeout=10_000)
    expect(page.locator("#alerts")).to_contain_text(f"settle_unknown by web:alice (client_order_id={cid}")
    expect(page.locator("#alerts")).to_contain_text(f"{cid} settled: rejected, settled by web:alice")
    expect(page.locator(f'#orders tr[data-order="{cid}"]')).to_have_count(0)
    assert order.status is OrderStatus.REJECTED and order.reject_reason
    assert live.call(live.engine.control.unknown_outcomes) == []
    [audit] = [r for r in caplog.records if r.name == "autotrader.audit"]
    assert audit.action == "settle_unknown" and audit.actor == "web:alice"  # type: ignore[attr-defined]
    assert audit.client_order_id == cid and audit.as_ == "rejected"  # type: ignore[attr-defined]
    assert audit.reason == "not in the venue's order history"  # type: ignore[attr-defined]


def test_a_gateway_page_shows_each_orders_strategy(
    page: Page, owned_live: LiveSession, live: LiveSession
) -> None:
    far = (owned_live.price() * D("0.5")).quantize(D("0.01"))
    for owner in ("alpha", "beta"):
        order: Order = owned_live.call(
            owned_live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far
        )
        owned_live.owners[order.client_order_id] = owner
    owned_live.call(owned_live.plane.hub.touch)
    sign_in(page, owned_live)
    expect(page.locator("#orders-strategy")).to_be_visible()
    for cid, owner in owned_live.owners.items():
        expect(page.locator(f'#orders tr[data-order="{cid}"] td[data-label="Strategy"]')).to_have_text(owner)
    # An engine of its own (one strategy) shows no such column.
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far)
    sign_in(page, live)
    expect(page.locator("#orders tbody tr").first).to_be_visible(timeout=10_000)
    expect(page.locator("#orders-strategy")).to_be_hidden()
    assert page.locator('#orders td[data-label="Strategy"]').count() == 0


def test_a_read_only_token_sees_data_but_no_actions(page: Page, live: LiveSession) -> None:
    sign_in(page, live, READ_TOKEN)
    expect(page.locator("#readonly-note")).to_be_visible()
    for button in page.locator("#actions button").all():
        expect(button).to_be_disabled()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_phone_viewport_nothing_scrolls_sideways_and_every_action_is_reachable(
    page: Page, live: LiveSession, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    far = (live.price() * D("0.5")).quantize(D("0.01"))
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far)
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"))
    sign_in(page, live)
    expect(page.locator("#orders tbody tr").first).to_be_visible(timeout=10_000)
    expect(page.locator("#fills tbody tr").first).to_be_visible(timeout=10_000)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= viewport["width"] and widths[1] <= viewport["width"], widths
    actions = page.locator("#actions button").all()
    assert len(actions) == 6
    for button in actions:
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
        assert box["height"] >= 40  # a finger can hit it
        expect(button).to_be_visible()
        expect(button).to_be_enabled()
    # Row buttons are re-rendered as the demo strategy trades: measure them in one go, in the page.
    rows = page.evaluate(
        """() => [...document.querySelectorAll('#orders button, #positions button')].map((b) => {
            const r = b.getBoundingClientRect();
            return [b.textContent, r.left, r.right, r.height];
        })"""
    )
    assert any(text == "Cancel" for text, *_ in rows) and any(text == "Flatten" for text, *_ in rows), rows
    for text, left, right, height in rows:
        assert left >= 0 and right <= viewport["width"] and height >= 32, (text, left, right, height)
    scroll_x = page.evaluate("() => { window.scrollTo(500, window.scrollY); return window.scrollX; }")
    assert scroll_x == 0


def test_screenshots_for_the_docs(page: Page, live: LiveSession, tmp_path: Path) -> None:
    """Desktop and phone screenshots; copied to docs/img when AUTOTRADER_WEB_SCREENSHOTS=1."""
    far = (live.price() * D("0.5")).quantize(D("0.01"))
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.01"), order_type="limit", limit_price=far)
    live.call(live.engine.submit_order, "BTCUSDT", "buy", D("0.02"))
    live.call(live.engine.control.halt, actor="web:alice", reason="screenshot")
    live.call(live.engine.control.resume, actor="web:alice")
    page.set_viewport_size({"width": 1100, "height": 900})
    sign_in(page, live)
    expect(page.locator("#fills tbody tr").first).to_be_visible(timeout=10_000)
    time.sleep(0.5)
    shots = {
        "operator-page-desktop.png": tmp_path / "desktop.png",
        "operator-page-phone.png": tmp_path / "phone.png",
    }
    page.screenshot(path=str(shots["operator-page-desktop.png"]))
    page.set_viewport_size({"width": 390, "height": 844})
    time.sleep(0.3)
    page.screenshot(path=str(shots["operator-page-phone.png"]))
    for path in shots.values():
        assert path.stat().st_size > 5_000  # a real picture, not an empty page
    if os.environ.get("AUTOTRADER_WEB_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "img"
        target.mkdir(exist_ok=True)
        for name, path in shots.items():
            shutil.copy(path, target / name)
