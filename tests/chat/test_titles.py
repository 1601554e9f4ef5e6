"""Titles a model writes: after a conversation's first reply the cheapest chat model names it, charged like a reply.

End to end against the simulator over real HTTP (it answers a request for a title with a few words of the first
message). django-q2 runs in sync mode under tests, so the title task runs when the reply's final save commits,
before its runner lets go of it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kiestudio.chat import relay, services, tasks, upstream
from kiestudio.chat.models import Conversation, Message
from kiestudio.kie.catalog.chat import load_chat_models
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import AuditEvent, Membership
from tests.studio.helpers import workspace_of

from .helpers import conversation_for, send, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Write a haiku about autumn leaves in Kyoto [sim:words 30]"
MODEL_TITLE = "Haiku Autumn Leaves"  # the simulator's answer: the first message's significant words


@pytest.fixture
def titles_on(chat_sim, settings):
    settings.CHAT_AI_TITLES = True  # off for the rest of the suite
    return chat_sim


def settled(reply: Message) -> Message:
    """The reply ended and its runner let go of it (the title task, run in sync mode, is done by then)."""
    reply = wait_until_done(reply)
    wait_for(lambda: reply.pk not in relay.RUNNERS)
    return reply


def chat_calls(sim) -> list:
    return [e for e in sim.sim.log.entries if e.kind == "chat"]


def title_entries(conversation: Conversation):
    return UsageEntry.objects.filter(source=f"title:{conversation.pk}")


def cheapest_key() -> str:
    """Worked out here from the catalog's prices, not named: the model a short request costs least on."""
    models = load_chat_models()[0].values()
    return min(models, key=lambda m: m.input_usd * 400 + m.output_usd * 40).key


def set_titles(user, enabled: bool) -> None:
    workspace = workspace_of(user)
    workspace.chat_ai_titles = enabled
    workspace.save(update_fields=["chat_ai_titles"])


def test_the_first_reply_is_followed_by_a_title_from_the_cheapest_model_charged_like_a_reply(titles_on, alice):
    conversation = conversation_for(alice, model_key="claude-sonnet-4-6")
    reply = settled(send(conversation, QUESTION))
    assert reply.status == Message.Status.COMPLETE
    conversation.refresh_from_db()
    assert conversation.title == MODEL_TITLE
    assert conversation.title_source == Conversation.TitleSource.MODEL and conversation.title_asked_at

    first, titled = chat_calls(titles_on)
    assert first.model == "claude-sonnet-4-6"
    assert titled.model == cheapest_key() and titled.status == 200
    assert titled.path == f"/{cheapest_key()}/v1/chat/completions"

    entry = title_entries(conversation).get()
    assert entry.kind == UsageEntry.Kind.CHAT and entry.model_key == cheapest_key() and entry.user == alice
    assert entry.credits > 0 and not entry.estimated
    # The ledger holds the reply and the title, and Kie (the simulator) charged exactly those two.
    assert UsageEntry.objects.filter(workspace=conversation.workspace).count() == 2
    charged = Decimal(str(titles_on.sim.config.balance)) - titles_on.sim.balance
    assert charged == reply.credits + entry.credits
    # The conversation's usage counts the title's credits too.
    assert services.conversation_usage(conversation=conversation)["credits"] == reply.credits + entry.credits


def test_running_the_task_twice_charges_once(titles_on, alice):
    conversation = conversation_for(alice)
    reply = settled(send(conversation, QUESTION))
    balance = titles_on.sim.balance
    assert tasks.conversation_title_task(conversation.pk, reply.pk) is False
    assert tasks.conversation_title_task(conversation.pk, reply.pk) is False
    assert title_entries(conversation).count() == 1
    assert len(chat_calls(titles_on)) == 2 and titles_on.sim.balance == balance
    conversation.refresh_from_db()
    assert conversation.title == MODEL_TITLE


def test_no_title_after_the_second_reply(titles_on, alice):
    set_titles(alice, False)
    conversation = conversation_for(alice)
    settled(send(conversation, QUESTION))
    set_titles(alice, True)
    second = settled(send(conversation, "Now one about winter snow in Sapporo [sim:words 20]"))
    assert second.status == Message.Status.COMPLETE
    conversation.refresh_from_db()
    assert conversation.title == QUESTION and conversation.title_source == Conversation.TitleSource.AUTO
    assert not title_entries(conversation).exists() and len(chat_calls(titles_on)) == 2  # the two replies
    # Asked directly, the task refuses too: the second reply isn't the conversation's first.
    assert tasks.conversation_title_task(conversation.pk, second.pk) is False
    assert not title_entries(conversation).exists()


def test_a_failed_first_reply_waits_for_the_first_one_that_completes(titles_on, alice):
    conversation = conversation_for(alice)
    failed = settled(send(conversation, QUESTION.replace("]", "] [sim:error 500]")))
    assert failed.status == Message.Status.FAILED
    conversation.refresh_from_db()
    assert conversation.title_source == Conversation.TitleSource.AUTO and not conversation.title_asked_at
    assert failed.parent is not None
    again = settled(services.message_edit(message=failed.parent, user=alice, text=QUESTION, token="again"))
    assert again.status == Message.Status.COMPLETE
    conversation.refresh_from_db()
    assert conversation.title == MODEL_TITLE and title_entries(conversation).count() == 1


def test_no_title_when_the_workspace_turns_it_off(titles_on, alice):
    set_titles(alice, False)
    conversation = conversation_for(alice)
    settled(send(conversation, QUESTION))
    conversation.refresh_from_db()
    assert conversation.title == QUESTION and conversation.title_source == Conversation.TitleSource.AUTO
    assert not conversation.title_asked_at and not title_entries(conversation).exists()
    assert len(chat_calls(titles_on)) == 1


