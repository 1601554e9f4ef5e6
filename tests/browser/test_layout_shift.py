"""Pages hold still while they load: the cumulative layout shift of Generate, the gallery, the detail page and chat,
from Chromium's own layout-shift entries, stays within 0.02 on a phone and on a desktop. Nothing is typed or
clicked, so every shift counts. A layout measure, not a timing.

Also for a page signed in on its own request only, whose later requests find no session (a session that ended,
or a cookie handed to the first request alone, which is how Lighthouse's --extra-headers signs in): the header's
balance pill loads by htmx, and the sign-in page it was answered with was swapped into the header, moving `main`
about 880 px down on a phone (CLS 0.90). Such a page now goes to the sign-in page, to come back afterwards.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.studio.helpers import create, drain

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
LIMIT = 0.02

# Every layout shift of every document the context opens, reported with what moved and from where to where.
OBSERVE = """
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const moved = (entry.sources || []).map((source) => {
      const node = source.node;
      const name = !node ? "?" : node.nodeType === 1
        ? node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") + [...node.classList].map((c) => "." + c).join("")
        : node.nodeName;
      const box = (r) => [r.x, r.y, r.width, r.height].map(Math.round).join(",");
      return `${name} [${box(source.previousRect)}] → [${box(source.currentRect)}]`;
    });
    window.reportLayoutShift(location.pathname, entry.value, moved.join("; "));
  }
}).observe({type: "layout-shift", buffered: true});
"""


def watched(browser: Browser, **options) -> tuple[BrowserContext, list[tuple[str, float, str]], list[str]]:
    """A fresh context (empty cache) that records layout shifts and CSP violations."""
    context = browser.new_context(**options)
    shifts: list[tuple[str, float, str]] = []
    violations: list[str] = []
    context.expose_function("reportLayoutShift", lambda path, value, moved: shifts.append((path, value, moved)))
    context.add_init_script(OBSERVE)

    def watch(message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    context.on("console", watch)
    return context, shifts, violations


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # the last entries reach Python


def layout_shift(shifts: list[tuple[str, float, str]], path: str) -> tuple[float, list[str]]:
    mine = [(value, moved) for at, value, moved in shifts if at == path]
    return sum(value for value, _ in mine), [f"{value:.4f}: {moved}" for value, moved in mine]


@pytest.fixture
def pages(kie_sim, alice) -> list[str]:
    [image] = create(alice, prompt="A lighthouse at dusk, seen from the rocks below")
    drain()
    return ["/generate/", "/gallery/", f"/gallery/{image.pk}/", "/chat/"]


@pytest.mark.django_db(transaction=True)
def test_pages_hold_still_while_they_load(signed_in_page: Page, asgi_live_server: str, browser: Browser, pages):
    signed_in = signed_in_page.context.storage_state()
    failures = []
    for name, device in (("phone", PHONE), ("desktop", DESKTOP)):
        for path in pages:
            context, shifts, violations = watched(browser, storage_state=signed_in, **device)
            page = context.new_page()
            page.goto(asgi_live_server + path)
            # The balance pill has loaded (its number takes more room than the "…" it replaces).
            expect(page.locator(".topbar-tools .pill").last).not_to_contain_text("…")
            settle(page)
            assert page.url == asgi_live_server + path, page.url
            context.close()
            assert not violations, violations
            cls, moved = layout_shift(shifts, path)
            if cls > LIMIT:
                failures.append(f"{name} {path}: CLS {cls:.3f}\n  " + "\n  ".join(moved))
    assert not failures, "\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_later_requests_find_no_session_holds_still(
    signed_in_page: Page, asgi_live_server: str, browser: Browser, pages
):
    session = next(c for c in signed_in_page.context.cookies() if c["name"] == "sessionid")
    failures = []
    for name, device in (("phone", PHONE), ("desktop", DESKTOP)):
        for path in pages:
            # The cookie jar starts empty: the first response's CSRF cookie then fills it, and Chromium sends the
            # jar (without the session) on everything the page asks for after its own request.
            headers = {"Cookie": f"sessionid={session['value']}"}
            context, shifts, violations = watched(browser, extra_http_headers=headers, **device)
            page = context.new_page()
            page.goto(asgi_live_server + path)
            settle(page)
            try:
                page.wait_for_url(f"{asgi_live_server}/accounts/login/?next={path}", timeout=5000)
            except PlaywrightTimeoutError:
                failures.append(f"{name} {path}: stayed on {page.url} instead of going to sign in")
            settle(page)
            context.close()
            assert not violations, violations
            cls, moved = layout_shift(shifts, path)
            if cls > LIMIT:
                failures.append(f"{name} {path}: CLS {cls:.3f}\n  " + "\n  ".join(moved))
    assert not failures, "\n".join(failures)
