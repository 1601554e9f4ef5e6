"""The studio on a 390 px phone, in real Chromium: every main page fits the screen with its content whole (a wide
table or code block scrolls inside its own box, nothing is cut off at the edge), and the top bar stays compact."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.chat.helpers import conversation_for, send, wait_until_done
from tests.studio.helpers import create, drain

PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("KIE_SCREENSHOTS")

# Elements whose box runs past the right edge of the screen, unless a box around them scrolls sideways (then the
# overflow is reachable where it is). Clipped by `overflow: hidden` counts: that text is simply lost.
OVERFLOWING = """
() => [...document.querySelectorAll("body *")].filter((element) => {
  const box = element.getBoundingClientRect();
  if (box.width === 0 || box.height === 0 || box.right <= window.innerWidth + 0.5) return false;
  for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(up).overflowX)) return false;
  }
  return true;
}).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} → ${Math.round(e.getBoundingClientRect().right)} px`)
"""


def fits(page: Page, label: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], label
    assert page.evaluate(OVERFLOWING) == [], label
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"phone-{label.strip('/').replace('/', '-') or 'home'}.png"))


@pytest.mark.django_db(transaction=True)
def test_every_main_page_fits_a_phone(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    [image] = create(alice, prompt="A lighthouse at dusk, seen from the rocks below at the very last light")
    drain()
    conversation = conversation_for(alice)
    reply = send(conversation, "A shot list as a table, and the settings as json code please [sim:words 60]")
    wait_until_done(reply)

    page = signed_in_page
    page.set_viewport_size(PHONE)
    base = asgi_live_server
    pages = ("/", "/generate/", "/gallery/", f"/gallery/{image.pk}/", "/chat/", f"/chat/{conversation.pk}/", "/team/")
    for path in (*pages, "/settings/"):
        page.goto(base + path)
        fits(page, path)
    # The sections row starts with the current one in view, even the last.
    expect(page.locator("header.topbar").get_by_role("link", name="Settings")).to_be_in_viewport(ratio=1)

    # The top bar: two rows (brand and tools, then the sections), not a quarter of the screen, and every section
    # reachable by scrolling the row sideways.
    page.goto(f"{base}/chat/{conversation.pk}/")
    bar = page.locator("header.topbar")
    assert bar.bounding_box()["height"] <= 110
    settings_link = bar.get_by_role("link", name="Settings")
    settings_link.scroll_into_view_if_needed()
    expect(settings_link).to_be_in_viewport(ratio=1)

    # The conversation: the table and the code block scroll inside the reply; the reply itself is whole.
    answer = page.locator(f"#msg-{reply.pk}")
    expect(answer.locator("table")).to_be_visible()
    expect(answer.locator("pre")).to_be_visible()
    fits(page, f"/chat/{conversation.pk}/")
    box = answer.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # The composer stays in reach at the bottom without taking the screen: a short box and two rows of tools.
    composer = page.locator("#composer .composer-box")
    assert composer.bounding_box()["height"] <= 160, composer.bounding_box()
    regenerate = answer.get_by_role("button", name=re.compile("^Regenerate"))
    regenerate.scroll_into_view_if_needed()
    expect(regenerate).to_be_in_viewport(ratio=1)