def test_the_settings_page_turns_it_off_and_on_for_admins_with_an_audit_entry(titles_on, alice, client):
    client.force_login(alice)
    page = client.get("/settings/").content.decode()
    assert "Name chats with AI (uses a few credits per chat)" in page and 'name="chat_titles" ' in page
    assert 'id="ws-chat-titles" name="chat_titles" aria-describedby="ws-chat-titles-help" checked' in page
    workspace = workspace_of(alice)
    assert client.post("/settings/workspace/chat-titles/", {}).status_code == 302  # the box unticked
    workspace.refresh_from_db()
    assert workspace.chat_ai_titles is False
    assert client.post("/settings/workspace/chat-titles/", {"chat_titles": "on"}).status_code == 302
    workspace.refresh_from_db()
    assert workspace.chat_ai_titles is True
    events = AuditEvent.objects.filter(workspace=workspace, action=AuditEvent.Action.CHAT_TITLES_CHANGED)
    assert [e.target for e in events.order_by("pk")] == ["off", "on"]
    # Saving the same choice again writes nothing.
    client.post("/settings/workspace/chat-titles/", {"chat_titles": "on"})
    assert events.count() == 2


def test_a_rename_is_never_overwritten(titles_on, alice):
    conversation = conversation_for(alice)
    reply = send(conversation, QUESTION.replace("]", "] [sim:delay 0.05]"))
    services.conversation_update(conversation=conversation, title="Kyoto notes")  # while the reply streams
    settled(reply)
    conversation.refresh_from_db()
    assert conversation.title == "Kyoto notes" and conversation.title_source == Conversation.TitleSource.USER
    assert not title_entries(conversation).exists() and len(chat_calls(titles_on)) == 1


def test_a_rename_while_the_model_writes_wins_and_the_title_is_still_charged(titles_on, alice, monkeypatch):
    original = upstream.ask_once

    def rename_first(plan, **kwargs):
        Conversation.objects.filter(owner=alice).update(title="Mine", title_source=Conversation.TitleSource.USER)
        return original(plan, **kwargs)

    monkeypatch.setattr(upstream, "ask_once", rename_first)
    conversation = conversation_for(alice)
    settled(send(conversation, QUESTION))
    conversation.refresh_from_db()
    assert conversation.title == "Mine" and conversation.title_source == Conversation.TitleSource.USER
    assert title_entries(conversation).count() == 1  # Kie charged for the answer


def test_saving_the_settings_form_with_the_same_title_is_not_a_rename(alice):
    conversation = conversation_for(alice)
    send(conversation, "Plan a shoot")
    conversation.refresh_from_db()
    services.conversation_update(conversation=conversation, title=conversation.title, system_prompt="Be brief.")
    conversation.refresh_from_db()
    assert conversation.title_source == Conversation.TitleSource.AUTO


@pytest.mark.parametrize("limit", ["budget", "cap"])
def test_a_budget_or_cap_refusal_keeps_the_automatic_title(titles_on, alice, limit):
    set_titles(alice, False)
    conversation = conversation_for(alice)
    reply = settled(send(conversation, QUESTION))
    set_titles(alice, True)
    workspace = workspace_of(alice)
    if limit == "budget":
        workspace.monthly_budget = reply.credits  # all spent by the reply
        workspace.save(update_fields=["monthly_budget"])
    else:
        Membership.objects.filter(workspace=workspace, user=alice).update(monthly_cap=Decimal("0.00"))
    balance = titles_on.sim.balance

    assert tasks.conversation_title_task(conversation.pk, reply.pk) is False
    conversation.refresh_from_db()
    assert conversation.title == QUESTION and conversation.title_source == Conversation.TitleSource.AUTO
    assert not title_entries(conversation).exists()
    assert len(chat_calls(titles_on)) == 1 and titles_on.sim.balance == balance  # Kie was never asked


def test_the_chat_page_looks_again_for_a_title_to_come(titles_on, alice, client):
    client.force_login(alice)
    conversation = conversation_for(alice)
    send(conversation, "Plan a shoot [sim:delay 0.05]")
    page = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert 'id="chat-title" class="chat-title" data-title-pending>Plan a shoot' in page
    assert "chat:retitle from:body" in page
    # The list's refresh brings the heading with it (out of band), here once the title was written.
    Conversation.objects.filter(pk=conversation.pk).update(title="Shoot Plan", title_source="model")
    listing = client.get(f"/chat/list/?current={conversation.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="chat-title" class="chat-title" hx-swap-oob="true">Shoot Plan</h1>' in listing


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Haiku Autumn Leaves", "Haiku Autumn Leaves"),
        ('"Kyoto in Autumn."', "Kyoto in Autumn"),
        ("“Lighthouse Shoot Plan”!", "Lighthouse Shoot Plan"),
        ("Title: **Rainy Sunday Lo-fi**\n\nThis title captures the mood.", "Rainy Sunday Lo-fi"),
        ("\n\n  'Don't Stop Believing'  \n", "Don't Stop Believing"),
        ("one two three four five six seven eight", "one two three four five six"),
        ("Supercalifragilisticexpialidocious " * 3, "Supercalifragilisticexpialidocious Supercalifragilisticexpi…"),
        ('""', ""),
        ("", ""),
    ],
)
def test_a_models_answer_is_cleaned_into_a_title(answer, title):
    assert services.title_clean(answer) == title
    assert len(services.title_clean(answer)) <= services.TITLE_CHARS
