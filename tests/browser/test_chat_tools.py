"""Chat that creates, in real Chromium against the simulator: a brief becomes a priced card, Run fills three live
cards inside the reply, and the model comments on the results; the items are in the gallery, made in chat."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from kiestudio.agent.models import Plan, ToolCall
from kiestudio.chat.models import Conversation, Message
from kiestudio.studio.models import Generation, Status
from tests.browser.test_chat import ask
from tests.chat.helpers import wait_for
from tests.studio.helpers import made


@pytest.mark.django_db(transaction=True)
def test_three_takes_from_a_brief_run_in_the_reply_and_land_in_the_gallery(
    signed_in_page: Page, asgi_live_server, kie_sim, alice, studio_worker, tmp_path
):
    kie_sim.sim.config.chat_chunk_delay = 0.0
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/")
    expect(page.get_by_label("Studio tools")).to_be_checked()
    ask(page, "Three takes of a lighthouse at dusk")

    card = page.locator(".tool-card.status-proposed")
    expect(card).to_be_visible(timeout=20000)
    call = ToolCall.objects.get()
    price = f"{call.quote.normalize():f}"
    expect(card).to_contain_text("Nano Banana · 3 takes")
    expect(card).to_contain_text("a lighthouse at dusk")
    run = card.get_by_role("button", name=re.compile(r"^Run"))
    expect(run).to_contain_text(price)
    assert not Generation.objects.exists()  # nothing is bought before Run
    page.screenshot(path=str(tmp_path / "card.png"))

    run.click()
    live = page.locator(".tool-card .live-card")
    expect(live).to_have_count(3, timeout=20000)
    expect(page.locator(".tool-card .gen-card.status-succeeded")).to_have_count(3, timeout=30000)
    # The results went back to the model, which answers about them in a new reply below the cards.
    answer = page.locator("article.msg-assistant.status-complete", has_text="Based on the tool result")
    expect(answer).to_be_visible(timeout=30000)
    expect(page.locator(".msg-tool-results")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "after.png"), full_page=True)
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 3

    # In the gallery, marked as made in chat and linked back to the conversation.
    conversation = Conversation.objects.get(owner=alice)
    page.goto(f"{asgi_live_server}/gallery/?origin=chat")
    tiles = page.locator(".tile-item")
    expect(tiles).to_have_count(3)
    item = Generation.objects.order_by("pk").first()
    page.goto(f"{asgi_live_server}/gallery/{item.pk}/")
    expect(page.locator(".made-in-chat")).to_contain_text("Made in chat")
    page.locator(".made-in-chat a").click()
    expect(page).to_have_url(re.compile(rf"/chat/{conversation.pk}/"))
    expect(page.locator(".tool-card .gen-card")).to_have_count(3)


@pytest.mark.django_db(transaction=True)
def test_a_teaser_plan_edited_approved_once_survives_closing_the_tab_and_plays_in_the_gallery(
    signed_in_page: Page, asgi_live_server, kie_sim, alice, studio_worker, context, tmp_path
):
    kie_sim.sim.config.chat_chunk_delay = 0.0
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/")
    ask(page, "A 20-second teaser of a lighthouse at dusk: four shots, then animate them, with music")
    card = page.locator(".tool-card", has_text="Plan · Teaser")
    expect(card).to_be_visible(timeout=20000)
    expect(card.locator(".plan-step")).to_have_count(10)
    page.screenshot(path=str(tmp_path / "plan.png"), full_page=True)

    # Change the model of the first clip: the step and the total are priced again.
    plan = Plan.objects.get()
    clip1 = plan.steps.get(key="clip1")
    select = card.get_by_label("Model for step 5")
    other = next(o for o in select.locator("option").all() if o.get_attribute("value") != clip1.model_key)
    select.select_option(other.get_attribute("value"))
    expect(page.locator(f"#step-{clip1.pk} select")).to_have_value(other.get_attribute("value"))
    wait_for(lambda: plan.steps.filter(pk=clip1.pk, model_key=other.get_attribute("value")).exists())
    # The card came back from the server with the change (a selected attribute only the server writes).
    expect(page.locator(f"#step-{clip1.pk} option[selected]")).to_have_attribute("value", other.get_attribute("value"))
    # The creator's own words for the first shot, saved when the box is left.
    shot1 = plan.steps.get(key="shot1")
    words = card.get_by_label("Prompt for step 1")
    words.fill("the lighthouse from the sea, storm clouds gathering")
    words.press("Tab")
    wait_for(lambda: plan.steps.filter(pk=shot1.pk, prompt__startswith="the lighthouse from the sea").exists())
    expect(card.get_by_label("Prompt for step 1")).to_have_value("the lighthouse from the sea, storm clouds gathering")
    total = ToolCall.objects.get(pk=plan.call_id).quote
    approve = page.get_by_role("button", name=re.compile(r"^Approve plan"))
    expect(approve).to_contain_text(f"{total.normalize():f}")
    assert not Generation.objects.exists()

    kie_sim.sim.config.time_scale = 0.03  # each step now takes a second or two: the tab closes while they run
    approve.click()
    expect(page.locator(".tool-card", has_text="Plan · Teaser").locator(".status-badge").first).to_have_text("Running")
    expect(page.locator(".plan-step.status-running").first).to_be_visible()
    page.close()  # the tab goes away halfway: the plan runs on without it

    wait_for(lambda: Plan.objects.filter(pk=plan.pk, status=Plan.Status.DONE).exists(), timeout=90)
    again = context.new_page()
    conversation = Conversation.objects.get(owner=alice)
    again.goto(f"{asgi_live_server}/chat/{conversation.pk}/")
    expect(again.locator(".plan-step.status-done")).to_have_count(10, timeout=20000)
    expect(again.locator("article.msg-assistant", has_text="Based on the tool result")).to_be_visible(timeout=30000)

    final = plan.steps.get(key="final").generation
    assert plan.steps.get(key="shot1").generation.prompt_text.startswith("the lighthouse from the sea")
    again.goto(f"{asgi_live_server}/gallery/{final.pk}/")
    video = again.locator(".detail video, video").first
    expect(video).to_be_visible()
    again.wait_for_function("(v) => v.readyState >= 1 && v.duration > 1", arg=video.element_handle(), timeout=20000)
    expect(again.locator(".lineage-parts .mini")).to_have_count(9)
    again.screenshot(path=str(tmp_path / "assembled.png"), full_page=True)

    # One create per step, and the charges within 10% of the quote.
    assert len([e for e in kie_sim.sim.log.entries if e.kind == "create"]) == 9
    charged = sum((g.credits_charged or Decimal(0)) for g in Generation.objects.exclude(pk=final.pk))
    assert abs(charged - total) <= total * Decimal("0.1"), (charged, total)


@pytest.mark.django_db(transaction=True)
def test_the_gallery_and_chat_link_both_ways(signed_in_page: Page, asgi_live_server, kie_sim, alice):
    kie_sim.sim.config.chat_chunk_delay = 0.0
    item = made(alice)
    page = signed_in_page
    page.goto(f"{asgi_live_server}/gallery/{item.pk}/")
    page.get_by_role("button", name="Send to chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\?attach=\d+$"))
    expect(page.locator("#composer .ref-item img")).to_have_count(1)

    # "@" in the composer opens the gallery picker instead of typing an "@".
    box = page.get_by_label("Message", exact=True)
    box.press_sequentially("Look @")
    expect(page.locator("#composer [data-ref-picker]")).to_be_visible()
    expect(box).to_have_value("Look ")

    # A prompt in a reply (a code block here) goes to Generate in one click.
    box.fill("Write the prompt for it as json [sim:words 150]")
    box.press("Enter")
    link = page.locator("article.msg-assistant .use-in-generate")
    expect(link).to_have_count(1, timeout=20000)
    code = page.locator("article.msg-assistant pre").first.inner_text().strip()
    link.click()
    expect(page).to_have_url(re.compile(r"/generate/\?prompt="))
    expect(page.locator("#model-form textarea").first).to_have_value(code)
    message = Message.objects.filter(role="user").get()
    assert [b["type"] for b in message.content] == ["image", "text"]  # the picture went with the question


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_from_chat_shows_its_source_edits_in_its_own_form_and_lands_in_the_family_tree(
    signed_in_page: Page, asgi_live_server, kie_sim, alice, studio_worker, tmp_path
):
    kie_sim.sim.config.chat_chunk_delay = 0.0
    source = made(alice)
    page = signed_in_page
    page.goto(f"{asgi_live_server}/chat/")
    ask(page, f"Upscale item {source.pk}")

    card = page.locator(".tool-card.status-proposed")
    expect(card).to_contain_text("Upscale · Topaz", timeout=20000)
    expect(card.locator(".tool-source a.mini")).to_have_attribute("href", f"/gallery/{source.pk}/")
    expect(card.get_by_role("link", name="Use in Generate")).to_have_count(0)  # a follow-up starts from a file
    card.get_by_role("button", name="Edit", exact=True).click()
    factor = card.get_by_label("Enlarge by")
    expect(factor).to_have_value("2")
    factor.select_option("4")
    card.get_by_role("button", name="Save settings").click()
    expect(card).to_contain_text("edited by you")
    call = ToolCall.objects.get()
    expect(card.get_by_role("button", name=re.compile(r"^Run"))).to_contain_text(f"{call.quote.normalize():f}")
    page.screenshot(path=str(tmp_path / "follow-up-card.png"), full_page=True)

    card.get_by_role("button", name=re.compile(r"^Run")).click()
    expect(page.locator(".tool-card .gen-card.status-succeeded")).to_have_count(1, timeout=30000)
    expect(page.locator("article.msg-assistant.status-complete", has_text="Based on the tool result")).to_be_visible(
        timeout=30000
    )
    child = Generation.objects.get(parent=source)
    assert child.action == "upscale" and child.inputs["upscale_factor"] == "4"
    page.goto(f"{asgi_live_server}/gallery/{child.pk}/")
    expect(page.locator(".made-in-chat")).to_contain_text("Made in chat")
    expect(page.locator(f'a.mini[href="/gallery/{source.pk}/"]')).to_be_visible()
