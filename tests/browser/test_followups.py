"""Follow-ups in a real browser against the simulator: upscale an image from its card, extend a Veo video and
separate a Suno track into stems from the gallery, and walk the family tree both ways."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Generation, Status
from kiestudio.studio.templatetags.studio import asset_label
from tests.studio.helpers import made

SHOTS = os.environ.get("KIE_SCREENSHOTS")  # a folder to keep screenshots in, when looking at the UI by eye


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=False)


@pytest.mark.django_db(transaction=True)
def test_upscale_an_image_from_its_card_and_walk_the_family_tree(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, alice, settings
):
    kie_sim.sim.config.time_scale = 0.1
    settings.STUDIO_POLL_SCALE = 0.05
    image = made(alice, "google/nano-banana", prompt="A lighthouse at dusk")
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/")
    card = page.locator(f"#generation-{image.pk}")
    card.get_by_text("Actions").click()
    menu = card.get_by_role("group", name="Follow-up actions")
    for label in ("Upscale", "Remove background", "Edit", "Reframe", "Animate"):
        expect(menu.get_by_role("link", name=re.compile(f"^{label}"))).to_be_visible()
    expect(menu.get_by_role("link", name=re.compile("^Extend"))).to_have_count(0)
    shot(page, "followup-menu")
    menu.get_by_role("link", name=re.compile("^Upscale")).click()

    dialog = page.locator("#followup-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Upscale")).to_be_visible()
    expect(dialog.locator("#followup-estimate")).to_contain_text("credits")
    expect(dialog.get_by_label("Model")).to_have_value("topaz/image-upscale")
    expect(dialog.get_by_label("Enlarge by")).to_be_visible()
    dialog.get_by_label("Enlarge by").select_option("4")
    expect(dialog.locator("#followup-estimate")).to_contain_text("20 credits")
    shot(page, "followup-form")
    dialog.get_by_role("button", name="Upscale").click()

    expect(dialog.get_by_role("status").filter(has_text="Started")).to_be_visible()
    child = Generation.objects.get(parent=image)
    live = dialog.locator(f"#generation-{child.pk}")
    expect(live).to_contain_text("Upscale of")
    expect(live.locator(".status-badge")).to_have_text("Done", timeout=20_000)
    expect(live.locator(".gen-media img")).to_be_visible()
    shot(page, "followup-done")
    child.refresh_from_db()
    assert child.action == "upscale" and child.inputs["upscale_factor"] == "4" and child.status == Status.SUCCEEDED

    # Child → parent ("made from") and parent → child ("used in"), by clicking through.
    dialog.get_by_role("link", name="Open it in the gallery").click()
    expect(page).to_have_url(re.compile(rf"/gallery/{child.pk}/"))
    tree = page.get_by_role("region", name="Family tree")
    expect(tree).to_contain_text("Made from")
    shot(page, "lineage-child")
    tree.get_by_role("link", name=re.compile("Original")).click()
    expect(page).to_have_url(re.compile(rf"/gallery/{image.pk}/"))
    tree = page.get_by_role("region", name="Family tree")
    expect(tree).to_contain_text("Used in")
    tree.get_by_role("link", name=re.compile("Upscale")).click()
    expect(page).to_have_url(re.compile(rf"/gallery/{child.pk}/"))


@pytest.mark.django_db(transaction=True)
def test_extend_a_veo_video_from_the_gallery(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, alice, settings
):
    kie_sim.sim.config.time_scale = 0.02
    settings.STUDIO_POLL_SCALE = 0.05
    video = made(alice, "veo/veo3_fast", prompt="A drone flight over green hills")
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/")
    page.locator(".gallery-tile a").first.click()
    detail = page.locator("#detail-dialog")
    expect(detail).to_be_visible()
    detail.get_by_text("Actions").first.click()
    detail.get_by_role("link", name=re.compile("^Extend")).click()

    followup = page.locator("#followup-dialog")
    expect(followup.get_by_role("heading", name="Extend")).to_be_visible()  # on top of the detail dialog
    prompt = followup.get_by_label("What happens next")
    expect(prompt).to_have_value("A drone flight over green hills")  # prefilled from the source
    prompt.fill("The drone rises above the clouds at sunrise")
    expect(followup.locator("#followup-estimate")).to_contain_text("60 credits")
    followup.get_by_role("button", name="Extend").click()
    child = None
    expect(followup.get_by_role("status").filter(has_text="Started")).to_be_visible()
    child = Generation.objects.get(parent=video)
    expect(followup.locator(f"#generation-{child.pk} .status-badge")).to_have_text("Done", timeout=30_000)
    shot(page, "veo-extended")
    sent = kie_sim.sim.get_task(child.kie_task_id, "veo").body
    assert sent["taskId"] == video.kie_task_id and sent["prompt"].startswith("The drone rises")

    # The gallery can narrow to everything made from the video, or to originals only.
    page.goto(f"{asgi_live_server}/gallery/?lineage={video.pk}")
    expect(page.locator(".gallery-tile")).to_have_count(1)
    expect(page.locator(".filter-note")).to_contain_text("Showing everything made from")
    page.goto(f"{asgi_live_server}/gallery/")
    page.get_by_label("Origin").select_option("originals")
    expect(page).to_have_url(re.compile(r"origin=originals"))
    expect(page.locator(".gallery-tile")).to_have_count(1)


@pytest.mark.django_db(transaction=True)
def test_separate_a_suno_track_into_stems(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, alice, settings
):
    kie_sim.sim.config.time_scale = 0.02
    settings.STUDIO_POLL_SCALE = 0.05
    song = made(alice, "suno/V5", prompt="A calm piano piece with soft vocals", customMode=False, instrumental=False)
    second = song.assets.order_by("index")[1]
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/{song.pk}/")
    page.locator(f"#asset-{second.pk}").get_by_text("Actions").click()
    page.locator(f"#asset-{second.pk}").get_by_role("link", name=re.compile("^Separate stems")).click()
    followup = page.locator("#followup-dialog")
    expect(followup.get_by_role("heading", name="Separate stems")).to_be_visible()
    expect(followup).to_contain_text("file 2")
    followup.get_by_label("Split into").select_option("split_stem")
    expect(followup.locator("#followup-estimate")).to_contain_text("50 credits")
    shot(page, "stems-form")
    followup.get_by_role("button", name="Separate stems").click()
    expect(followup.get_by_role("status").filter(has_text="Started")).to_be_visible()
    child = Generation.objects.get(parent=song)
    expect(followup.locator(f"#generation-{child.pk} .status-badge")).to_have_text("Done", timeout=30_000)
    child.refresh_from_db()
    stems = list(child.assets.order_by("index"))
    assert len(stems) > 2 and child.parent_asset == second
    assert kie_sim.sim.get_task(child.kie_task_id, "suno").body["audioId"] == second.metadata["audio_id"]

    followup.get_by_role("link", name="Open it in the gallery").click()
    expect(page).to_have_url(re.compile(rf"/gallery/{child.pk}/"))
    for stem in stems:  # every stem has its own player and download
        figure = page.locator(f"#asset-{stem.pk}")
        expect(figure.locator("audio")).to_have_count(1)
        expect(figure.get_by_role("link", name=re.compile("^Download"))).to_be_visible()
        expect(figure.locator("figcaption")).to_contain_text(asset_label(stem))  # "Backing vocals", …
    expect(page.get_by_role("button", name=f"Download all {len(stems)} (zip)")).to_be_visible()
    shot(page, "stems-detail")
    tree = page.get_by_role("region", name="Family tree")
    expect(tree).to_contain_text("Made from file 2 of")
    tree.get_by_role("link", name=re.compile("Original")).click()
    expect(page).to_have_url(re.compile(rf"/gallery/{song.pk}/"))
    expect(page.get_by_role("region", name="Family tree")).to_contain_text("Separate stems")


@pytest.mark.django_db(transaction=True)
def test_a_long_follow_up_form_keeps_its_price_and_button_in_view(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    image = made(alice, "google/nano-banana", prompt="A lighthouse at dusk")
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 640})
    page.goto(f"{asgi_live_server}/generate/")
    card = page.locator(f"#generation-{image.pk}")
    card.get_by_text("Actions").click()
    card.get_by_role("group", name="Follow-up actions").get_by_role("link", name=re.compile("^Animate")).click()

    dialog = page.locator("#followup-dialog")
    expect(dialog.get_by_role("heading", name="Animate")).to_be_visible()
    form = dialog.locator("#followup-form")
    assert dialog.evaluate("d => d.scrollHeight > d.clientHeight"), "the form fits: this test needs a long one"
    button = form.get_by_role("button", name="Animate")
    price = dialog.locator("#followup-estimate")
    expect(price).to_contain_text("credits")
    expect(button).to_be_in_viewport(ratio=1)
    expect(price).to_be_in_viewport(ratio=1)
    shot(page, "followup-long-top")
    # Scrolled through the middle of the form and to its end, they stay where they are, above any field.
    for position in ("d.scrollHeight / 2", "d.scrollHeight"):
        dialog.evaluate(f"d => d.scrollTo(0, {position})")
        expect(button).to_be_in_viewport(ratio=1)
        box, dialog_box = button.bounding_box(), dialog.bounding_box()
        assert box and dialog_box and box["y"] + box["height"] <= dialog_box["y"] + dialog_box["height"]
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        on_top = page.evaluate(f"() => document.elementFromPoint({cx}, {cy}).closest('button')?.textContent")
        assert on_top and "Animate" in on_top
    shot(page, "followup-long-end")
    expect(form.get_by_text(re.compile("Usually takes"))).to_be_in_viewport()


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_form_is_wired_the_moment_it_shows(signed_in_page: Page, asgi_live_server: str, kie_sim, alice):
    """htmx wires swapped-in content up as it settles. Settling is immediate here: with htmx's default 20 ms, a
    form pressed at once (a fast keyboard user, a test) posted without htmx and left the page."""
    image = made(alice, "google/nano-banana", prompt="A lighthouse at dusk")
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/{image.pk}/")
    page.evaluate(
        """() => {
          window.__unwired = null;
          new MutationObserver(() => {
            const form = document.querySelector("#followup-body form");
            if (form && window.__unwired === null) window.__unwired = form.classList.contains("htmx-added");
          }).observe(document.getElementById("followup-body"), { childList: true, subtree: true });
        }"""
    )
    page.locator("details.followups > summary").first.click()
    page.get_by_role("group", name="Follow-up actions").get_by_role("link", name=re.compile("^Upscale")).click()
    dialog = page.locator("#followup-dialog")
    expect(dialog.get_by_role("heading", name="Upscale")).to_be_visible()
    assert page.evaluate("window.__unwired") is False
    dialog.locator("button[type=submit]").click()  # at once
    expect(dialog.get_by_role("status").filter(has_text="Started")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/gallery/{image.pk}/$"))
