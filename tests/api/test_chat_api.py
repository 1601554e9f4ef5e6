"""POST /api/v1/chat/messages under a real ASGI server, against the simulator: streamed or polled, charged to the
token, and never lost when the client goes away."""

from __future__ import annotations

import json

import httpx
import pytest

from kiestudio.api.models import ApiSpend, ApiToken
from kiestudio.chat.models import Conversation, Message
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import AuditEvent
from tests.api.conftest import make_token
from tests.chat.helpers import conversation_for, read_events, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat_sim(kie_sim, settings):
    kie_sim.sim.config.chat_chunk_delay = 0.0
    settings.CHAT_FLUSH_SECONDS = 0.1
    return kie_sim


@pytest.fixture
def api(alice, asgi_live_server):
    raw = make_token(alice)
    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=f"{asgi_live_server}/api/v1", headers=headers, timeout=20) as session:
        yield session


def test_a_streamed_reply_arrives_as_the_chats_events_and_is_charged_to_the_token(chat_sim, alice, api):
    body = {"text": "Tell me a story [sim:words 30]"}
    with api.stream("POST", "/chat/messages", json=body, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [message.event for _, message in events]
    assert names[-1] == "done" and ("delta" in names or "block" in names)
    reply = wait_until_done(Message.objects.get(role="assistant"))
    assert reply.status == Message.Status.COMPLETE and json.loads(events[-1][1].data)["status"] == "complete"
    token = ApiToken.objects.get()
    assert ApiSpend.objects.filter(token=token, source=f"message:{reply.pk}").exists()
    assert UsageEntry.objects.filter(source=f"message:{reply.pk}").exists()
    event = AuditEvent.objects.get(action="api.message_sent")
    assert token.prefix in event.target and event.details["conversation"] == reply.conversation_id


def test_without_a_stream_it_is_a_202_to_poll_and_a_dropped_client_loses_nothing(chat_sim, alice, api):
    sent = api.post("/chat/messages", json={"text": "A long story [sim:delay 0.02] [sim:words 60]"})
    assert sent.status_code == 202
    ids = sent.json()
    reply = wait_until_done(Message.objects.get(pk=ids["reply"]))
    assert reply.status == Message.Status.COMPLETE and len(reply.text.split()) >= 50
    polled = api.get(ids["poll_url"].split("/api/v1", 1)[1]).json()
    assert polled["status"] == "complete" and polled["text"] == reply.text
    # A stream the client closes early: the reply carries on and is saved whole.
    body = {"conversation": ids["conversation"], "text": "Another [sim:delay 0.02] [sim:words 80]"}
    with api.stream("POST", "/chat/messages", json=body, headers={"Accept": "text/event-stream"}) as response:
        read_events(response, limit=2)
    second = wait_until_done(Message.objects.filter(role="assistant").order_by("-pk").first())
    assert second.status == Message.Status.COMPLETE and len(second.text.split()) >= 70
    assert second.conversation_id == ids["conversation"] and chat_sim.sim.chat_streams_abandoned == 0


def test_another_persons_conversation_is_a_404_and_the_chat_scope_is_needed(chat_sim, alice, charlie, api):
    theirs = conversation_for(charlie)
    response = api.post("/chat/messages", json={"conversation": theirs.pk, "text": "Hi"})
    assert response.status_code == 404
    read_only = make_token(alice, scopes=["read"])
    response = api.post("/chat/messages", json={"text": "Hi"}, headers={"Authorization": f"Bearer {read_only}"})
    assert response.status_code == 403 and "“chat” scope" in response.json()["error"]["message"]
    assert not Message.objects.exclude(conversation=theirs).exists()
    assert Conversation.objects.count() == 1
