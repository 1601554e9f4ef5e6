"""Generate as a workbench, in real Chromium at a 1280x800 desktop and a 390x844 phone: the new card is in view
after Generate without the creator scrolling, nothing covers the button, and on a phone the prompt comes first and
is in view after picking a model; the phone gallery's first screen is pictures, not filters."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Generation
from tests.studio.helpers import create, drain

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def in_view(page: Page, selector: str) -> dict:
    """The element's box, asserted to lie inside the window (below the top bar when it is fixed)."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + min(box["height"], 200) <= page.viewport_size["height"], (selector, box)
    return box


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def generate(page: Page) -> None:
    page.get_by_label("Prompt").first.fill("A lighthouse at dusk, oil painting")
    button = page.get_by_role("button", name="Generate", exact=True)
    button.click()
    expect(page.locator("#model-form .form-status")).to_contain_text("Started 1 generation")
    card = page.locator("#recent .gen-card").first
    expect(card).to_be_focused()
    # Nothing the page shows for the click sits on the button (the success note is in the form, not a toast).
    button_box = button.bounding_box()
    for toast in page.locator(".toast").all():
        assert not overlaps(toast.bounding_box(), button_box), "a toast covers Generate"


@pytest.mark.django_db(transaction=True)
def test_on_a_desktop_results_sit_beside_the_form_and_the_new_card_is_in_view(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    for n in range(6):  # earlier work fills Results, so the newest has to be put on top to be seen
        create(alice, prompt=f"An earlier picture {n}")
    drain()
    page = signed_in_page
    page.set_viewport_size(DESKTOP)
    page.goto(f"{asgi_live_server}/generate/")
    form, results = page.locator("#model-form").bounding_box(), page.locator("#recent").bounding_box()
    assert results["x"] >= form["x"] + form["width"], "Results sit to the right of the form"
    page.get_by_text("More options").click()  # a longer form, scrolled to its end: Results stay on screen
    page.mouse.move(640, 400)
    page.mouse.wheel(0, 2000)
    page.wait_for_function("() => window.scrollY > 0")
    in_view(page, "#model-form button[type=submit]")  # the price and Generate stay in reach

    generate(page)
    newest = Generation.objects.order_by("-pk").first()
    in_view(page, f"#generation-{newest.pk}")
    assert page.locator("#recent .gen-card").first.get_attribute("id") == f"generation-{newest.pk}"


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_prompt_comes_first_the_model_is_a_sheet_and_the_new_card_is_in_view(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    page = signed_in_page
    page.set_viewport_size(PHONE)
    page.goto(f"{asgi_live_server}/generate/")
    expect(page.locator(".model-list")).to_be_hidden()
    in_view(page, "#model-form textarea")  # the prompt is on the first screen

    page.get_by_role("button", name="Change model").click()
    expect(page.get_by_label("Search models")).to_be_focused()
    page.get_by_label("Search models").fill("imagen 4 fast")
    page.locator(".model-item", has_text="Imagen 4 Fast").click()
    expect(page.locator(".model-title")).to_have_text("Imagen 4 Fast")
    expect(page.locator(".model-list")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"model=google%2Fimagen4-fast|model=google/imagen4-fast"))
    in_view(page, "#model-form textarea")
    expect(page.locator("#model-form textarea").first).to_be_focused()

    # Escape closes the sheet without a change.
    page.get_by_role("button", name="Change model").click()
    page.keyboard.press("Escape")
    expect(page.locator(".model-list")).to_be_hidden()
    expect(page.locator(".model-title")).to_have_text("Imagen 4 Fast")

    generate(page)
    newest = Generation.objects.order_by("-pk").first()
    assert newest.model_key == "google/imagen4-fast"
    in_view(page, f"#generation-{newest.pk}")


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_price_and_generate_bar_stays_one_row(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    # A model priced by length has the longest price words ("Fill in the form to see the price."); they wrap
    # beside the button, never push it to a row of its own.
    page = signed_in_page
    page.set_viewport_size(PHONE)
    for model in ("elevenlabs/text-to-speech-multilingual-v2", "google/nano-banana"):
        page.goto(f"{asgi_live_server}/generate/?model={model}")
        bar = page.locator(".generate-foot").bounding_box()
        price = page.locator("#estimate").bounding_box()
        button = page.get_by_role("button", name="Generate", exact=True).bounding_box()
        assert bar is not None and price is not None and button is not None
        assert bar["height"] <= 90, (model, bar)
        assert abs((price["y"] + price["height"] / 2) - (button["y"] + button["height"] / 2)) < 12, (
            model,
            price,
            button,
        )
        assert bar["y"] + bar["height"] <= PHONE["height"] + 1  # on screen, at the bottom


@pytest.mark.django_db(transaction=True)
def test_the_phone_gallery_opens_on_pictures_and_the_filters_on_demand(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    for n in range(4):
        create(alice, prompt=f"A lighthouse, take {n}")
    drain()
    page = signed_in_page
    page.set_viewport_size(PHONE)
    page.goto(f"{asgi_live_server}/gallery/")
    first_two = page.locator(".gallery-tile img")
    expect(first_two.first).to_be_visible()
    for index in range(2):
        box = first_two.nth(index).bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], "a whole picture on the first screen"
    expect(page.get_by_label("Kind", exact=True)).to_be_hidden()

    filters = page.get_by_role("button", name="Filters")
    filters.click()
    expect(filters).to_have_attribute("aria-expanded", "true")
    kind = page.get_by_label("Kind", exact=True)
    expect(kind).to_be_focused()
    kind.select_option("image")  # choosing applies at once, as on the desktop
    expect(page).to_have_url(re.compile(r"kind=image"))
    expect(page.get_by_role("button", name=re.compile(r"^Filters"))).to_contain_text("1")


@pytest.mark.django_db(transaction=True)
def test_the_desktop_gallery_keeps_every_filter_in_view(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    page = signed_in_page
    page.set_viewport_size(DESKTOP)
    page.goto(f"{asgi_live_server}/gallery/")
    expect(page.get_by_label("Kind", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()
