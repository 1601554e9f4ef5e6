"""The Queue page in Chromium: pause, reorder and cancel what waits, resume, and Kie receives the jobs in the new
order (the canceled one never); and the page in light and dark, on a desktop and a phone, passes axe."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Generation, Status
from kiestudio.studio.services.queue import generations_hold
from kiestudio.workspaces.models import Workspace
from tests.browser.test_accessibility import serious
from tests.studio.helpers import create, workspace_of

SHOTS = os.environ.get("KIE_SCREENSHOTS")  # a folder to keep screenshots in, when looking at the UI by eye


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sent(kie_sim) -> list[int]:
    by_task = dict(Generation.objects.exclude(kie_task_id="").values_list("kie_task_id", "pk"))
    return [by_task.get(entry.task_id, -1) for entry in kie_sim.log.of_kind("create")]


@pytest.mark.django_db(transaction=True)
def test_reorder_and_cancel_while_paused_then_resume_sends_in_the_new_order(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    expect(page.get_by_text("Nothing is waiting or running.")).to_be_visible()
    expect(page.locator("#queue-badge")).to_be_hidden()
    page.get_by_role("button", name="Pause queue").click()
    expect(page.get_by_role("heading", name="The queue is paused")).to_be_visible()

    # Made elsewhere (Generate, a teammate): the page's poll brings them in, in the order they will be sent.
    a, b, c = create(alice, variations=3, prompt="A lighthouse at dusk")
    [d] = create(alice, prompt="A harbour at dawn")
    rows = page.locator("#queue ol.queue-list > li")
    expect(rows).to_have_count(4, timeout=10_000)
    expect(page.locator("#queue-badge")).to_contain_text("4")
    expect(rows.first.get_by_role("button", name="Move up")).to_be_disabled()
    expect(rows.last.get_by_role("button", name="Move down")).to_be_disabled()
    expect(rows.nth(2).locator(".queue-times")).to_have_text("Paused")

    page.locator(f"li[data-generation='{c.pk}']").get_by_role("button", name="Move up").click()
    expect(rows.nth(1)).to_have_attribute("data-generation", str(c.pk))
    expect(page.get_by_role("button", name="Move up").nth(1)).to_be_focused()  # focus stays on the moved row
    page.locator(f"li[data-generation='{b.pk}']").get_by_role("button", name="Cancel").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#toasts")).to_contain_text("It was never sent to Kie, so nothing is charged.")
    expect(page.locator("#queue-badge")).to_contain_text("3")
    assert [row.get_attribute("data-generation") for row in rows.all()] == [str(a.pk), str(c.pk), str(d.pk)]
    assert kie_sim.log.of_kind("create") == []

    page.get_by_role("button", name="Resume queue").click()
    expect(page.get_by_role("heading", name="The queue is on")).to_be_visible()
    deadline = time.monotonic() + 15
    while len(kie_sim.log.of_kind("create")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent(kie_sim) == [a.pk, c.pk, d.pk]
    expect(page.locator("#queue .queue-running > li")).to_have_count(3, timeout=10_000)
    canceled = Generation.objects.get(pk=b.pk)
    assert canceled.status == Status.CANCELED and canceled.kie_task_id == "" and canceled.create_sent_at is None


def _a_busy_queue(alice) -> None:
    """Two jobs at Kie, three waiting (one of them held back with its batch). Made while the queue is paused, so
    nothing is sent: the test switches the pause on and off in the database alone."""
    now = timezone.now()
    Workspace.objects.filter(pk=workspace_of(alice).pk).update(queue_paused_at=now)
    running = create(alice, variations=2, prompt="A lighthouse at dusk, watercolour, soft evening light")
    create(alice, "veo/veo3_fast", prompt="A drone shot over green hills at sunrise, slow push in, mist in the valleys")
    [held] = create(alice, prompt="A paper boat on a lake")
    create(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=True)
    for n, generation in enumerate(running):  # at Kie, and not due for a status read while the test looks
        Generation.objects.filter(pk=generation.pk).update(
            status=Status.SUBMITTED if n else Status.STORING,
            submitted_at=now - timedelta(seconds=8 + 20 * n),
            next_check_at=now + timedelta(hours=1),
        )
    generations_hold(generations=Generation.objects.filter(pk=held.pk))


@pytest.mark.django_db(transaction=True)
def test_the_queue_page_passes_axe_light_and_dark_on_desktop_and_phone(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    page = signed_in_page
    _a_busy_queue(alice)
    problems: list[str] = []
    for width, height, device in ((1280, 800, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for state in ("on", "paused"):
                paused_at = timezone.now() - timedelta(minutes=2) if state == "paused" else None
                Workspace.objects.filter(pk=workspace_of(alice).pk).update(queue_paused_at=paused_at)
                page.goto(f"{asgi_live_server}/queue/")
                expect(page.locator("#queue ol.queue-list > li")).to_have_count(3)
                # A still copy for the scan: the live list is swapped every few seconds.
                page.evaluate("() => { const q = document.getElementById('queue'); q.replaceWith(q.cloneNode(true)); }")
                problems += serious(page, f"/queue/ ({device}, {scheme}, {state})")
                shot(page, f"queue-{device}-{scheme}-{state}")
                overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{device} {scheme}: the page scrolls sideways by {overflow}px"
    page.emulate_media(color_scheme="light")
    assert not problems, "\n".join(problems)
