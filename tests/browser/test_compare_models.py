"""Compare models in Chromium: from Generate's "Compare models" link, one prompt on three image models and Flux
Kontext Pro (whose ratio field is "aspectRatio"); the total shown before Run is what the four generations hold;
the batch page fills live and "Open the comparison" shows the four side by side."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from kiestudio.batches.models import Batch
from kiestudio.studio.models import Generation
from tests.browser.test_accessibility import serious

SHOTS = os.environ.get("KIE_SCREENSHOTS")  # a folder to keep screenshots in, when looking at the UI by eye


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_one_prompt_on_four_models_priced_run_and_compared(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, studio_worker
):
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/generate/?model=flux-kontext/pro")
    page.get_by_role("link", name="Compare models").click()
    expect(page.get_by_role("heading", name="Compare models", level=1)).to_be_visible()
    expect(page.get_by_label("Model 1")).to_have_value("flux-kontext/pro")

    page.get_by_label("Prompt").fill("A lighthouse on a cliff at dusk, waves below")
    for slot, name in ((2, "Nano Banana"), (3, "Seedream 4.5"), (4, "Imagen 4 Fast")):
        page.get_by_label(f"Model {slot}").select_option(label=name)
    # The shared settings follow the chosen models (each change re-checks them): 21:9 is Flux's and Seedream's.
    ratio = page.get_by_label("Aspect ratio")
    expect(ratio.locator("option[value='21:9']")).to_have_count(1)
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    ratio.select_option("21:9")
    page.get_by_role("button", name="Check prices").click()

    preview = page.locator("#compare-preview")
    expect(preview.locator("tbody tr")).to_have_count(4)
    expect(preview).to_contain_text("Aspect ratio (aspectRatio): 21:9")
    expect(preview.locator(".compare-note")).to_have_text(["Imagen 4 Fast has no aspect ratio 21:9; it uses 16:9."])
    total = Decimal(preview.locator(".compare-total").inner_text().replace(",", ""))
    run = page.get_by_role("button", name=re.compile(r"^Run 4 models · .+ credits$"))
    expect(run).to_contain_text(f"· {preview.locator('.compare-total').inner_text()} credits")
    assert not Generation.objects.exists()  # nothing bought yet
    _shot(page, "compare-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "compare-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    run.click()
    expect(page.get_by_role("heading", name="A lighthouse on a cliff at dusk, waves below")).to_be_visible()
    batch = Batch.objects.get()
    assert batch.source == Batch.Source.COMPARE
    generations = list(Generation.objects.order_by("batch_item__line"))
    assert [g.model_key for g in generations] == [
        "flux-kontext/pro",
        "google/nano-banana",
        "seedream/4.5-text-to-image",
        "google/imagen4-fast",
    ]
    assert sum(g.credits_estimated for g in generations) == total
    assert generations[0].inputs["aspectRatio"] == "21:9" and generations[3].inputs["aspect_ratio"] == "16:9"

    # The page polls while anything runs: the rows fill and the comparison opens once all four are done.
    expect(page.locator(".batch-counts")).to_contain_text("4 of 4 done", timeout=30_000)
    expect(page.locator(".batch-thumb")).to_have_count(4)
    page.get_by_role("link", name="Open the comparison").click()
    items = page.locator(".compare-grid .compare-item")
    expect(items).to_have_count(4)
    expect(items.locator("img")).to_have_count(4)
    expect(page.locator(".compare-title")).to_have_text(
        ["Flux Kontext Pro", "Nano Banana", "Seedream 4.5", "Imagen 4 Fast"]
    )
    tops = [box["y"] for box in (item.bounding_box() for item in items.all()) if box]
    assert len(tops) == 4 and max(tops) - min(tops) < 1  # side by side, on one row


@pytest.mark.django_db(transaction=True)
def test_a_blind_vote_reveals_the_names_and_moves_the_leaderboard(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, studio_worker
):
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{asgi_live_server}/batches/leaderboard/")
    expect(page.get_by_text("No votes yet")).to_be_visible()

    page.goto(f"{asgi_live_server}/batches/compare/new/?model=google/nano-banana")
    page.get_by_label("Prompt").fill("A paper boat on a still lake")
    page.get_by_label("Model 2").select_option(label="Imagen 4 Fast")
    page.get_by_label("Model 3").select_option(label="Seedream 4.5")
    page.get_by_label(re.compile("Judge it blind")).check()
    page.get_by_role("button", name="Check prices").click()
    page.get_by_role("button", name=re.compile(r"^Run 3 models")).click()
    batch = Batch.objects.get()
    assert batch.blind
    judge = page.get_by_role("link", name="Judge it blind")
    expect(judge).to_be_visible(timeout=30_000)
    expect(page.locator(".batch-table")).not_to_contain_text("Imagen 4 Fast")
    judge.click()

    items = page.locator(".judge-item")
    expect(items).to_have_count(3)
    expect(page.locator("main")).not_to_contain_text("Nano Banana")
    expect(page.locator("[data-model-name]")).to_have_count(0)
    _shot(page, "judge-blind")
    # B is the second model chosen: Imagen 4 Fast, which the judge can't see yet.
    items.nth(1).get_by_label("Best").check()
    items.nth(1).get_by_label("Stars for B").select_option("5")
    page.get_by_role("button", name="Vote").click()
    expect(page.locator("[data-model-name]")).to_have_count(3)
    expect(items.nth(1).locator("[data-model-name]")).to_have_text("Imagen 4 Fast")
    expect(page.get_by_role("button", name="Change my vote")).to_be_visible()
    _shot(page, "judge-after-vote")
    assert not serious(page, "judge page, after the vote")

    page.get_by_role("link", name="Leaderboard").click()
    rows = page.locator("table.leaderboard tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Imagen 4 Fast")
    # 1000 + 16 (a win at equal ratings) + 15.3 (a win when already ahead): 1031.
    expect(rows.first.locator("td").nth(2)).to_have_text("1031")
    expect(rows.first.locator("td").nth(5)).to_have_text("5.0")
    _shot(page, "leaderboard")
    assert not serious(page, "leaderboard")


@pytest.mark.django_db(transaction=True)
def test_choices_made_while_a_reprice_is_on_its_way_are_kept(signed_in_page: Page, asgi_live_server: str, alice):
    """Choosing a model re-prices the form and swaps its lower half. A box ticked, or a shared setting chosen,
    while that answer is on its way is kept: the tick survives the swap, and a setting's change sends a newer
    check that replaces the one in flight (CI once saw a blind comparison run as an open one)."""
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    held: list = []
    holding = [True]

    def hold(route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/batches/compare/new/check/", hold)
    page.goto(f"{asgi_live_server}/batches/compare/new/?model=google/nano-banana")
    page.get_by_label("Prompt").fill("A kite over a wheat field")
    page.get_by_label("Model 2").select_option(label="Seedream 4.5")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1  # the re-price is on its way, and held
    blind = page.get_by_label(re.compile("Judge it blind"))
    blind.check()
    holding[0] = False
    held[0].continue_()
    ratio = page.get_by_label("Aspect ratio")
    expect(ratio.locator("option[value='16:9']")).to_have_count(1)  # the answer arrived and was swapped in
    expect(blind).to_be_checked()

    # A shared setting changed while the next re-price is held sends its own check, and the last one wins.
    holding[0] = True
    page.get_by_label("Model 3").select_option(label="Imagen 4 Fast")
    for _ in range(100):
        if len(held) == 2:
            break
        page.wait_for_timeout(50)
    assert len(held) == 2
    holding[0] = False
    ratio.select_option("16:9")  # its own check replaces the one held
    held[1].continue_()
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    expect(page.get_by_label("Aspect ratio")).to_have_value("16:9")
    expect(blind).to_be_checked()
    page.get_by_role("button", name="Check prices").click()
    expect(page.locator("#compare-preview tbody tr")).to_have_count(3)
    expect(page.locator("#compare-preview")).to_contain_text("16:9")
    page.get_by_role("button", name=re.compile(r"^Run 3 models")).click()
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    assert Batch.objects.get().blind
