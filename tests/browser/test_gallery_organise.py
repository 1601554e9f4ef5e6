"""The gallery in Chromium: aspect-true rows, tags and ratings with their filters, dragging onto a collection,
and comparing two pictures with the slider."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kiestudio.gallery.models import Collection, Rating, Tag
from kiestudio.studio.models import Asset, Generation
from tests.studio.helpers import create, drain, workspace_of

RATIOS = {"A lighthouse at dusk": "16:9", "A red fox in deep snow": "9:16", "A bowl of cherries": "1:1"}


def _make(alice) -> dict[str, Generation]:
    for prompt, ratio in RATIOS.items():
        create(alice, prompt=prompt, aspect_ratio=ratio)
    drain()
    return {g.prompt_text: g for g in Generation.objects.all()}


@pytest.mark.django_db(transaction=True)
def test_rows_keep_each_pictures_shape_and_tags_and_ratings_filter(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    made = _make(alice)
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/gallery/")
    # Each tile's picture is drawn at its own aspect ratio (within the few percent of the nearest shape), and the
    # tiles of a row are equally tall.
    heights = []
    for generation in made.values():
        asset = Asset.objects.get(generation=generation)
        box = page.locator(f".gallery-tile[data-id='{generation.pk}'] .tile-media").bounding_box()
        assert box is not None
        assert abs(box["width"] / box["height"] - asset.width / asset.height) / (asset.width / asset.height) < 0.04
        heights.append(round(box["height"]))
    assert max(heights) - min(heights) <= 1, heights

    # Rate and tag two items from the detail view.
    fox, lighthouse = made["A red fox in deep snow"], made["A lighthouse at dusk"]
    for generation, stars in ((fox, 4), (lighthouse, 2)):
        page.locator(f".gallery-tile[data-id='{generation.pk}'] a").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name=f"{stars} stars", exact=True).click()
        expect(dialog.get_by_role("button", name=re.compile(rf"^{stars} stars \(press again"))).to_have_attribute(
            "aria-pressed", "true"
        )
        dialog.get_by_label("Add a tag").fill("Winter mood")
        dialog.get_by_label("Add a tag").press("Enter")
        expect(dialog.get_by_role("link", name="#Winter mood")).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    assert Rating.objects.get(generation=fox).stars == 4 and Tag.objects.get().links.count() == 2
    # A bad tag is refused beside the field.
    page.locator(f".gallery-tile[data-id='{fox.pk}'] a").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Add a tag").fill("red, blue")
    dialog.get_by_label("Add a tag").press("Enter")
    expect(dialog.get_by_role("alert")).to_contain_text("can't contain commas")
    page.keyboard.press("Escape")

    # The filters: the tag keeps two, a rating of four and up keeps the fox.
    page.goto(f"{asgi_live_server}/gallery/")
    tiles = page.locator(".gallery-tile")
    expect(tiles).to_have_count(3)
    page.get_by_label("Tag", exact=True).select_option(label="Winter mood")
    expect(page).to_have_url(re.compile(r"tag=\d+"))
    expect(tiles).to_have_count(2)
    page.get_by_label("Your rating").select_option("4")
    expect(page).to_have_url(re.compile(r"rating=4"))
    expect(tiles).to_have_count(1)
    expect(page.locator(f".gallery-tile[data-id='{fox.pk}']")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_dragging_tiles_onto_a_collection_adds_them_and_it_takes_a_cover(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    made = _make(alice)
    board = Collection.objects.create(workspace=workspace_of(alice), name="Moodboard")
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/gallery/")
    chip = page.locator(f"[data-drop-collection='{board.pk}']")
    expect(chip.locator("[data-drop-count]")).to_have_text("0")

    # One tile dragged onto the collection joins it.
    fox = made["A red fox in deep snow"]
    page.locator(f".gallery-tile[data-id='{fox.pk}'] .tile-link").drag_to(chip)
    expect(page.locator(".toast")).to_contain_text("Added 1 item to “Moodboard”.")
    expect(chip.locator("[data-drop-count]")).to_have_text("1")
    # With items selected, dragging one of them brings them all.
    others = [made["A lighthouse at dusk"], made["A bowl of cherries"]]
    for generation in others:
        page.locator(f".gallery-tile[data-id='{generation.pk}']").hover()
        page.locator(f"#pick-{generation.pk}").check()
    page.locator(f".gallery-tile[data-id='{others[0].pk}'] .tile-link").drag_to(chip)
    expect(page.locator(".toast").last).to_contain_text("Added 2 items to “Moodboard”.")
    expect(chip.locator("[data-drop-count]")).to_have_text("3")
    assert set(board.items.values_list("pk", flat=True)) == {fox.pk, *(g.pk for g in others)}

    # The collection shows the newest addition as its cover.
    page.goto(f"{asgi_live_server}/collections/")
    cover = page.locator(".collection-cover img")
    expect(cover).to_have_count(1)
    newest = board.memberships.order_by("-added_at", "-pk").first()
    assert newest is not None
    assert f"/assets/{Asset.objects.get(generation_id=newest.generation_id).pk}/thumb/" in (
        cover.get_attribute("src") or ""
    )
    width = page.evaluate("() => document.querySelector('.collection-cover img').naturalWidth")
    assert width > 0  # the picture loaded


@pytest.mark.django_db(transaction=True)
def test_comparing_two_pictures_with_the_slider(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    create(alice, prompt="A lighthouse at dusk", aspect_ratio="1:1")
    create(alice, "google/imagen4-fast", prompt="A lighthouse at dusk, oil paint", aspect_ratio="1:1")
    drain()
    first, second = Generation.objects.order_by("-created_at", "-id")
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/gallery/")
    compare = page.get_by_role("link", name="Compare")
    for generation in (first, second):
        page.locator(f".gallery-tile[data-id='{generation.pk}']").hover()
        page.locator(f"#pick-{generation.pk}").check()
    expect(compare).to_be_visible()
    compare.click()
    expect(page).to_have_url(re.compile(rf"/gallery/compare/\?ids={first.pk}&ids={second.pk}$"))
    expect(page.get_by_role("heading", name="Compare 2 items")).to_be_visible()

    slider = page.locator("[data-compare-slider]")
    line = page.locator(".compare-line")
    page.wait_for_function("() => [...document.querySelectorAll('.compare-slider img')].every(i => i.complete)")
    box = slider.bounding_box()
    assert box is not None

    def split() -> float:
        line_box = line.bounding_box()
        assert line_box is not None and box is not None
        return (line_box["x"] + line_box["width"] / 2 - box["x"]) / box["width"] * 100

    assert abs(split() - 50) < 1
    # The keyboard moves the divider (the range input is the control)...
    control = page.get_by_role("slider", name=re.compile("Divider position"))
    control.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    expect(control).to_have_value("40")
    assert abs(split() - 40) < 1
    # ...and so does dragging across the pictures; the upper picture is cut at the divider.
    box = slider.bounding_box()  # focusing the range below the pictures may have scrolled the page
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert abs(float(control.input_value()) - 75) <= 1
    assert abs(split() - 75) < 1.5
    clip = page.evaluate("() => getComputedStyle(document.querySelector('.compare-over')).clipPath")
    cut = re.fullmatch(r"inset\(0px ([\d.]+)% 0px 0px\)", clip)
    assert cut is not None and float(cut[1]) == 100 - float(control.input_value()), clip
    # Both pictures loaded, and the two items' facts sit side by side below.
    loaded = page.evaluate("() => [...document.querySelectorAll('.compare-slider img')].map(i => i.naturalWidth)")
    assert all(w > 0 for w in loaded) and len(loaded) == 2
    expect(page.locator(".compare-item")).to_have_count(2)

    # Fewer than two items is a clear refusal.
    page.goto(f"{asgi_live_server}/gallery/compare/?ids={first.pk}")
    expect(page.get_by_role("alert")).to_have_text("Choose 2 to 4 items to compare (1 chosen).")
