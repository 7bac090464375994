"""Real headless Chromium (Debian's) against a real collector process, driven by Playwright."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import cv2
import httpx
import numpy as np
import pytest
from collector_helpers import iso, make_tokens, start_server, state_change
from playwright.sync_api import Browser, expect, sync_playwright

from collector.auth import create_token
from collector.schema import agents
from collector.store import migrate, open_store
from contract import iso_utc
from contract.wire import SENT_AT_HEADER, VERSION_HEADER

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def jpeg_b64(value: int) -> str:
    img = np.full((48, 64, 3), value, np.uint8)
    cv2.putText(img, "cam", (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'collector.db'}"


@pytest.fixture(scope="module")
def server(db_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    db = db_url
    tmp = Path(db.removeprefix("sqlite:///")).parent
    store = open_store(db)
    migrate(store)
    tokens = make_tokens(store)
    store.dispose()
    srv = start_server(db, tmp, "sweep_interval_seconds: 0.2\nstream_poll_seconds: 0.2\n"
                       "tickets: {open_after_seconds: 0, auto_close_after_seconds: null}\n")
    try:
        yield srv.base, tokens
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login(page, base: str, token: str) -> None:
    page.goto(base + "/dashboard")
    expect(page).to_have_url(f"{base}/login?next=/dashboard")
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_event_appears_on_open_dashboard_within_2s(server, browser):
    base, tok = server
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, tok["operator"])
    expect(page).to_have_url(base + "/dashboard")
    expect(page.locator("#live")).to_have_class("on", timeout=5000)
    page.evaluate("window.__noReload = 'still here'")
    ah = {"Authorization": f"Bearer {tok['agent']}"}
    # The camera's reference view arrives in a heartbeat; the alert carries its evidence.
    hb = {"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": "c0417",
          "t": iso(time.time()), "cameras": {"c0417/garage": {
              "status": "blocked", "faults": ["blocked"], "last_frame": iso(time.time()),
              "reference": jpeg_b64(90)}}}
    ev = state_change("c0417/garage", "blocked", evidence={"covered_fraction": 0.81},
                      snapshot=jpeg_b64(20))
    t0 = time.monotonic()
    r = httpx.post(base + "/v1/events", json={"agent": "c0417", "events": [hb, ev]},
                   headers=ah)
    assert len(r.json()["accepted"]) == 2
    item = page.locator(f"li.alert[data-event-id='{ev['event_id']}']")
    item.wait_for(state="visible", timeout=2000)
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0, elapsed
    assert page.evaluate("window.__noReload") == "still here"
    expect(item.locator(".fault")).to_have_text("blocked")
    # Evidence image beside the reference view.
    item.click()
    expect(page.locator("#detail-title")).to_contain_text("c0417/garage")
    for sel in ("#img-evidence", "#img-reference"):
        # Polled from here: wait_for_function polls inside the page with eval, which the
        # pages' Content-Security-Policy (script-src 'self') rightly refuses once the
        # image is not there at the first look.
        expect(page.locator(sel)).to_have_js_property("complete", True, timeout=3000)
        expect(page.locator(sel)).to_have_js_property("naturalWidth", 64, timeout=3000)
    expect(page.locator("#detail-evidence")).to_contain_text("covered_fraction")
    # Camera states by compound, and the fault filter.
    page.select_option("#f-compound", "c0417")
    row = page.locator("tr[data-camera='c0417/garage']")
    expect(row).to_contain_text("faulty")
    page.select_option("#f-fault", "ripple")
    expect(row).to_have_count(0)
    assert tok["operator"] not in page.content()
    assert errors == []
    ctx.close()


def test_dashboard_agents_panel_flags_a_skewed_clock(server, browser, db_url):
    """Issue 11: each agent's clock offset on the dashboard, beyond the allowed skew flagged,
    silent agents first, and an agent id rendered as text."""
    base, tok = server
    hostile = "<img src=x onerror=window.__pwned=1>"
    store = open_store(db_url)
    with store.writing() as conn:
        _, tok_late = create_token(conn, "c0501", "agent", compounds=("c0501",))
        _, tok_ok = create_token(conn, "c0502", "agent", compounds=("c0502",))
        # An id no agent could send (the API refuses it) but an old row might hold; silent.
        old = time.time() - 6 * 3600
        conn.execute(agents.insert().values(id=hostile, first_seen=old, last_contact=old))
    store.dispose()
    now = time.time()
    behind = 2 * 3600 + 3 * 60  # c0501's clock: 2 h 03 min behind; c0502's: right
    for agent, token, sent in (("c0501", tok_late, now - behind), ("c0502", tok_ok, now)):
        ev = state_change(f"{agent}/gate", "blocked", t=sent - 1)
        r = httpx.post(base + "/v1/events", json={"agent": agent, "events": [ev]},
                       headers={"Authorization": f"Bearer {token}", VERSION_HEADER: "2",
                                SENT_AT_HEADER: iso_utc(sent)})
        assert r.status_code == 200 and len(r.json()["accepted"]) == 1, r.text
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    login(page, base, tok["operator"])
    expect(page).to_have_url(base + "/dashboard")
    late = page.locator("tr[data-agent='c0501']")
    ok = page.locator("tr[data-agent='c0502']")
    expect(late.locator("td.clock")).to_have_text("skewclock 2 h 03 min behind")
    expect(late).to_have_class(re.compile(r"\bskewed\b"))
    expect(late.locator("td.clock .badge")).to_be_visible()
    expect(late.locator("td.contact")).to_have_text("reporting")
    expect(ok.locator("td.clock")).to_have_text(
        re.compile(r"^clock OK \(\d+\.\d s (behind|ahead)\)$"))
    expect(ok).not_to_have_class(re.compile(r"\bskewed\b"))
    expect(ok.locator("td.last-contact")).to_have_text(re.compile(r"^\d+ s ago$"))
    # Silent first, its id as text, not markup.
    first = page.locator("#agent-rows tr").first
    expect(first.locator("td.agent-id")).to_have_text(hostile)
    expect(first.locator("td.contact")).to_have_text("silent")
    expect(first.locator("td.last-contact")).to_have_text("6 h ago")
    assert page.locator("#agent-rows img").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.locator("#agents-panel").screenshot(path=str(Path(db_url.removeprefix("sqlite:///"))
                                                      .parent / "agents-panel.png"))
    assert errors == [] and violations == []
    ctx.close()


def test_crew_acknowledges_and_closes_a_ticket_on_a_phone(server, browser):
    base, tok = server
    ah = {"Authorization": f"Bearer {tok['agent']}"}
    ch = {"Authorization": f"Bearer {tok['crew']}"}
    ev = state_change("c0417/sidedoor", "ripple", t=time.time() - 5)
    httpx.post(base + "/v1/events", json={"agent": "c0417", "events": [ev]}, headers=ah)
    deadline = time.monotonic() + 5
    ticket = None
    while time.monotonic() < deadline and ticket is None:
        ts = httpx.get(base + "/v1/tickets", headers=ch,
                       params={"status": "active"}).json()
        ticket = next((t for t in ts if t["camera"] == "c0417/sidedoor"), None)
        time.sleep(0.1)
    assert ticket is not None, "sweeper did not open a ticket"
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    page.goto(base + "/board")
    page.fill("#token", tok["crew"])
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/board")
    card = page.locator(f"article[data-ticket-id='{ticket['id']}']")
    expect(card.locator(".status")).to_have_text("open")
    # Fits the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    card.locator("button.ack").tap()
    expect(card.locator(".status")).to_have_text("acknowledged")
    card.locator("button.close").tap()
    card.locator("textarea[name=note]").fill("ripple gone after replacing the cable")
    expect(card.locator("input[name=reset_baseline]")).to_be_checked()
    card.locator("button.confirm-close").tap()
    expect(card).to_have_count(0)  # the active list no longer shows it
    t = httpx.get(f"{base}/v1/tickets/{ticket['id']}", headers=ch).json()
    assert t["status"] == "closed" and t["closed_by"] == "crew1"
    assert t["acknowledged_by"] == "crew1"
    assert t["comments"][0]["body"] == "ripple gone after replacing the cable"
    cmds = httpx.get(base + "/v1/agents/c0417/commands", headers=ah).json()
    assert {"kind": "reset_baseline", "camera": "c0417/sidedoor"}.items() <= cmds[-1].items()
    ctx.close()


@pytest.mark.parametrize("nxt", ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example/x",
                                 "https://evil.example/x", "javascript:alert(1)",
                                 "/%5Cevil.example", "\\\\evil.example"])
def test_login_next_leads_only_to_this_collector(server, browser, nxt):
    base, tok = server
    ctx = browser.new_context()
    outside: list[str] = []
    ctx.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
              if not route.request.url.startswith(base) else route.continue_())
    page = ctx.new_page()
    page.goto(f"{base}/login?next={quote(nxt, safe='')}")
    page.fill("#token", tok["operator"])
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile("^" + re.escape(base) + "/"))
    page.wait_for_load_state()
    assert page.url.startswith(base + "/"), page.url
    assert outside == []
    ctx.close()


def test_login_next_same_origin_path_kept(server, browser):
    base, tok = server
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{base}/login?next={quote('/board?compound=c0417', safe='')}")
    page.fill("#token", tok["admin"])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/board?compound=c0417")
    ctx.close()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_render_from_the_collector_under_its_csp(server, browser, path):
    base, _tok = server
    ctx = browser.new_context()
    outside: list[str] = []
    ctx.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
              if not route.request.url.startswith(base) else route.continue_())
    page = ctx.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text and "script" in m.text else None)
    resp = page.goto(base + path)
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    if path == "/docs":
        ops = page.locator(".opblock-summary-path")
    else:
        ops = page.locator("[data-section-id^='tag/'] h2, li[data-item-id] label")
    expect(ops.first).to_be_visible(timeout=15000)
    assert ops.count() >= 10
    assert "/v1/events" in page.content()
    assert outside == [] and violations == []
    ctx.close()
