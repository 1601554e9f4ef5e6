from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Asset, Generation, Status
from tests.browser.helpers import balance_pill


@pytest.mark.django_db(transaction=True)
def test_generate_an_image_card_goes_live_and_file_comes_from_our_storage(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, settings, tmp_path, monkeypatch
):
    page = signed_in_page
    kie_sim.sim.config.time_scale = 0.15  # Nano Banana takes ~2 s here: long enough to watch it go live
    settings.STUDIO_POLL_SCALE = 0.05
    kie_sim.sim.set_balance(1000)
    # A reading under 2 s old stands when work finishes (many tabs, one Kie call); this test is quicker than that.
    monkeypatch.setattr("kiestudio.workspaces.views.FRESH_BALANCE_SECONDS", 0)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Generate").click()
    expect(page.get_by_role("heading", name="Nano Banana", level=1)).to_be_visible()
    page.get_by_label("Search models").fill("imagen fast")
    expect(page.locator("[data-model-list] li:visible")).to_have_count(1)
    page.get_by_label("Search models").fill("")

    balance = page.locator(".topbar .pill-balance")
    expect(balance).to_have_text(balance_pill(Decimal(1000)))
    page.get_by_label("Prompt").fill("A lighthouse at dusk, watercolor")
    page.get_by_label("Aspect ratio").select_option("16:9")
    expect(page.locator("#estimate")).to_contain_text("4 credits")
    page.get_by_role("button", name="Generate").click()

    card = page.locator(".gen-card").first
    expect(card).to_contain_text("A lighthouse at dusk, watercolor")
    expect(card.locator(".status-badge")).not_to_have_text("Done")  # it appears at once, still running
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=20_000)
    image = card.locator(".gen-media img")
    expect(image).to_be_visible()
    # The header's balance reads Kie again once the work is done: it shows what the generation cost.
    spent = kie_sim.sim.balance
    assert spent < 1000
    expect(balance).to_have_text(balance_pill(spent))
    page.screenshot(path=str(tmp_path / "generated.png"))

    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED and generation.inputs["aspect_ratio"] == "16:9"
    asset = Asset.objects.get(generation=generation)
    src = image.get_attribute("src")
    assert src == f"/files/assets/{asset.pk}/thumb/"
    # The full-size file is ours, not Kie's: served by the studio, identical to the stored bytes.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    response = httpx.get(f"{asgi_live_server}/files/assets/{asset.pk}/", cookies=cookies)
    assert response.status_code == 200 and len(response.content) == asset.size
    assert re.match(r"image/(png|jpeg|webp)", response.headers["content-type"])
    assert len(kie_sim.log.of_kind("create")) == 1

    # Another model, picked from the list while the card is on the page: its own form replaces this one (and no
    # htmx settling writes a style attribute, which the CSP would refuse: the context fixture watches for that).
    page.get_by_label("Search models").fill("suno v4")
    page.locator("[data-model-list] li:visible a").first.click()
    expect(page.get_by_role("heading", name=re.compile("Suno"), level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"model=suno"))
    expect(page.locator("#model-form textarea").first).to_be_visible()
    expect(page.locator("#estimate")).to_contain_text("credits")
    # Style and title are custom-mode fields: hidden in simple mode, there once it is switched on.
    style, title = page.get_by_label("Style", exact=True), page.get_by_label("Title", exact=True)
    expect(style).to_be_hidden()
    expect(title).to_be_hidden()
    page.get_by_label("Custom mode").check()
    expect(style).to_be_visible()
    expect(title).to_be_visible()
    style.fill("dreamy synth-pop")
    page.get_by_label("Custom mode").uncheck()
    expect(style).to_be_hidden()
    expect(style).to_be_disabled()  # so the value left in it is not sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width,height", [(1366, 800), (390, 844)])
def test_a_link_to_a_model_far_down_the_list_shows_it_there(
    signed_in_page: Page, asgi_live_server: str, width: int, height: int
):
    """On a phone the list lays out only the models near its view (content-visibility), so the one far down is
    found by its estimated place first and then its real one."""
    page = signed_in_page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{asgi_live_server}/generate/?model=suno/V5")
    expect(page.get_by_role("heading", name="Suno V5", level=1)).to_be_visible()
    if width < 900:  # a phone: the list is a sheet, opened from the form
        page.get_by_role("button", name="Change model").click()
    selected = page.locator("[data-model-list] .is-selected")
    expect(selected).to_have_text(re.compile("Suno V5"))
    expect(selected).to_be_in_viewport(ratio=1)
    assert page.evaluate("window.scrollY") == 0  # the list scrolled, not the page


@pytest.mark.django_db(transaction=True)
def test_picking_a_model_swaps_its_form_in_place_and_the_address_follows(signed_in_page: Page, asgi_live_server: str):
    """One listener on the list (not htmx wiring each of a hundred links at load): a click swaps in the model's
    form without a page load, marks it, puts its address in the bar, and Back goes to the model before."""
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/?model=google/nano-banana")
    expect(page.get_by_role("heading", name="Nano Banana", level=1)).to_be_visible()
    page.evaluate("window.__samePage = true")
    page.locator("[data-model-list] .model-item", has_text="Suno V5").first.click()
    expect(page.get_by_role("heading", name="Suno V5", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"model=suno/V5$"))
    assert page.evaluate("window.__samePage === true")  # swapped in place, no page load
    expect(page.locator("[data-model-list] .is-selected")).to_have_text(re.compile("Suno V5"))
    expect(page.locator("[data-model-list] [aria-current=true]")).to_have_count(1)
    page.go_back()
    expect(page.get_by_role("heading", name="Nano Banana", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"model=google/nano-banana$"))
