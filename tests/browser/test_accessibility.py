"""axe-core (through axe-playwright-python) on every main page, in real Chromium: no serious or critical
violations. Pages are checked in the states a creator sees: signed out, empty and with work in them, with the
detail dialog and a follow-up dialog open."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.chat.helpers import conversation_for
from tests.studio.helpers import create, drain

AXE = Axe()


def serious(page: Page, label: str) -> list[str]:
    # Colours are judged as they settle: mid fade-in (a toast, a dialog) text is still partly transparent.
    page.evaluate(
        "() => Promise.all(document.getAnimations()"
        ".filter(a => a.effect?.getComputedTiming().endTime !== Infinity).map(a => a.finished))"
    )
    results = AXE.run(page)
    assert results.response["passes"], f"{label}: axe checked nothing"
    found = [
        f"{label}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    return found


@pytest.mark.django_db(transaction=True)
def test_main_pages_have_no_serious_or_critical_violations(page: Page, asgi_live_server: str, kie_sim, alice):
    from tests.conftest import PASSWORD

    problems: list[str] = []
    base = asgi_live_server
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page.goto(base + path)
        problems += serious(page, path)

    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    problems += serious(page, "/ (empty)")

    [image] = create(alice, prompt="A lighthouse at dusk")
    create(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    drain()
    conversation_for(alice)
    for path in ("/generate/", "/gallery/", f"/gallery/{image.pk}/", "/chat/", "/team/", "/settings/", "/usage/"):
        page.goto(base + path)
        problems += serious(page, path)

    # The dialogs: the gallery's detail, and a follow-up form on top of it.
    page.goto(f"{base}/gallery/")
    page.locator(".gallery-tile a").last.click()
    detail = page.locator("#detail-dialog")
    expect(detail).to_be_visible()
    problems += serious(page, "gallery detail dialog")
    detail.get_by_text("Actions").first.click()
    detail.get_by_role("link", name=re.compile("^Upscale")).click()
    expect(page.locator("#followup-dialog")).to_be_visible()
    problems += serious(page, "follow-up dialog")

    assert not problems, "\n".join(problems)


def test_the_scanner_does_find_problems(page: Page):
    """The scan above can only pass because the pages are right: the same scanner flags a broken page."""
    page.set_content('<html lang="en"><title>x</title><main><img src="a.png"><button></button></main></html>')
    ids = {v["id"] for v in AXE.run(page).response["violations"]}
    assert {"image-alt", "button-name"} <= ids


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_works_by_keyboard_alone(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    from kiestudio.studio.models import Generation

    [image] = create(alice, prompt="A lighthouse at dusk")
    drain()
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/{image.pk}/")
    summary = page.locator("details.followups > summary").first
    summary.focus()
    page.keyboard.press("Enter")  # opens the Actions menu
    first = page.get_by_role("group", name="Follow-up actions").get_by_role("link").first
    expect(first).to_be_visible()
    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")  # opens the dialog, focus inside it
    dialog = page.locator("#followup-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Model")).to_be_focused()
    submit = dialog.locator("button[type=submit]")
    submit.focus()
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("status").filter(has_text="Started")).to_be_visible()
    assert Generation.objects.filter(parent=image).count() == 1
    page.keyboard.press("Escape")  # closes the dialog
    expect(dialog).to_be_hidden()


@pytest.mark.django_db(transaction=True)
def test_generating_works_by_keyboard_alone(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, settings
):
    from kiestudio.studio.models import Generation

    settings.STUDIO_POLL_SCALE = 0.05
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/")
    search = page.get_by_label("Search models")
    search.focus()
    page.keyboard.type("imagen 4 fast")
    # Each chip row is one Tab stop, moved along with the arrow keys: kinds, then families, then the model.
    page.keyboard.press("Tab")
    expect(page.locator("[data-kind-filter='']")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-kind-filter='']")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("[data-maker-filter='']")).to_be_focused()
    page.keyboard.press("End")
    last_family = page.locator("[data-maker-filter]").last
    expect(last_family).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("Tab")
    expect(page.locator(".model-item:visible")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Imagen 4 Fast", level=1)).to_be_visible()
    prompt = page.get_by_label("Prompt")
    prompt.focus()
    page.keyboard.type("A paper boat on a lake")
    page.get_by_role("button", name="Generate").focus()
    page.keyboard.press("Enter")
    card = page.locator(".gen-card").first
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=20_000)
    assert Generation.objects.get().model_key == "google/imagen4-fast"


@pytest.mark.django_db(transaction=True)
def test_chat_tool_cards_and_the_plan_editor_have_no_serious_or_critical_violations(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    from tests.browser.test_chat import ask

    kie_sim.sim.config.chat_chunk_delay = 0.0
    page = signed_in_page
    [image] = create(alice, prompt="A lighthouse at dusk")
    drain()
    page.goto(f"{asgi_live_server}/chat/")
    problems: list[str] = []
    ask(page, "Three takes of a lighthouse at dusk")
    expect(page.locator(".tool-card.status-proposed")).to_be_visible(timeout=20000)
    page.locator(".tool-card").get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator(".tool-edit")).to_be_visible()
    problems += serious(page, "generate card with its form open")

    ask(page, f"Upscale item {image.pk}")
    expect(page.locator(".tool-card", has_text="Upscale ·")).to_be_visible(timeout=20000)
    problems += serious(page, "follow-up card")

    ask(page, "A 20-second teaser of a lighthouse at dusk: four shots, then animate them, with music")
    expect(page.locator(".tool-card", has_text="Plan · Teaser").locator(".plan-step")).to_have_count(10, timeout=20000)
    problems += serious(page, "plan card")
    assert not problems, "\n".join(problems)
