"""Chat in real Chromium against the simulator: live tokens, stop, regenerate, edit, and nothing lost."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from kiestudio.chat.models import Conversation, Message
from tests.browser.helpers import balance_pill
from tests.chat.helpers import wait_for, wait_until_done

# Records, for the reply being written, each moment its visible text grew (time in ms, length in characters).
WATCH_GROWTH = """
(article) => {
  window.__growth = [];
  const size = () => article.querySelector("[data-rendered]").textContent.length
    + (article.querySelector("[data-tail]") ? article.querySelector("[data-tail]").textContent.length : 0);
  new MutationObserver(() => {
    const length = size();
    const last = window.__growth[window.__growth.length - 1];
    if (!last || last[1] !== length) window.__growth.push([performance.now(), length]);
  }).observe(article, { subtree: true, childList: true, characterData: true });
}
"""


def ask(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def live_reply(page: Page):
    article = page.locator("article.msg-assistant[data-following]").last
    expect(article).to_be_visible()
    return article


def normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.django_db(transaction=True)
def test_tokens_stream_live_then_stop_regenerate_and_edit(
    signed_in_page: Page, asgi_live_server, kie_sim, alice, monkeypatch
):
    kie_sim.sim.set_balance(1000)
    monkeypatch.setattr("kiestudio.workspaces.views.FRESH_BALANCE_SECONDS", 0)  # see test_generate.py
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/")
    expect(page.locator(".topbar .pill-balance")).to_have_text(balance_pill(Decimal(1000)))
    expect(page.get_by_role("button", name="Send")).to_be_disabled()  # nothing typed: nothing to send

    # 1. Tokens visibly arrive one after another.
    ask(page, "Plan a shoot about lighthouses [sim:delay 0.06] [sim:words 90]")
    article = live_reply(page)
    article.evaluate(WATCH_GROWTH)
    done = page.locator("article.msg-assistant.status-complete")
    expect(done).to_have_count(1, timeout=20000)
    growth = page.evaluate("window.__growth")
    assert len(growth) >= 10, growth
    assert growth[-1][0] - growth[0][0] > 800  # spread over the reply's real duration, not one late burst
    jumps = [b[1] - a[1] for a, b in zip(growth, growth[1:], strict=False)]
    assert max(jumps) < growth[-1][1] / 2
    conversation = Conversation.objects.get(owner=alice)
    expect(page).to_have_url(re.compile(rf"/chat/{conversation.pk}/$"))
    first = Message.objects.get(conversation=conversation, role="assistant")
    assert normalise(done.locator("[data-rendered]").inner_text()) == normalise(first.text)
    expect(page.locator("#chat-live")).not_to_be_empty()  # announced politely for screen readers
    expect(page.locator("#chat-usage")).to_contain_text("1 reply")
    # The header's balance reads Kie again when the reply is done.
    assert kie_sim.sim.balance < 1000
    expect(page.locator(".topbar .pill-balance")).to_have_text(balance_pill(kie_sim.sim.balance))

    # 2. Stop a long reply part-way: the text so far stays.
    ask(page, "Now a very long story [sim:delay 0.1] [sim:words 400]")
    article = live_reply(page)
    expect(article.locator("[data-tail], [data-rendered]").first).not_to_be_empty()
    page.wait_for_timeout(400)
    article.get_by_role("button", name="Stop").click()
    stopped = page.locator("article.msg-assistant.status-stopped")
    expect(stopped).to_have_count(1)
    expect(stopped.locator(".msg-status")).to_have_text("Stopped")
    stopped_reply = Message.objects.get(conversation=conversation, status="stopped")
    assert 0 < len(stopped_reply.text.split()) < 300
    assert normalise(stopped.locator("[data-rendered]").inner_text()) == normalise(stopped_reply.text)

    # 3. Regenerate it: a second version, and the first is one click away.
    stopped.get_by_role("button", name="Regenerate").click()
    last = page.locator("#thread > li").last.locator("article")
    expect(last).to_have_class(re.compile("status-complete"), timeout=20000)
    expect(last.locator(".versions")).to_contain_text("2 / 2")
    last.get_by_role("button", name="Previous version").click()
    expect(page.locator("#thread > li").last.locator("article")).to_have_class(re.compile("status-stopped"))
    expect(page.locator("#thread > li").last.locator(".versions")).to_contain_text("1 / 2")

    # 4. Edit the question and resend: a new branch; the old one is kept as version 1.
    question = page.locator("article.msg-user").last
    question.get_by_text("Edit", exact=True).click()
    editor = question.get_by_label("Edit your message")
    editor.fill("A shorter story, please [sim:words 12]")
    question.get_by_role("button", name="Save and resend").click()
    expect(page.locator("#thread > li").last.locator("article")).to_have_class(
        re.compile("status-complete"), timeout=20000
    )
    expect(page.locator("article.msg-user").last).to_contain_text("A shorter story, please")
    expect(page.locator("article.msg-user").last.locator(".versions")).to_contain_text("2 / 2")
    assert Message.objects.filter(conversation=conversation, role="assistant").count() == 4


@pytest.mark.django_db(transaction=True)
def test_closing_the_page_loses_nothing_and_reopening_joins_live(
    signed_in_page: Page, asgi_live_server, kie_sim, alice
):
    page = signed_in_page
    context = page.context
    page.goto(f"{asgi_live_server}/chat/")
    ask(page, "Tell me about harbours [sim:delay 0.04] [sim:words 150]")
    article = live_reply(page)
    expect(article.locator("[data-tail], [data-rendered]").first).not_to_be_empty()
    url = page.url
    page.close()  # mid-stream

    reply = Message.objects.get(role="assistant")
    reply = wait_until_done(reply, timeout=20)
    assert reply.status == Message.Status.COMPLETE and len(reply.text.split()) >= 140
    page = context.new_page()
    page.goto(url)
    saved = page.locator(f"#msg-{reply.pk}")
    expect(saved).to_have_class(re.compile("status-complete"))
    assert normalise(saved.locator("[data-rendered]").inner_text()) == normalise(reply.text)

    # A slow reply: leave, come back while it is still being written, and watch it carry on live.
    ask(page, "And a slow one about lighthouses [sim:delay 0.12] [sim:words 140]")
    live_reply(page)
    slow = wait_for(lambda: Message.objects.filter(role="assistant", status="streaming").first())
    wait_for(lambda: Message.objects.get(pk=slow.pk).stream_seq > 3)
    page.close()
    page = context.new_page()
    page.goto(url)
    article = page.locator(f"#msg-{slow.pk}")
    expect(article).to_have_attribute("data-following", "")
    article.evaluate(WATCH_GROWTH)
    expect(article).not_to_have_class(re.compile("status-streaming"), timeout=30000)
    growth = page.evaluate("window.__growth")
    assert len(growth) >= 5  # it grew in front of us, not all at once
    slow = Message.objects.get(pk=slow.pk)
    assert slow.status == Message.Status.COMPLETE
    final = page.locator(f"#msg-{slow.pk}")
    assert normalise(final.locator("[data-rendered]").inner_text()) == normalise(slow.text)


@pytest.mark.django_db(transaction=True)
def test_a_reply_full_of_markup_renders_inert(signed_in_page: Page, asgi_live_server, alice):
    from kiestudio.chat import services
    from tests.studio.helpers import workspace_of

    conversation = services.conversation_create(workspace=workspace_of(alice), user=alice)
    question = Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        role="user",
        content=[{"type": "text", "text": "<img src=x onerror=\"document.title='pwned-user'\">"}],
    )
    payload = "\n\n".join(
        [
            "<script>document.title='pwned-script'</script>",
            "<img src=x onerror=\"document.title='pwned-img'\">",
            "<svg onload=\"document.title='pwned-svg'\"></svg>",
            "[click](javascript:document.title='pwned-link')",
            "![pixel](data:image/png;base64,iVBORw0KGgo=)",
            "[data](data:text/html,<script>alert(1)</script>)",
            "```html\n<script>alert(1)</script>\n```",
        ]
    )
    Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        parent=question,
        role="assistant",
        content=[{"type": "text", "text": payload}],
    )
    dialogs = []
    page = signed_in_page
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{asgi_live_server}/chat/{conversation.pk}/")
    thread = page.locator("#thread")
    expect(thread).to_contain_text("<script>document.title='pwned-script'</script>")
    for selector in ("script", "img", "svg", "iframe", "[onerror]", "[onload]"):
        assert thread.locator(selector).count() == 0, selector
    hrefs = thread.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h is None or h.startswith(("http", "/")) for h in hrefs), hrefs
    for link in thread.locator("a:not([href])").all():
        link.click()
    page.wait_for_timeout(300)
    assert "pwned" not in page.title() and not dialogs
    # The code block's copy button works (the text lands in the page, not the browser's clipboard here).
    expect(thread.get_by_role("button", name="Copy code")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_attachments_are_checked_before_upload_then_sent_with_the_question(
    signed_in_page: Page, asgi_live_server, kie_sim, alice
):
    from tests.chat.helpers import png_bytes

    page = signed_in_page
    uploads = []
    page.on("request", lambda request: uploads.append(request.url) if "/references/upload/" in request.url else None)
    page.goto(f"{asgi_live_server}/chat/")
    picker = page.locator("#composer-file")
    errors = page.locator("#composer [data-ref-error]")

    picker.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    expect(errors).to_have_text("notes.txt is not a JPEG, PNG or WebP image.")
    picker.set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": b"\0" * (10 * 1024 * 1024 + 1)}]
    )
    expect(errors).to_have_text("huge.png is larger than 10 MB.")
    assert uploads == []  # refused in the browser, before anything was sent

    picker.set_input_files(files=[{"name": "fox.png", "mimeType": "image/png", "buffer": png_bytes()}])
    expect(page.locator("#composer .ref-item img")).to_have_count(1)
    assert len(uploads) == 1
    ask(page, "What is in this picture? [sim:words 12]")
    question = page.locator("article.msg-user").last
    expect(question.locator(".msg-images img")).to_have_count(1)
    expect(page.locator("article.msg-assistant.status-complete")).to_have_count(1, timeout=20000)
    expect(page.locator("#composer .ref-item")).to_have_count(0)  # the composer is ready for the next message
    reply = Message.objects.get(role="assistant")
    assert reply.parent.image_ids and [e for e in kie_sim.sim.log.entries if e.kind == "upload"]


@pytest.mark.django_db(transaction=True)
def test_a_kie_error_shows_in_the_thread_with_a_retry(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/")
    ask(page, "Hello [sim:error 402]")
    failed = page.locator("article.msg-assistant.status-failed")
    expect(failed).to_have_count(1, timeout=20000)
    expect(failed.get_by_role("alert")).to_contain_text("Out of Kie credits")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()  # empty composer, nothing streaming
    page.get_by_label("Message", exact=True).fill("Another go [sim:words 6]")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
