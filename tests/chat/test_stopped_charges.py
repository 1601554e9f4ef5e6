"""A reply cut short is still charged: Kie billed the tokens it read and wrote before the stop.

Kie's final count arrives only with the end of the stream, so a stopped reply is charged what Kie reported so far
(Claude reports the prompt's tokens at the start) plus an estimate from the streamed text, marked as an estimate
on the reply and in the ledger.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from kiestudio.chat import relay, services
from kiestudio.chat.models import Message
from kiestudio.usage.models import UsageEntry

from .helpers import conversation_for, send, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)

LONG = "Tell me a long story about a lighthouse keeper [sim:delay 0.05] [sim:words 400]"


def stop_mid_stream(reply: Message, chars: int = 120) -> Message:
    wait_for(lambda: (runner := relay.RUNNERS.get(reply.pk)) and len(runner.text) >= chars)
    assert services.message_stop(message=reply)
    return wait_until_done(reply)


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "gemini-3-flash", "gpt-5-4"])
def test_a_stopped_reply_is_charged_an_estimate_marked_as_such(chat_sim, alice, model):
    conversation = conversation_for(alice, model_key=model, system_prompt="You are a storyteller.")
    reply = stop_mid_stream(send(conversation, LONG))
    assert reply.status == Message.Status.STOPPED and len(reply.text) >= 120
    # Kie's full count never arrived (the stop closed the stream): the output is estimated from the text streamed
    # (about four characters a token).
    assert reply.output_tokens >= len(reply.text) // 4 > 0
    assert reply.input_tokens > 0
    assert reply.credits is not None and reply.credits > 0 and reply.credits_estimated
    expected = relay.get_chat_model(model).estimate_credits(reply.input_tokens, reply.output_tokens)
    assert reply.credits == expected
    entry = UsageEntry.objects.get(source=f"message:{reply.pk}")
    assert entry.kind == UsageEntry.Kind.CHAT and entry.credits == reply.credits and entry.estimated
    assert entry.workspace_id == reply.workspace_id and entry.user_id == alice.pk
    # The reply says so where its cost is shown.
    html = render_to_string(
        "chat/_message.html", {"item": services.thread_item(message=reply), "conversation": conversation}
    )
    assert "≈ <strong>" in html and "credits estimated" in html


def test_claude_reports_the_prompt_tokens_at_the_start_and_they_are_kept(chat_sim, alice):
    question = "Describe a harbour at dawn [sim:delay 0.05] [sim:words 400]"
    complete = wait_until_done(send(conversation_for(alice, model_key="claude-sonnet-4-6"), question))
    assert not complete.credits_estimated
    stopped = stop_mid_stream(send(conversation_for(alice, model_key="claude-sonnet-4-6"), question))
    # The prompt's count is Kie's own (the same thread costs the same input), only the output is estimated.
    assert stopped.input_tokens == complete.input_tokens
    assert 1 < stopped.output_tokens < complete.output_tokens
    assert stopped.credits_estimated and Decimal(0) < stopped.credits < complete.credits


def test_a_finished_reply_is_charged_what_kie_reported(chat_sim, alice):
    reply = wait_until_done(send(conversation_for(alice, model_key="gemini-3-flash"), "Hello [sim:words 30]"))
    assert reply.status == Message.Status.COMPLETE and not reply.credits_estimated
    assert not UsageEntry.objects.get(source=f"message:{reply.pk}").estimated


@pytest.mark.django_db(transaction=False)  # no commit hooks: nothing runs the reply in this process
def test_a_stop_of_a_reply_whose_process_is_gone_is_charged_from_its_saved_text(alice):
    conversation = conversation_for(alice, model_key="gemini-3-flash")
    reply = send(conversation, "Write me a poem about rain")
    saved = "Rain on the roof, a patient drum; " * 12
    # Another process ran it and saved its text, but no token counts (OpenAI's format reports them only at the end).
    Message.objects.filter(pk=reply.pk).update(
        runner="other-host:12:abc", heartbeat_at=None, content=[{"type": "text", "text": saved}], stream_seq=30
    )
    reply.refresh_from_db()
    assert services.message_stop(message=reply)
    reply.refresh_from_db()
    assert reply.status == Message.Status.STOPPED
    assert reply.output_tokens == len(saved) // 4 and reply.input_tokens >= len("Write me a poem about rain") // 4
    assert reply.credits > 0 and reply.credits_estimated
    entry = UsageEntry.objects.get(source=f"message:{reply.pk}")
    assert entry.credits == reply.credits and entry.estimated
