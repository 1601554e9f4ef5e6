"""The SSE endpoint under a real ASGI server, against the simulator over real HTTP."""

from __future__ import annotations

import json
import statistics
import time

import httpx
import pytest
from django.utils import timezone

from kiestudio.chat.models import Message

from .helpers import conversation_for, read_events, send, session_cookies, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(client, alice, asgi_live_server):
    with httpx.Client(base_url=asgi_live_server, cookies=session_cookies(client, alice), timeout=20) as session:
        yield session


def stream_url(message: Message, after: int = 0) -> str:
    return f"/chat/messages/{message.pk}/stream/?after={after}"


def text_of(events) -> str:
    return "".join(json.loads(m.data)["t"] for _, m in events if m.event in ("delta", "block"))


def test_tokens_arrive_one_after_another_not_buffered(chat_sim, alice, http):
    reply = send(conversation_for(alice), "Tell me about lighthouses [sim:delay 0.04] [sim:words 80]")
    with http.stream("GET", stream_url(reply)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
        events = read_events(response)
    pieces = [(t, m) for t, m in events if m.event in ("delta", "block")]
    assert len(pieces) >= 15
    times = [t for t, _ in pieces]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Spaced as the simulator sends them (0.04 s apart), not delivered in one burst at the end.
    assert times[-1] - times[0] > 0.5
    assert statistics.median(gaps) > 0.02
    ids = [int(m.id) for _, m in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    done = json.loads(events[-1][1].data)
    assert events[-1][1].event == "done" and done["status"] == "complete"
    assert 'class="msg msg-assistant status-complete"' in done["html"]
    assert text_of(events) == wait_until_done(reply).text


def test_reconnect_with_last_event_id_resumes_without_gaps_or_repeats(chat_sim, alice, http):
    reply = send(conversation_for(alice), "A long story [sim:delay 0.03] [sim:words 120]")
    with http.stream("GET", stream_url(reply)) as response:
        first = read_events(response, limit=6)
    last_id = first[-1][1].id
    with http.stream("GET", f"/chat/messages/{reply.pk}/stream/", headers={"Last-Event-ID": last_id}) as response:
        rest = read_events(response)
    assert int(rest[0][1].id) == int(last_id) + 1
    assert text_of(first) + text_of(rest) == wait_until_done(reply).text


def test_closing_the_stream_never_stops_the_reply(chat_sim, alice, http):
    reply = send(conversation_for(alice), "A long story [sim:delay 0.02] [sim:words 100]")
    with http.stream("GET", stream_url(reply)) as response:
        read_events(response, limit=3)
    # The browser went away; the reply carries on upstream and is saved whole.
    reply = wait_until_done(reply)
    assert reply.status == Message.Status.COMPLETE and len(reply.text.split()) >= 90
    assert chat_sim.sim.chat_streams_abandoned == 0


def test_a_finished_reply_answers_done_at_once(chat_sim, alice, http):
    reply = wait_until_done(send(conversation_for(alice), "Short [sim:words 5]"))
    with http.stream("GET", stream_url(reply, after=reply.stream_seq)) as response:
        events = read_events(response)
    assert [m.event for _, m in events] == ["done"]
    assert reply.text.split()[0] in json.loads(events[0][1].data)["html"]


def test_stop_after_reconnecting_still_stops(chat_sim, alice, http):
    reply = send(conversation_for(alice), "A long story [sim:delay 0.05] [sim:words 300]")
    with http.stream("GET", stream_url(reply)) as response:
        read_events(response, limit=3)
    with http.stream("GET", stream_url(reply, after=3)) as response:
        read_events(response, limit=2)
        csrf = http.get(f"/chat/{reply.conversation_id}/").cookies.get("csrftoken") or http.cookies.get("csrftoken")
        stopped = http.post(f"/chat/messages/{reply.pk}/stop/", headers={"X-CSRFToken": csrf, "HX-Request": "true"})
        assert stopped.status_code == 204
        events = read_events(response)
    assert json.loads(events[-1][1].data)["status"] == "stopped"
    assert wait_until_done(reply).status == Message.Status.STOPPED


def _foreign_reply(alice, **fields) -> Message:
    """A reply being written by another web process (no hub channel here): only the database shows it."""
    conversation = conversation_for(alice)
    question = Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        role="user",
        content=[{"type": "text", "text": "Q"}],
    )
    return Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        parent=question,
        role="assistant",
        status="streaming",
        model_key=conversation.model_key,
        runner="another-host:4242:cafe",
        heartbeat_at=timezone.now(),
        **fields,
    )


def test_a_reply_run_elsewhere_is_followed_through_the_database(alice, http):
    reply = _foreign_reply(alice, content=[{"type": "text", "text": "First paragraph.\n\nSecond"}], stream_seq=5)
    with http.stream("GET", stream_url(reply)) as response:
        events = []
        for arrival, message in read_events(response, limit=1):
            events.append((arrival, message))
        snapshot = json.loads(events[0][1].data)
        assert events[0][1].event == "snapshot" and events[0][1].id == "5"
        assert snapshot["html"] == "<p>First paragraph.</p>\n" and snapshot["tail"] == "Second"
        # The other process flushes more text, then finishes.
        Message.objects.filter(pk=reply.pk).update(
            content=[{"type": "text", "text": "First paragraph.\n\nSecond paragraph."}],
            stream_seq=9,
            heartbeat_at=timezone.now(),
        )
        more = read_events(response, limit=1)
        assert more[0][1].event == "snapshot" and json.loads(more[0][1].data)["tail"] == "Second paragraph."
        Message.objects.filter(pk=reply.pk).update(status="complete")
        done = read_events(response)
    assert done[-1][1].event == "done" and json.loads(done[-1][1].data)["status"] == "complete"


