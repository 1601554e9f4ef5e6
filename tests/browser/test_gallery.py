from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from kiestudio.gallery import selectors
from kiestudio.gallery.models import Favorite
from kiestudio.studio.models import Generation
from tests.studio.helpers import create, drain

PROMPTS = [
    "A lighthouse at dusk",
    "A red fox in deep snow",
    "Neon city street at night",
    "A paper boat on a lake",
    "Mountains under stars",
    "A bowl of ripe cherries",
    "An old tram in Lisbon",
]


@pytest.mark.django_db(transaction=True)
def test_scroll_filter_search_detail_keyboard_favourite_and_zip(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, monkeypatch, tmp_path
):
    for prompt in PROMPTS:
        create(alice, prompt=prompt)
    create(alice, "veo/veo3_fast", prompt="A drone flight over green hills")
    drain()
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    page = signed_in_page
    page.set_viewport_size({"width": 420, "height": 640})  # a phone: the next page is below the fold
    page.goto(f"{asgi_live_server}/gallery/")
    tiles = page.locator(".gallery-tile")
    expect(tiles).to_have_count(3)

    # Infinite scroll: more pages load as the end comes into view, until all 8 are there.
    for _ in range(10):
        if tiles.count() == 8:
            break
        page.locator(".gallery-tile").last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(300)
    expect(tiles).to_have_count(8)
    expect(page.locator(".grid-sentinel")).to_have_count(0)

    # A filter (behind the phone's Filters button) and a search narrow the grid, and both live in the URL.
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Kind").select_option("video")
    expect(page).to_have_url(re.compile(r"kind=video"))
    expect(tiles).to_have_count(1)
    page.goto(f"{asgi_live_server}/gallery/")
    page.get_by_label("Search prompts").fill("fox")
    page.get_by_label("Search prompts").press("Enter")
    expect(page).to_have_url(re.compile(r"q=fox"))
    expect(tiles).to_have_count(1)

    # The detail opens as a modal with its own URL, and the arrow keys move through the gallery.
    page.goto(f"{asgi_live_server}/gallery/")
    newest = Generation.objects.order_by("-created_at", "-id")
    page.locator(".gallery-tile a").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/gallery/{newest[0].pk}/"))
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(rf"/gallery/{newest[1].pk}/"))
    expect(dialog.locator(".detail-prompt")).to_have_text(newest[1].prompt_text)
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/gallery/{newest[0].pk}/"))

    # A favourite sticks.
    dialog.get_by_role("button", name=re.compile("Favourite")).click()
    expect(dialog.get_by_role("button", name=re.compile("Favourite"))).to_have_attribute("aria-pressed", "true")
    assert Favorite.objects.filter(user=alice, generation=newest[0]).exists()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.reload()
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Favourites").check()
    expect(tiles).to_have_count(1)

    # Select two items and download them as a zip.
    page.goto(f"{asgi_live_server}/gallery/")
    page.locator(".tile-check").nth(0).check()
    page.locator(".tile-check").nth(1).check()
    expect(page.locator("[data-bulk-count]")).to_have_text("2")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download zip").click()
    path = tmp_path / "export.zip"
    download_info.value.save_as(path)
    names = zipfile.ZipFile(path).namelist()
    assert "metadata.json" in names and len(names) == 3


@pytest.mark.django_db(transaction=True)
def test_keyboard_only_and_screen_reader_paths(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    for prompt in PROMPTS[:3]:
        create(alice, prompt=prompt)
    drain()
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/")
    # Every tile is a named link and a named checkbox in the accessibility tree.
    expect(page.get_by_role("checkbox", name=re.compile(r"^Select "))).to_have_count(3)
    newest = Generation.objects.order_by("-created_at", "-id").first()
    link = page.get_by_role("link", name=re.compile(re.escape(newest.prompt_text)))
    expect(link).to_have_count(1)
    # Keyboard only: focus the tile, Enter opens the detail as a named dialog with focus inside it.
    link.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name("Nano Banana")
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(dialog.get_by_role("link", name="Newer item")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/gallery/$"))
    # Selecting with the keyboard shows the bulk bar, whose count is announced politely.
    page.get_by_role("checkbox", name=re.compile(r"^Select ")).first.focus()
    page.keyboard.press("Space")
    expect(page.locator("[data-bulk-count]")).to_have_text("1")
    expect(page.locator(".bulk-count")).to_have_attribute("aria-live", "polite")


@pytest.mark.django_db(transaction=True)
def test_hovering_a_tile_shows_its_prompt_and_age_and_plays_a_video(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    create(alice, "veo/veo3_fast", prompt="A drone flight over green hills at dawn")
    create(alice, prompt="A still life with lemons")
    drain()
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/gallery/")
    video_tile = page.locator(".gallery-tile", has=page.locator("[data-preview-kind=video]"))
    overlay = video_tile.locator(".tile-hover")
    expect(overlay).to_have_css("opacity", "0")
    video_tile.hover()
    expect(overlay).to_have_css("opacity", "1")
    expect(overlay).to_contain_text("A drone flight over green hills at dawn")
    expect(overlay).to_contain_text("just now")
    preview = video_tile.locator("video.tile-preview")
    expect(preview).to_have_count(1)
    page.wait_for_function("(v) => !v.paused && v.currentTime > 0", arg=preview.element_handle(), timeout=15000)
    # Moving to the picture's tile stops the video (and a still picture has nothing to play).
    page.locator(".gallery-tile", has_text="Nano Banana").hover()
    expect(page.locator("video.tile-preview")).to_have_count(0)
    # Focus by keyboard does the same as the pointer.
    video_tile.locator(".tile-link").focus()
    expect(video_tile.locator("video.tile-preview")).to_have_count(1)
