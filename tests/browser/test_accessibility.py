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


@pytest.mark.django_db(transaction=True)
def test_the_organising_controls_and_new_settings_pass_axe_and_work_by_keyboard(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice
):
    """Tags, ratings, covers, the collection strip, compare, and the settings and invitation controls added
    with them: axe in light and dark, and each reached and used from the keyboard alone."""
    from kiestudio.gallery import services as gallery_services
    from kiestudio.gallery.models import Collection, Rating
    from kiestudio.workspaces.models import Invitation
    from tests.studio.helpers import workspace_of

    page = signed_in_page
    base = asgi_live_server
    first, second = (create(alice, prompt=p)[0] for p in ("A lighthouse at dusk", "A harbour at dawn"))
    drain()
    board = Collection.objects.create(workspace=workspace_of(alice), name="Moodboard")
    gallery_services.collection_add(collection=board, generations=[first, second], user=alice)
    gallery_services.tags_add(generations=[first], user=alice, name="Dusk")
    team = "/team/"
    problems: list[str] = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for path in (
            "/gallery/",
            "/collections/",
            f"/collections/{board.pk}/",
            f"/gallery/{first.pk}/?collection={board.pk}",
            f"/gallery/compare/?ids={first.pk}&ids={second.pk}",
            "/settings/",
            team,
        ):
            page.goto(base + path)
            problems += serious(page, f"{path} ({scheme})")
    assert not problems, "\n".join(problems)
    page.emulate_media(color_scheme="light")

    # The detail's rating and tag field, from the keyboard: Tab reaches a star, Enter rates; the tag field takes
    # a tag with Enter; the tag's remove button is reachable too.
    page.goto(f"{base}/gallery/{second.pk}/")
    star = page.get_by_role("button", name="3 stars", exact=True)
    star.focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="4 stars", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=re.compile(r"^4 stars \(press again"))).to_have_attribute(
        "aria-pressed", "true"
    )
    assert Rating.objects.get(generation=second).stars == 4
    page.get_by_label("Add a tag").focus()
    page.keyboard.type("Harbour")
    page.keyboard.press("Enter")
    remove = page.get_by_role("button", name="Remove the tag Harbour")
    expect(remove).to_be_visible()
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Remove the tag Harbour")).to_have_count(0)

    # Selecting two tiles with the keyboard (Space on each checkbox) brings up Compare, reached by Tab.
    page.goto(f"{base}/gallery/")
    for generation in (first, second):
        page.locator(f"#pick-{generation.pk}").focus()
        page.keyboard.press("Space")
    compare = page.get_by_role("link", name="Compare")
    expect(compare).to_be_visible()
    compare.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Compare 2 items")).to_be_visible()

    # Settings: the name, theme and auto-run controls, each by Tab from the one before and saved with Enter.
    page.goto(f"{base}/settings/")
    name = page.get_by_label(re.compile("^Your name"))
    name.focus()
    page.keyboard.type("Alice Liddell")
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile("^Your name"))).to_have_value("Alice Liddell")
    theme = page.get_by_label("Theme")
    theme.focus()
    theme.select_option("dark")  # a select's choice by keyboard is the browser's own; saving is ours
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save theme")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")

    # The invitation form: every control in order, and Enter on the button makes a link for five people.
    page.goto(f"{base}{team}")
    page.get_by_label(re.compile("^Email")).focus()
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order == ["invite-role", "invite-uses", "invite-days", "Create invitation"], order
    page.get_by_label(re.compile("^People who can use a link")).select_option("5")
    page.get_by_role("button", name="Create invitation").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".invitation-list")).to_contain_text("0 of 5 used")
    assert Invitation.objects.get(max_uses=5).uses == 0


@pytest.mark.django_db(transaction=True)
def test_batch_and_compare_pages_pass_axe_and_work_by_keyboard(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, studio_worker, tmp_path
):
    """New batch (with the checked rows, one refused), a running batch's page, the batch list, and Compare models
    with its priced preview: axe in light and dark at a desktop and a phone; the batch form by keyboard alone."""
    page = signed_in_page
    base = asgi_live_server
    problems: list[str] = []

    def check_rows() -> None:
        page.goto(f"{base}/batches/new/")
        page.get_by_label("Prompt template").fill("A {subject}, soft light")
        page.get_by_label("Model 1").select_option(label="Nano Banana")
        page.get_by_label("Rows, one per line").fill("a paper boat\nstyle: ink\na lighthouse")
        page.get_by_role("button", name="Check the rows").click()
        expect(page.locator("#batch-preview .batch-reason")).to_have_count(1)

    def check_prices() -> None:
        page.goto(f"{base}/batches/compare/new/?model=google/nano-banana")
        page.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
        page.get_by_label("Model 2").select_option(label="Imagen 4 Fast")
        page.get_by_role("button", name="Check prices").click()
        expect(page.get_by_role("button", name=re.compile(r"^Run 2 models"))).to_be_visible()

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for size in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
            page.set_viewport_size(size)
            check_rows()
            problems += serious(page, f"new batch, checked ({scheme}, {size['width']})")
            check_prices()
            problems += serious(page, f"compare models, priced ({scheme}, {size['width']})")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(color_scheme="light")
    check_rows()
    page.get_by_role("button", name=re.compile(r"^Run 2 generations")).click()
    expect(page.locator(".batch-counts")).to_contain_text("2 of 2 done", timeout=20_000)
    problems += serious(page, "batch page")
    page.goto(f"{base}/batches/")
    problems += serious(page, "batch list")
    assert not problems, "\n".join(problems)

    # The batch form from the keyboard: each control in order, then Enter on "Check the rows".
    page.goto(f"{base}/batches/new/")
    page.get_by_label("Name").focus()
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order[:6] == [
        "batch-template",
        "batch-model-1",
        "batch-model-2",
        "batch-model-3",
        "batch-model-4",
        "batch-prompts",
    ], order
    assert "batch-csv" in order and "Check the rows" in order, order