def test_a_reply_whose_process_died_is_reported_interrupted(alice, http, settings):
    stale = timezone.now() - timezone.timedelta(seconds=settings.CHAT_STALE_SECONDS + 5)
    reply = _foreign_reply(alice, content=[{"type": "text", "text": "Half"}], stream_seq=3)
    Message.objects.filter(pk=reply.pk).update(heartbeat_at=stale)
    started = time.monotonic()
    with http.stream("GET", stream_url(reply)) as response:
        events = read_events(response)
    assert time.monotonic() - started < 5
    data = json.loads(events[-1][1].data)
    assert data["status"] == "interrupted" and "Half" in data["html"] and "restarted" in data["html"]


def test_another_users_private_stream_is_404(chat_sim, alice, charlie, asgi_live_server, client):
    reply = send(conversation_for(alice), "Secret plans [sim:words 5]")
    with httpx.Client(base_url=asgi_live_server, cookies=session_cookies(client, charlie)) as other:
        assert other.get(stream_url(reply)).status_code == 404
    wait_for(lambda: wait_until_done(reply))


def csrf_for(http: httpx.Client) -> dict[str, str]:
    http.get("/chat/")
    return {"X-CSRFToken": http.cookies["csrftoken"], "Accept": "text/event-stream"}


def page_update(events) -> dict:
    """The stream's one page update (it comes first unless the reply's first events were ready before it)."""
    [update] = [json.loads(m.data) for _, m in events if m.event == "thread"]
    return update


def test_a_send_answers_with_the_page_update_then_the_reply(chat_sim, alice, http):
    conversation = conversation_for(alice)
    headers = csrf_for(http)
    with http.stream(
        "POST", f"/chat/{conversation.pk}/send/", data={"text": "Lighthouses [sim:words 30]"}, headers=headers
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    first = page_update(events)
    assert first["mode"] == "append"
    reply = Message.objects.get(conversation=conversation, role="assistant")
    assert f'id="msg-{reply.parent_id}"' in first["html"] and f'id="msg-{reply.pk}"' in first["html"]
    assert 'data-stream="' in first["html"]
    assert [m.event for _, m in events][-1] == "done"
    assert text_of(events) == wait_until_done(reply).text


def test_a_first_message_answers_with_the_new_conversation(chat_sim, alice, http):
    headers = csrf_for(http)
    with http.stream("POST", "/chat/new/", data={"text": "Hello [sim:words 10]"}, headers=headers) as response:
        events = read_events(response)
    conversation = alice.conversations.get()
    first = page_update(events)
    assert first["mode"] == "main" and first["url"] == f"/chat/{conversation.pk}/"
    assert 'id="chat-main"' in first["html"] and 'id="conversation-list"' in first["list"]
    assert json.loads(events[-1][1].data)["status"] == "complete"


def test_regenerate_and_edit_answer_with_the_new_branch(chat_sim, alice, http):
    conversation = conversation_for(alice)
    first = wait_until_done(send(conversation, "Question [sim:words 10]"))
    headers = csrf_for(http)
    with http.stream("POST", f"/chat/messages/{first.pk}/regenerate/", data={"token": "r1"}, headers=headers) as r:
        events = read_events(r)
    page = page_update(events)
    assert page["mode"] == "thread" and "2 / 2" in page["html"]
    assert json.loads(events[-1][1].data)["status"] == "complete"
    data = {"text": "Question, again [sim:words 10]", "token": "e1"}
    with http.stream("POST", f"/chat/messages/{first.parent_id}/edit/", data=data, headers=headers) as r:
        events = read_events(r)
    page = page_update(events)
    assert page["mode"] == "thread" and "Question, again" in page["html"]
    assert conversation.messages.filter(role="assistant").count() == 3


def test_rendering_the_page_update_never_holds_the_first_token_back(chat_sim, alice, http, monkeypatch):
    """The page update is rendered in a thread while the reply's first events are relayed; a slow render (here
    half a second) comes after the first tokens instead of in front of them, and the reply is still whole."""
    from kiestudio.chat import views

    real = views.render_to_string

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "render_to_string", slow)
    conversation = conversation_for(alice)
    headers = csrf_for(http)
    sent = time.monotonic()
    with http.stream(
        "POST",
        f"/chat/{conversation.pk}/send/",
        data={"text": "Quick [sim:words 80] [sim:delay 0.03]"},
        headers=headers,
    ) as response:
        events = read_events(response)
    names = [m.event for _, m in events]
    first_token = next(t for t, m in events if m.event in ("delta", "block"))
    thread_at = next(t for t, m in events if m.event == "thread")
    assert first_token < thread_at and first_token - sent < 0.4, (names[:5], first_token - sent, thread_at - sent)
    assert page_update(events)["mode"] == "append" and names[-1] == "done"
    reply = Message.objects.get(conversation=conversation, role="assistant")
    assert text_of(events) == wait_until_done(reply).text


def test_a_reply_done_before_its_page_update_still_ends_the_stream_with_done(chat_sim, alice, http, monkeypatch):
    from kiestudio.chat import views

    real = views.render_to_string

    def slow(*args, **kwargs):
        time.sleep(0.8)
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "render_to_string", slow)
    conversation = conversation_for(alice)
    with http.stream(
        "POST", f"/chat/{conversation.pk}/send/", data={"text": "Short [sim:words 3]"}, headers=csrf_for(http)
    ) as response:
        events = read_events(response)
    names = [m.event for _, m in events]
    assert names.count("thread") == 1 and names[-1] == "done" and names.index("thread") < names.index("done")
    assert json.loads(events[-1][1].data)["status"] == "complete"
