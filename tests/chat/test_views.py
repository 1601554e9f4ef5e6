"""Chat pages and actions through Django's test client (replies are not started: no commit hooks run here)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kiestudio.chat import urls as chat_urls
from kiestudio.chat.models import Conversation, Message
from kiestudio.kie.catalog.chat import load_chat_models
from kiestudio.workspaces.models import Membership
from tests.conftest import PASSWORD
from tests.studio.helpers import workspace_of

from .helpers import conversation_for, send

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def bob(make_user, alice):
    """A member of Alice's workspace (and of no other)."""
    user = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=user, role="member")
    return user


def login(client, user):
    assert client.login(email=user.email, password=PASSWORD)
    return client


def complete(reply: Message, text: str = "Done.") -> Message:
    Message.objects.filter(pk=reply.pk).update(status="complete", content=[{"type": "text", "text": text}])
    reply.refresh_from_db()
    return reply


def test_chat_home_offers_models_and_a_composer(client, alice):
    response = login(client, alice).get(reverse("chat"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="composer"' in html and "Claude Sonnet 4.6" in html and "Gemini 3 Pro" in html
    assert "Extended thinking" in html
    assert reverse("chat-start") in html


def test_the_model_picker_groups_every_model_under_its_maker(client, alice):
    html = login(client, alice).get(reverse("chat")).content.decode()
    picker = html[html.index('id="composer-model"') : html.index("</select>", html.index('id="composer-model"'))]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', picker)
    options = {label: re.findall(r'<option value="([^"]+)"', body) for label, body in groups}
    assert list(options) == ["Anthropic", "OpenAI", "OpenAI Codex (for code)", "Google"]
    assert options["Anthropic"][-3:] == ["claude-opus-4-7", "claude-opus-4-8", "claude-fable-5"]
    assert options["OpenAI"] == ["gpt-5-2", "gpt-5-4", "gpt-5-5"]
    assert options["OpenAI Codex (for code)"][-1] == "gpt-5.4-codex"
    assert {"gemini-3.1-pro", "gemini-3.5-flash"} <= set(options["Google"])
    assert sorted(sum(options.values(), [])) == sorted(load_chat_models()[0])
    assert 'value="claude-sonnet-4-6" data-thinking="1"' in picker and "selected" in picker


STREAM = {"HTTP_ACCEPT": "text/event-stream"}


def test_first_message_without_javascript_redirects_to_the_conversation(client, alice):
    login(client, alice)
    response = client.post(reverse("chat-start"), {"text": "Plan a shoot", "model": "claude-opus-4-6", "token": "t1"})
    conversation = Conversation.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == reverse("chat-conversation", args=[conversation.pk])
    reply = conversation.messages.get(role="assistant")
    assert reply.status == "streaming" and conversation.model_key == reply.model_key == "claude-opus-4-6"
    html = client.get(response["Location"]).content.decode()
    assert f'data-stream="{reverse("chat-message-stream", args=[reply.pk])}"' in html and "Plan a shoot" in html


def test_an_empty_first_message_creates_nothing(client, alice):
    response = login(client, alice).post(reverse("chat-start"), {"text": "   ", "token": "t1"}, **STREAM)
    assert response.status_code == 400
    assert "Type a message first" in response.content.decode()
    assert 'id="chat-error"' in response.content.decode()
    assert not Conversation.objects.exists()


def test_an_unknown_model_is_a_clear_error(client, alice):
    response = login(client, alice).post(reverse("chat-start"), {"text": "Hi", "model": "gpt-99"}, **STREAM)
    assert response.status_code == 400 and "no chat model called “gpt-99”" in response.content.decode()
    assert not Conversation.objects.exists()


def test_send_without_javascript_redirects_and_one_token_buys_one_reply(client, alice):
    conversation = conversation_for(alice)
    complete(send(conversation, "First"))
    url = reverse("chat-send", args=[conversation.pk])
    response = login(client, alice).post(url, {"text": "Second <b>bold</b>", "token": "t2"})
    assert response.status_code == 302
    assert conversation.messages.count() == 4
    client.post(url, {"text": "Second <b>bold</b>", "token": "t2"})  # the same click, resent
    assert conversation.messages.count() == 4
    html = client.get(reverse("chat-conversation", args=[conversation.pk])).content.decode()
    assert "Second &lt;b&gt;bold&lt;/b&gt;" in html  # the question is shown as text


def test_sending_while_a_reply_streams_is_refused(client, alice):
    conversation = conversation_for(alice)
    send(conversation, "First")
    response = login(client, alice).post(reverse("chat-send", args=[conversation.pk]), {"text": "More"}, **STREAM)
    assert response.status_code == 400 and "still being written" in response.content.decode()
    assert conversation.messages.count() == 2


def test_a_send_is_post_only(client, alice):
    conversation = conversation_for(alice)
    assert login(client, alice).get(reverse("chat-send", args=[conversation.pk])).status_code == 405


def test_a_viewer_cannot_chat_on_the_workspace_credits(client, alice, make_user):
    viewer = make_user("vera@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=viewer, role="viewer")
    login(client, viewer)
    assert "you can read shared conversations but not chat" in client.get(reverse("chat")).content.decode()
    assert client.post(reverse("chat-start"), {"text": "Hi"}, **STREAM).status_code == 403
    assert not Conversation.objects.exists()


def test_settings_title_system_prompt_and_sharing(client, alice):
    conversation = conversation_for(alice)
    login(client, alice)
    url = reverse("chat-settings", args=[conversation.pk])
    response = client.post(
        url, {"title": "  Moodboard  ", "system_prompt": "Be brief.", "sharing": "1", "is_shared": "on"}, **HTMX
    )
    assert response.status_code == 200 and "Moodboard" in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.title, conversation.system_prompt, conversation.is_shared) == ("Moodboard", "Be brief.", True)
    response = client.post(url, {"title": " "}, **HTMX)
    assert response.status_code == 422 and "Give the conversation a title" in response.content.decode()
    client.post(url, {"sharing": "1"}, **HTMX)
    conversation.refresh_from_db()
    assert conversation.is_shared is False


def test_pin_toggles_and_delete_removes(client, alice):
    conversation = conversation_for(alice)
    complete(send(conversation, "Hi"))
    login(client, alice)
    client.post(reverse("chat-pin", args=[conversation.pk]), **HTMX)
    conversation.refresh_from_db()
    assert conversation.pinned_at is not None
    client.post(reverse("chat-pin", args=[conversation.pk]), **HTMX)
    conversation.refresh_from_db()
    assert conversation.pinned_at is None
    response = client.post(reverse("chat-delete", args=[conversation.pk]), **HTMX)
    assert response["HX-Redirect"] == reverse("chat")
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_search_filters_the_list(client, alice):
    conversation_for(alice, model_key="claude-haiku-4-5")
    named = conversation_for(alice)
    Conversation.objects.filter(pk=named.pk).update(title="Neon alley")
    login(client, alice)
    html = client.get(reverse("chat-list"), {"q": "neon"}, **HTMX).content.decode()
    assert "Neon alley" in html and html.count('class="conv-item') == 1
    assert "No conversation matches" in client.get(reverse("chat-list"), {"q": "zebra"}, **HTMX).content.decode()


def test_versions_through_views(client, alice):
    conversation = conversation_for(alice)
    first = complete(send(conversation, "Question"))
    login(client, alice)
    response = client.post(reverse("chat-message-regenerate", args=[first.pk]), {"token": "r1"})
    assert response.status_code == 302
    second = conversation.messages.filter(role="assistant").exclude(pk=first.pk).get()
    complete(second)
    html = client.get(reverse("chat-conversation", args=[conversation.pk])).content.decode()
    assert "2 / 2" in html and 'aria-label="Previous version"' in html
    html = client.post(reverse("chat-message-show", args=[first.pk]), **HTMX).content.decode()
    assert f'id="msg-{first.pk}"' in html and f'id="msg-{second.pk}"' not in html
    client.post(reverse("chat-message-edit", args=[first.parent_id]), {"text": "Better question", "token": "e1"})
    html = client.get(reverse("chat-conversation", args=[conversation.pk])).content.decode()
    assert "Better question" in html and "2 / 2" in html


def test_stop_answers_no_content(client, alice):
    reply = send(conversation_for(alice), "Hi")
    response = login(client, alice).post(reverse("chat-message-stop", args=[reply.pk]), **HTMX)
    assert response.status_code == 204
    reply.refresh_from_db()
    assert reply.stop_requested


def test_a_reply_renders_inert_html(client, alice):
    reply = complete(
        send(conversation_for(alice), "Hi"),
        "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))\n\n**bold**",
    )
    html = login(client, alice).get(reverse("chat-conversation", args=[reply.conversation_id])).content.decode()
    body = html[html.index(f'id="msg-{reply.pk}"') :]
    body = body[: body.index("</article>")]
    assert (
        "<script>" not in body and "<img" not in body and "javascript:" not in body.replace("javascript:alert(1))", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<strong>bold</strong>" in body


# --- Tenancy: every chat URL with an object id ------------------------------------------------------------------

# (url name, which object, method, expected status for the owner)
ID_URLS = [
    ("chat-conversation", "conversation", "get", 200),
    ("chat-send", "conversation", "post", 400),  # a reply is streaming
    ("chat-settings", "conversation", "post", 200),
    ("chat-pin", "conversation", "post", 200),
    ("chat-delete", "conversation", "post", 200),
    ("chat-usage", "conversation", "get", 200),
    ("chat-message", "message", "get", 200),
    ("chat-message-stream", "message", "get", 200),
    ("chat-message-stop", "message", "post", 204),
    ("chat-message-regenerate", "done", "post", 400),
    ("chat-message-edit", "question", "post", 400),
    ("chat-message-show", "question", "post", 200),
]


def test_every_chat_url_with_an_id_is_in_the_tenancy_table():
    with_ids = {p.name for p in chat_urls.urlpatterns if "<int:pk>" in str(p.pattern)}
    assert with_ids == {name for name, *_ in ID_URLS}


@pytest.fixture
def objects(alice):
    """A conversation with a finished exchange and a reply streaming (rows written directly: nothing runs)."""
    conversation = conversation_for(alice)

    def message(**fields):
        return Message.objects.create(workspace=conversation.workspace, conversation=conversation, **fields)

    question = message(role="user", content=[{"type": "text", "text": "Earlier"}])
    done = message(role="assistant", parent=question, content=[{"type": "text", "text": "Reply"}])
    reply = message(role="assistant", parent=done, status="streaming", model_key=conversation.model_key)
    Conversation.objects.filter(pk=conversation.pk).update(current_leaf=reply)
    return {"conversation": conversation, "message": reply, "done": done, "question": question}


def _call(client, name, pk, method):
    url = reverse(name, args=[pk])
    if name == "chat-message-stream":
        return client.get(url)  # 404s are answered before any streaming starts
    return getattr(client, method)(url, {"text": "x", "token": "tok"}, **HTMX)


# The stream view reads in a worker thread, which sees only committed rows: these tests commit.
tenancy = pytest.mark.django_db(transaction=True)


@tenancy
@pytest.mark.parametrize(("name", "which", "method", "expected"), ID_URLS)
def test_another_workspace_gets_404(client, charlie, objects, name, which, method, expected):
    response = _call(login(client, charlie), name, objects[which].pk, method)
    assert response.status_code == 404


@tenancy
@pytest.mark.parametrize(("name", "which", "method", "expected"), ID_URLS)
def test_a_teammate_gets_404_for_a_private_conversation(client, bob, objects, name, which, method, expected):
    response = _call(login(client, bob), name, objects[which].pk, method)
    assert response.status_code == 404


@tenancy
@pytest.mark.parametrize(("name", "which", "method", "expected"), ID_URLS)
def test_a_shared_conversation_is_read_only_for_teammates(client, bob, objects, name, which, method, expected):
    Conversation.objects.filter(pk=objects["conversation"].pk).update(is_shared=True)
    response = _call(login(client, bob), name, objects[which].pk, method)
    if method == "get" or name == "chat-message-show":
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@tenancy
@pytest.mark.parametrize(("name", "which", "method", "expected"), ID_URLS)
def test_the_owner_reaches_every_url(client, alice, objects, name, which, method, expected):
    response = _call(login(client, alice), name, objects[which].pk, method)
    assert response.status_code == expected, response.content[:300]
