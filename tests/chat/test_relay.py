"""Replies end to end against the simulator over real HTTP: streamed, saved, stopped and failed."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from kiestudio.chat import relay, services
from kiestudio.chat.models import Message

from .helpers import conversation_for, reference_for, send, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)


def test_reply_streams_from_kie_and_is_saved_with_usage_and_credits(chat_sim, alice):
    conversation = conversation_for(alice, model_key="claude-sonnet-4-6", system_prompt="You are an art director.")
    reply = send(conversation, "Plan a shoot about lighthouses [sim:words 40]")
    assert reply.status == Message.Status.STREAMING

    reply = wait_until_done(reply)
    assert reply.status == Message.Status.COMPLETE
    assert len(reply.text.split()) >= 30
    assert reply.input_tokens > 0 and reply.output_tokens > 0
    assert reply.credits is not None and reply.credits > 0 and not reply.credits_estimated
    assert reply.stop_reason == "end_turn"
    assert reply.started_at and reply.first_token_at and reply.completed_at
    assert reply.runner == relay.RUNNER_ID and reply.heartbeat_at is None

    [call] = [e for e in chat_sim.sim.log.entries if e.kind == "chat"]
    assert call.path == "/claude/v1/messages" and call.model == "claude-sonnet-4-6"
    # The simulator charged exactly what the reply says it cost.
    assert Decimal(str(chat_sim.sim.config.balance)) - chat_sim.sim.balance == reply.credits


def test_history_system_prompt_and_thinking_go_upstream(chat_sim, alice, monkeypatch):
    bodies = []
    original = relay._stream

    def spy(plan):
        bodies.append(plan)
        return original(plan)

    monkeypatch.setattr(relay, "_stream", spy)
    conversation = conversation_for(alice, model_key="claude-opus-4-6", system_prompt="Be brief.", thinking=True)
    first = wait_until_done(send(conversation, "First question [sim:words 8]"))
    second = wait_until_done(send(conversation, "Second question [sim:words 8]"))
    assert first.thinking_text and second.thinking_text  # the thinking block is kept apart from the answer
    plan = bodies[-1]
    assert plan.system == "Be brief." and plan.thinking is True
    assert [m["role"] for m in plan.messages] == ["user", "assistant", "user"]
    assert plan.messages[1]["content"] == first.text
    assert plan.messages[2]["content"] == "Second question [sim:words 8]"


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("gemini-3-flash", "/gemini-3-flash/v1/chat/completions"),
        ("gemini-3.5-flash", "/gemini-3-5-flash-openai/v1/chat/completions"),
        ("gpt-5-5", "/codex/v1/responses"),
        ("gpt-5.2-codex", "/api/v1/responses"),
        ("claude-fable-5", "/claude/v1/messages"),
    ],
)
def test_every_format_streams_too(chat_sim, alice, model, path):
    conversation = conversation_for(alice, model_key=model, system_prompt="Answer in English.", thinking=True)
    reply = wait_until_done(send(conversation, "Ideas for a song [sim:words 20]"))
    assert reply.status == Message.Status.COMPLETE and len(reply.text.split()) >= 15
    assert reply.stop_reason == "end_turn" and reply.input_tokens > 0 and reply.output_tokens > 0
    assert reply.credits is not None and not reply.credits_estimated
    assert Decimal(str(chat_sim.sim.config.balance)) - chat_sim.sim.balance == reply.credits
    [call] = [e for e in chat_sim.sim.log.entries if e.kind == "chat"]
    assert call.path == path and call.status == 200


def test_a_responses_thread_goes_upstream_in_that_format(chat_sim, alice, monkeypatch):
    plans = []
    original = relay._stream
    monkeypatch.setattr(relay, "_stream", lambda plan: (plans.append(plan), original(plan))[1])
    conversation = conversation_for(alice, model_key="gpt-5-4", system_prompt="Be brief.")
    first = wait_until_done(send(conversation, "First question [sim:words 8]"))
    second = wait_until_done(send(conversation, "Second question [sim:words 8]"))
    assert second.status == Message.Status.COMPLETE
    # Parts lists, the model's own turn as output_text (the simulator refuses input_text there, as OpenAI does).
    assert plans[-1].messages == [
        {"role": "user", "content": [{"type": "input_text", "text": "First question [sim:words 8]"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": first.text}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Second question [sim:words 8]"}]},
    ]
    assert plans[-1].system == "Be brief."


def test_a_responses_error_mid_stream_keeps_the_partial_reply(chat_sim, alice):
    conversation = conversation_for(alice, model_key="gpt-5.4-codex")
    reply = wait_until_done(send(conversation, "Tell me a story [sim:cut 4] [sim:words 60]"))
    assert reply.status == Message.Status.FAILED
    assert reply.error_class == "upstream_error" and "kept" in reply.error_message
    assert len(reply.text.split()) >= 4


@pytest.mark.parametrize(
    ("marker", "error_class", "words"),
    [
        ("[sim:error 401]", "auth_failed", "API key"),
        ("[sim:error 402]", "insufficient_credits", "out of credits"),
        ("[sim:error 429]", "rate_limited", "too many requests"),
        ("[sim:error 500]", "upstream_error", "Kie had a problem"),
        ("[sim:error 503 Overloaded]", "unavailable", "overloaded"),
    ],
)
def test_kie_errors_end_the_reply_with_a_clear_message(chat_sim, alice, marker, error_class, words):
    conversation = conversation_for(alice)
    reply = wait_until_done(send(conversation, f"Hello {marker}"))
    assert reply.status == Message.Status.FAILED
    assert reply.error_class == error_class
    assert words.lower() in reply.error_message.lower()
    assert reply.text == ""


def test_an_error_mid_stream_keeps_the_partial_reply(chat_sim, alice):
    reply = wait_until_done(send(conversation_for(alice), "Tell me a story [sim:cut 4] [sim:words 60]"))
    assert reply.status == Message.Status.FAILED
    assert reply.error_class == "unavailable"
    assert "Overloaded" in reply.error_message and "kept" in reply.error_message
    assert len(reply.text.split()) >= 4


def test_a_dropped_connection_keeps_the_partial_reply(chat_sim, alice):
    reply = wait_until_done(send(conversation_for(alice), "Tell me a story [sim:drop 3] [sim:words 60]"))
    assert reply.status == Message.Status.FAILED
    assert reply.text and "kept" in reply.error_message


def test_an_unreadable_event_fails_the_reply_clearly(chat_sim, alice):
    reply = wait_until_done(send(conversation_for(alice), "Tell me a story [sim:malformed] [sim:words 40]"))
    assert reply.status == Message.Status.FAILED
    assert reply.error_class == "upstream_error" and "Unreadable" in reply.error_message


def test_a_silent_upstream_times_out(chat_sim, alice, settings):
    settings.KIE_CHAT_READ_TIMEOUT = 0.5
    reply = wait_until_done(send(conversation_for(alice), "Hello [sim:hang 5]"))
    assert reply.status == Message.Status.FAILED
    # The request went out, so Kie may have charged for it: the studio says so rather than resending.
    assert reply.error_class == "unknown_outcome" and "in time" in reply.error_message


def test_stop_closes_the_upstream_call_and_keeps_the_text(chat_sim, alice):
    reply = send(conversation_for(alice), "Tell me a long story [sim:delay 0.05] [sim:words 300]")
    wait_for(lambda: relay.RUNNERS.get(reply.pk) and relay.RUNNERS[reply.pk].text)
    assert chat_sim.sim.chat_streams_open == 1
    assert services.message_stop(message=reply) is True
    reply = wait_until_done(reply)
    assert reply.status == Message.Status.STOPPED
    assert 0 < len(reply.text.split()) < 250
    wait_for(lambda: chat_sim.sim.chat_streams_open == 0, timeout=5)
    assert chat_sim.sim.chat_streams_abandoned == 1
    assert services.message_stop(message=reply) is False  # nothing left to stop


def test_live_text_is_flushed_while_streaming(chat_sim, alice):
    reply = send(conversation_for(alice), "Tell me a long story [sim:delay 0.03] [sim:words 200]")
    saved = wait_for(lambda: Message.objects.filter(pk=reply.pk, stream_seq__gt=0).first())
    assert saved.status == Message.Status.STREAMING and saved.text and saved.heartbeat_at
    services.message_stop(message=reply)
    wait_until_done(reply)


def test_one_send_token_buys_one_reply(chat_sim, alice):
    conversation = conversation_for(alice)
    first = services.message_send(conversation=conversation, user=alice, text="Hi [sim:words 5]", token="t-1")
    again = services.message_send(conversation=conversation, user=alice, text="Hi [sim:words 5]", token="t-1")
    assert first.pk == again.pk
    wait_until_done(first)
    assert len([e for e in chat_sim.sim.log.entries if e.kind == "chat"]) == 1
    assert conversation.messages.count() == 2


def replayed(message_id: int) -> list:
    """Every event of a finished reply, as a reader joining from the start gets them (either hub)."""
    from kiestudio.chat.hub import get_hub

    async def collect():
        return [event async for event in get_hub().follow(message_id, 0, keepalive=5) if event is not None]

    return asyncio.run(collect())


def test_block_events_carry_sanitised_markdown(chat_sim, alice):
    conversation = conversation_for(alice)
    reply = send(conversation, "Give me a list and a table with code [sim:words 60]")
    reply = wait_until_done(reply)
    events = replayed(reply.pk)
    names = [e.name for e in events]
    assert names[-1] == "done" and "block" in names and "delta" in names
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    blocks = [json.loads(e.data) for e in events if e.name == "block"]
    assert any("<ol>" in b["html"] for b in blocks) and any("<table>" in b["html"] for b in blocks)
    # The deltas and blocks rebuild exactly the saved text.
    text = "".join(json.loads(e.data)["t"] for e in events if e.name in ("delta", "block"))
    assert text == reply.text


@pytest.mark.parametrize(
    ("model", "image_part", "text_type"),
    [
        ("claude-sonnet-4-6", lambda url: {"type": "image", "source": {"type": "url", "url": url}}, "text"),
        ("gemini-3-flash", lambda url: {"type": "image_url", "image_url": {"url": url}}, "text"),
        ("gpt-5-4", lambda url: {"type": "input_image", "image_url": url}, "input_text"),
    ],
)
def test_attached_images_go_to_kie_as_vision_content(
    chat_sim, alice, monkeypatch, settings, tmp_path, model, image_part, text_type
):
    settings.MEDIA_ROOT = str(tmp_path)
    plans = []
    original = relay._stream
    monkeypatch.setattr(relay, "_stream", lambda plan: (plans.append(plan), original(plan))[1])
    reference = reference_for(alice)
    conversation = conversation_for(alice, model_key=model)
    reply = wait_until_done(send(conversation, "What is in this picture? [sim:words 10]", attachments=[reference.pk]))
    assert reply.status == Message.Status.COMPLETE
    # The image went through Kie's file upload, and the question carries Kie's copy of it.
    [upload] = [e for e in chat_sim.sim.log.entries if e.kind == "upload"]
    reference.refresh_from_db()
    assert reference.kie_url.startswith(chat_sim.base_url)
    [question] = plans[-1].messages
    assert question["content"] == [
        image_part(reference.kie_url),
        {"type": text_type, "text": "What is in this picture? [sim:words 10]"},
    ]
