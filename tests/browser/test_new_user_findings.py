"""What a new user ran into (issue 16, items 10 to 13), each in real Chromium: the chat follows a new message, a
refused Generate says why where the button is, a job Kie keeps refusing says why it waits, karaoke lyrics fit,
a cut paste is announced, the Simulator pill tells where jobs go, and a favourite shows on its tile."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from kiestudio.chat.models import Conversation, Message
from kiestudio.studio.models import Asset, Generation, Status
from tests.studio.helpers import made, workspace_of

# Where an element sits against what the reader can see: the viewport above the chat's sticky composer.
SEEN = """
(el) => {
  const box = el.getBoundingClientRect();
  const composer = document.getElementById("composer");
  const floor = composer ? composer.getBoundingClientRect().top : window.innerHeight;
  return { top: box.top, bottom: box.bottom, floor: floor, height: window.innerHeight };
}
"""


def _long_conversation(user, pairs: int = 8) -> Conversation:
    from kiestudio.chat import services

    conversation = services.conversation_create(workspace=workspace_of(user), user=user)
    parent = None
    words = " ".join(["Lighthouses keep their lamps turning through the night."] * 12)
    for n in range(pairs):
        question = Message.objects.create(
            workspace=conversation.workspace,
            conversation=conversation,
            parent=parent,
            role="user",
            content=[{"type": "text", "text": f"Question {n}: tell me more."}],
        )
        parent = Message.objects.create(
            workspace=conversation.workspace,
            conversation=conversation,
            parent=question,
            role="assistant",
            content=[{"type": "text", "text": f"Answer {n}. {words}"}],
        )
    Conversation.objects.filter(pk=conversation.pk).update(current_leaf=parent)
    return conversation


@pytest.mark.django_db(transaction=True)
def test_chat_follows_a_new_message_in_a_long_conversation(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    """Item 10: the new message and its reply, as it streams, are where the reader is looking."""
    conversation = _long_conversation(alice)
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/{conversation.pk}/")
    expect(page.locator("article.msg-assistant")).to_have_count(8)
    assert page.evaluate("document.documentElement.scrollHeight > 2 * window.innerHeight")  # it scrolls
    box = page.get_by_label("Message", exact=True)
    box.fill("And one more about harbours, please [sim:delay 0.08] [sim:words 60]")
    box.press("Enter")

    question = page.locator("article.msg-user").last
    expect(question).to_contain_text("And one more about harbours")
    following = page.locator("article.msg-assistant[data-following]").last
    expect(following.locator("[data-tail], [data-rendered]").first).not_to_be_empty()  # streaming now
    # The same article by its id: a loaded machine may finish the stream before the next look.
    reply = page.locator(f"#{following.get_attribute('id')}")
    seen = question.evaluate(SEEN)
    assert seen["bottom"] > 0 and seen["top"] < seen["floor"], seen  # the question is in view, above the composer
    seen = reply.evaluate(SEEN)
    assert seen["top"] < seen["floor"] and seen["bottom"] > 0, seen
    page.screenshot(path="/tmp/issue16-10-streaming.png")

    done = page.locator("article.msg-assistant.status-complete").last
    expect(page.locator("article.msg-assistant.status-complete")).to_have_count(9, timeout=20000)
    seen = done.evaluate(SEEN)
    # The reader who was at the bottom stays there: the end of the reply sits just above the composer.
    assert seen["bottom"] <= seen["floor"] + 40 and seen["bottom"] > seen["floor"] - 200, seen


@pytest.mark.django_db(transaction=True)
def test_a_budget_refusal_shows_by_the_generate_button(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    """Item 11: pressing Generate over the budget says so where the reader is, as an alert."""
    workspace = workspace_of(alice)
    workspace.monthly_budget = Decimal("1")
    workspace.save(update_fields=["monthly_budget"])
    page = signed_in_page
    page.set_viewport_size({"width": 1100, "height": 520})
    page.goto(f"{asgi_live_server}/generate/?model=google/nano-banana")
    page.get_by_label("Prompt").fill("A lighthouse at dusk, watercolor")
    expect(page.locator("#estimate")).to_contain_text("credits")
    button = page.locator("#model-form").get_by_role("button", name="Generate")
    button.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")  # as far down as the page goes
    before = page.evaluate("window.scrollY")
    assert before > 100 and page.locator("#model-form .form-head").evaluate(SEEN)["bottom"] < 0  # top out of view
    button.click()

    refusal = page.locator("#model-form").get_by_role("alert")
    expect(refusal).to_contain_text("monthly budget")
    expect(refusal).to_be_in_viewport(ratio=1)
    expect(page.locator("#model-form").get_by_role("button", name="Generate")).to_be_in_viewport()
    page.screenshot(path="/tmp/issue16-11-refusal.png")
    assert not Generation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_kie_keeps_refusing_says_why_it_waits(
    signed_in_page: Page, asgi_live_server, kie_sim, studio_worker, settings
):
    """Item 12: a create Kie answers with 503 leaves a card that says Kie is down, not a stale progress bar."""
    settings.STUDIO_POLL_SCALE = 1.0  # the first wait after a refusal is a few seconds: long enough to read
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/?model=google/nano-banana")
    page.get_by_label("Prompt").fill("A lighthouse in a storm [sim:5xx 503]")
    page.locator("#model-form").get_by_role("button", name="Generate").click()
    card = page.locator(".gen-card").first
    expect(card).to_contain_text("Kie is down for maintenance", timeout=15000)
    expect(card).to_contain_text(re.compile(r"Not sent yet.*tries again (in \d+ s|now)"))
    expect(card.get_by_role("progressbar")).to_have_count(0)
    expect(card).not_to_contain_text("typical")
    card.screenshot(path="/tmp/issue16-12-waiting.png")
    generation = Generation.objects.get()
    assert generation.status in (Status.QUEUED, Status.SUBMITTING) and generation.failure_class == "unavailable"
    assert not generation.kie_task_id  # nothing was created at Kie
    assert all(e.status == 503 for e in kie_sim.log.of_kind("create"))


@pytest.mark.django_db(transaction=True)
def test_karaoke_lyrics_fit_the_detail_page(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    """Item 13a: the lyrics under a track keep their own size, every word inside the box."""
    song = made(alice, "suno/V5", prompt="A song about the sea", customMode=False, instrumental=False)
    asset = Asset.objects.filter(generation=song).order_by("index").first()
    text = "Waves roll in and out again under a silver moon tonight " * 6
    lyrics = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(text.split())]
    Asset.objects.filter(pk=asset.pk).update(metadata={**asset.metadata, "lyrics": lyrics})
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/{song.pk}/")
    words = page.locator(f"#asset-{asset.pk} .karaoke-words")
    expect(words).to_be_visible()
    sizes = words.evaluate(
        """(box) => ({
          box: parseFloat(getComputedStyle(box).fontSize),
          word: parseFloat(getComputedStyle(box.querySelector('.karaoke-word')).fontSize),
          overflowX: box.scrollWidth - box.clientWidth,
        })"""
    )
    page.screenshot(path="/tmp/issue16-13a-karaoke.png")
    assert sizes["word"] == sizes["box"] and sizes["word"] < 24, sizes
    assert sizes["overflowX"] <= 1, sizes  # no word runs out of the box sideways
    # Scrolled to its end, the lyrics' last word shows whole, inside the box.
    words.evaluate("(box) => { box.scrollTop = box.scrollHeight; }")
    last = words.locator(".karaoke-word").last
    inside = last.evaluate(
        """(word) => { const a = word.getBoundingClientRect(), b = word.parentNode.getBoundingClientRect();
          return a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1; }"""
    )
    assert inside


@pytest.mark.django_db(transaction=True)
def test_a_paste_longer_than_the_prompt_limit_is_announced(signed_in_page: Page, asgi_live_server, kie_sim):
    """Item 13b: the prompt shows its count and limit, and a paste the limit cuts says how much was cut."""
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_live_server)
    page.goto(f"{asgi_live_server}/generate/?model=google/nano-banana")
    prompt = page.get_by_label("Prompt")
    note = page.locator("#id_prompt_limit")
    expect(note).to_have_text("0 / 5,000 characters")
    prompt.fill("A lighthouse")
    expect(note).to_have_text("12 / 5,000 characters")
    prompt.fill("")
    page.evaluate("(text) => navigator.clipboard.writeText(text)", "x" * 20_000)
    prompt.focus()
    page.keyboard.press("Control+V")
    expect(prompt).to_have_value("x" * 5000)  # the browser keeps to the limit...
    expect(page.get_by_text(re.compile("^Your paste was 20,000"))).to_be_visible()
    expect(note).to_contain_text(
        "Your paste was 20,000 characters; the prompt takes at most 5,000, so the last 15,000 were left out."
    )  # ...and says so
    expect(note).to_contain_text("5,000 / 5,000 characters")
    expect(note).to_have_class(re.compile("is-over"))
    page.screenshot(path="/tmp/issue16-13b-paste.png")
    prompt.press("Backspace")  # the next edit puts the plain count back
    expect(note).to_have_text("4,999 / 5,000 characters")


@pytest.mark.django_db(transaction=True)
def test_the_simulator_pill_stays_while_jobs_go_to_the_simulator(
    signed_in_page: Page, asgi_live_server, kie_sim, alice, settings
):
    """Item 13c: a workspace key saved while the studio talks to the simulator leaves the pill where it is."""
    settings.KIE_USE_SIMULATOR = True  # jobs go to the simulator (kie_sim points KIE_BASE_URL at it)
    page = signed_in_page
    pill = page.locator(".topbar .pill-sim")
    page.goto(f"{asgi_live_server}/settings/")
    expect(pill).to_have_text("Simulator")
    page.get_by_label("Key", exact=True).fill("kie-key-of-the-team-1234")
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_text("ending ••••1234").first).to_be_visible()
    assert workspace_of(alice).kie_key_last4 == "1234"
    expect(pill).to_have_text("Simulator")  # jobs still go to the simulator, so the pill says so
    page.screenshot(path="/tmp/issue16-13c-pill.png")
    page.goto(f"{asgi_live_server}/generate/")
    expect(pill).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_a_favourite_in_the_detail_dialog_shows_on_its_tile(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    """Item 13d: favouriting in the dialog marks the tile behind it, and unfavouriting unmarks it."""
    first = made(alice, prompt="A lighthouse at dusk")
    made(alice, prompt="A red fox in deep snow")
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/")
    tile = page.locator(f'.gallery-tile[data-id="{first.pk}"]')
    expect(tile.locator(".fav-badge")).to_have_count(0)
    tile.locator("a.tile-link").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".detail-prompt")).to_have_text("A lighthouse at dusk")
    dialog.get_by_role("button", name=re.compile("Favourite")).click()
    expect(dialog.get_by_role("button", name=re.compile("Favourite"))).to_have_attribute("aria-pressed", "true")
    expect(tile.locator(".fav-badge")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(tile.locator(".fav-badge")).to_be_visible()
    page.screenshot(path="/tmp/issue16-13d-tile.png")
    tile.locator("a.tile-link").click()
    dialog.get_by_role("button", name=re.compile("Favourite")).click()
    expect(dialog.get_by_role("button", name=re.compile("Favourite"))).to_have_attribute("aria-pressed", "false")
    expect(tile.locator(".fav-badge")).to_have_count(0)
