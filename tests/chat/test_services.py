"""The conversation and message-tree services (no upstream call: replies are not started in these tests)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kiestudio.chat import relay, services
from kiestudio.chat.models import Message
from kiestudio.chat.services import ChatError
from tests.studio.helpers import workspace_of

from .helpers import conversation_for, reference_for, send

pytestmark = pytest.mark.django_db


def finish(message: Message, text: str = "An answer.") -> Message:
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.COMPLETE, content=[{"type": "text", "text": text}]
    )
    message.refresh_from_db()
    return message


def test_send_writes_the_question_and_a_streaming_reply(alice):
    conversation = conversation_for(alice)
    reply = send(conversation, "  Plan a   shoot about the sea  ")
    question = reply.parent
    assert question.role == "user" and question.text == "Plan a   shoot about the sea"
    assert reply.role == "assistant" and reply.status == Message.Status.STREAMING
    assert reply.model_key == conversation.model_key == "claude-sonnet-4-6"
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == reply.pk
    assert conversation.title == "Plan a shoot about the sea"
    assert reply.workspace_id == question.workspace_id == conversation.workspace_id


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_message_is_not_sent(alice, text):
    conversation = conversation_for(alice)
    with pytest.raises(ChatError, match="Type a message first"):
        send(conversation, text)
    assert conversation.messages.count() == 0


def test_an_oversized_message_is_refused(alice):
    with pytest.raises(ChatError, match="limit"):
        send(conversation_for(alice), "x" * (services.MAX_MESSAGE_CHARS + 1))


def test_unknown_model_is_refused(alice):
    with pytest.raises(ChatError, match="no chat model"):
        conversation_for(alice, model_key="gpt-99")
    conversation = conversation_for(alice)
    with pytest.raises(ChatError, match="no chat model"):
        send(conversation, "Hi", model_key="gpt-99")
    assert conversation.messages.count() == 0


def test_one_reply_at_a_time(alice):
    conversation = conversation_for(alice)
    send(conversation, "First")
    with pytest.raises(ChatError, match="still being written"):
        send(conversation, "Second")


def test_attachments_are_checked_against_the_workspace(alice, charlie, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    mine, theirs = reference_for(alice), reference_for(charlie)
    conversation = conversation_for(alice)
    with pytest.raises(ChatError, match="no longer available"):
        send(conversation, "What is this?", attachments=[theirs.pk])
    reply = send(conversation, "", attachments=[mine.pk])  # an image alone is a question too
    assert reply.parent.image_ids == [mine.pk]
    assert reply.parent.content[0] == {"type": "image", "reference": mine.pk, "width": 64, "height": 48}
    assert conversation.messages.get(role="user").text == ""


def test_too_many_attachments(alice, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    refs = [reference_for(alice).pk for _ in range(services.MAX_ATTACHMENTS + 1)]
    with pytest.raises(ChatError, match="at most"):
        send(conversation_for(alice), "Look", attachments=refs)


def test_regenerate_and_edit_keep_every_version(alice):
    conversation = conversation_for(alice)
    first = finish(send(conversation, "Question one"))
    second = services.message_regenerate(message=first, user=alice, token="regen-1")
    assert second.parent_id == first.parent_id and second.pk != first.pk
    assert services.message_regenerate(message=first, user=alice, token="regen-1").pk == second.pk  # same click
    finish(second, "Another answer.")

    conversation.refresh_from_db()
    thread = services.thread_for(conversation=conversation)
    assert [i.message.pk for i in thread] == [first.parent_id, second.pk]
    assert (thread[1].version, thread[1].versions, thread[1].previous_id) == (2, 2, first.pk)

    edited = services.message_edit(message=first.parent, user=alice, text="Question one, better", token="edit-1")
    question = edited.parent
    assert question.parent_id is None and question.text == "Question one, better"
    finish(edited)
    conversation.refresh_from_db()
    thread = services.thread_for(conversation=conversation)
    assert [i.message.pk for i in thread] == [question.pk, edited.pk]
    assert (thread[0].version, thread[0].versions) == (2, 2)

    # Back to the first question: its most recent reply comes with it.
    services.message_switch(conversation=conversation, message=first.parent)
    conversation.refresh_from_db()
    assert [i.message.pk for i in services.thread_for(conversation=conversation)] == [first.parent_id, second.pk]


def test_only_replies_regenerate_and_only_questions_edit(alice):
    reply = finish(send(conversation_for(alice), "Hi"))
    with pytest.raises(ChatError):
        services.message_regenerate(message=reply.parent, user=alice, token="x")
    with pytest.raises(ChatError):
        services.message_edit(message=reply, user=alice, text="x", token="y")


def test_history_for_upstream_skips_empty_replies_and_merges_turns(alice):
    conversation = conversation_for(alice)
    failed = send(conversation, "First")
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED)
    reply = send(conversation, "Second")
    path = services.thread_path(reply.parent)
    messages = relay._upstream_messages(path, relay.get_chat_model("claude-sonnet-4-6"))
    assert messages == [{"role": "user", "content": "First\n\nSecond"}]


def test_a_reply_whose_process_is_gone_is_interrupted_with_its_text(alice):
    reply = send(conversation_for(alice), "Hi")
    # Claimed by a process on this host that no longer exists (pid 999999 is beyond the default pid range).
    Message.objects.filter(pk=reply.pk).update(
        runner=f"{relay.socket.gethostname()}:999999:deadbeef",
        heartbeat_at=timezone.now(),
        content=[{"type": "text", "text": "Half an ans"}],
        stream_seq=7,
        output_tokens=4,
    )
    reply.refresh_from_db()
    assert not relay.runner_alive(reply)
    reply = services.message_check_alive(message=reply)
    assert reply.status == Message.Status.INTERRUPTED
    assert reply.text == "Half an ans" and "restarted" in reply.error_message
    assert reply.credits is not None and reply.credits_estimated


def test_a_reply_on_another_host_lives_while_its_heartbeat_is_fresh(alice, settings):
    reply = send(conversation_for(alice), "Hi")
    Message.objects.filter(pk=reply.pk).update(runner="other-host:12:abc", heartbeat_at=timezone.now())
    reply.refresh_from_db()
    assert relay.runner_alive(reply)
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 1)
    Message.objects.filter(pk=reply.pk).update(heartbeat_at=stale)
    reply.refresh_from_db()
    assert not relay.runner_alive(reply)
    assert services.stale_replies_sweep() == 1
    reply.refresh_from_db()
    assert reply.status == Message.Status.INTERRUPTED


def test_a_reply_never_started_goes_stale(alice, settings):
    reply = send(conversation_for(alice), "Hi")  # no commit here, so its task never starts
    assert reply.runner == relay.RUNNER_ID and relay.runner_alive(reply)  # claimed at creation: alive for now
    long_ago = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 1)
    Message.objects.filter(pk=reply.pk).update(heartbeat_at=long_ago)
    reply.refresh_from_db()
    assert not relay.runner_alive(reply)
    # A reply left for a runner to claim (one with images to upload) goes stale by its age.
    Message.objects.filter(pk=reply.pk).update(runner="", heartbeat_at=None)
    reply.refresh_from_db()
    assert relay.runner_alive(reply)
    Message.objects.filter(pk=reply.pk).update(created_at=long_ago)
    reply.refresh_from_db()
    assert not relay.runner_alive(reply)


def test_stop_of_a_reply_nobody_runs_marks_it_stopped(alice):
    reply = send(conversation_for(alice), "Hi")
    Message.objects.filter(pk=reply.pk).update(runner="other-host:12:abc", heartbeat_at=None)
    reply.refresh_from_db()
    assert services.message_stop(message=reply)
    reply.refresh_from_db()
    assert reply.status == Message.Status.STOPPED and reply.stop_requested


def test_search_finds_titles_and_message_text_and_respects_privacy(alice, charlie, make_user):
    from kiestudio.workspaces.models import Membership

    bob = make_user("bob@example.com")
    Membership.objects.create(workspace=workspace_of(alice), user=bob, role="member")
    mine = conversation_for(alice)
    finish(send(mine, "Lighthouse at dusk"), "Try a long exposure over the harbour.")
    private = services.conversation_create(workspace=workspace_of(alice), user=bob)
    services.conversation_update(conversation=private, title="Bob's harbour plans")
    shared = services.conversation_create(workspace=workspace_of(alice), user=bob)
    services.conversation_update(conversation=shared, title="Team harbour brief", is_shared=True)

    found = services.conversation_search(workspace=workspace_of(alice), user=alice, query="harbour")
    assert set(found) == {mine, shared}
    assert list(services.conversation_search(workspace=workspace_of(alice), user=alice, query="lighthouse")) == [mine]
    assert not services.conversation_search(workspace=workspace_of(charlie), user=charlie, query="harbour").exists()


def test_pinned_conversations_come_first(alice):
    older, newer = conversation_for(alice), conversation_for(alice)
    services.conversation_set_pinned(conversation=older, pinned=True)
    listed = list(services.conversation_search(workspace=workspace_of(alice), user=alice))
    assert listed[0] == older and newer in listed


def test_usage_totals(alice):
    conversation = conversation_for(alice)
    reply = finish(send(conversation, "Hi"))
    Message.objects.filter(pk=reply.pk).update(input_tokens=10, output_tokens=20, credits="0.5")
    assert services.conversation_usage(conversation=conversation) == {
        "credits": pytest.approx(0.5),
        "input_tokens": 10,
        "output_tokens": 20,
        "replies": 1,
    }
