"""The chat model calls the studio's tools, against the simulator over real HTTP: a generate call waits for Run as a
priced card, runs through the same ledger as Generate, and its results go back to the model, which carries on."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kiestudio.agent import services as agent
from kiestudio.agent.models import ToolCall
from kiestudio.chat.models import Message
from kiestudio.kie.catalog import estimate_credits, get_model
from kiestudio.studio.models import Generation, Status
from tests.chat.helpers import conversation_for, send, wait_for, wait_until_done
from tests.studio.helpers import drain, made, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)

S = ToolCall.Status


def ask(user, text: str, **fields) -> Message:
    conversation = conversation_for(user, model_key="claude-sonnet-4-6", studio_tools=True, **fields)
    return send(conversation, text)


def calls_of(reply: Message) -> list[ToolCall]:
    return wait_for(lambda: list(ToolCall.objects.filter(message=reply)) or None)


def following(reply: Message) -> Message:
    """The reply that answers ``reply``'s tool results, once it has ended."""

    def found():
        results = Message.objects.filter(parent=reply, created_by__isnull=True).first()
        return Message.objects.filter(parent=results).first() if results else None

    return wait_until_done(wait_for(found))


def test_three_takes_wait_for_run_then_the_results_go_back_and_the_model_carries_on(chat_sim, alice, plans):
    reply = wait_until_done(ask(alice, "Three takes of a lighthouse at dusk"))
    assert reply.status == Message.Status.COMPLETE and reply.stop_reason == "tool_use"
    [use] = reply.tool_uses
    assert use["name"] == "generate"
    # The tools went out in Anthropic's format, generated from the catalog.
    sent = {tool["name"]: tool for tool in plans[0].tools}
    assert set(sent) == {"generate", "describe_model", "search_gallery", "view_item", "propose_plan", "follow_up"}
    assert "google/nano-banana" in sent["generate"]["input_schema"]["properties"]["model"]["enum"]

    [call] = calls_of(reply)
    spec = get_model("google/nano-banana")
    assert call.status == S.PROPOSED and call.model_key == spec.key and call.takes == 3
    assert call.prompt == "a lighthouse at dusk" and call.inputs["prompt"] == "a lighthouse at dusk"
    assert call.quote == 3 * estimate_credits(spec, call.inputs)
    # Nothing is bought before Run.
    assert not Generation.objects.exists()
    assert not [e for e in chat_sim.sim.log.entries if e.kind == "create"]

    agent.toolcall_run(call=call, user=alice, membership=None)
    again = agent.toolcall_run(call=ToolCall.objects.get(pk=call.pk), user=alice, membership=None)
    assert again.status == S.RUNNING and Generation.objects.count() == 3  # a second Run buys nothing more
    drain()
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert len([e for e in chat_sim.sim.log.entries if e.kind == "create"]) == 3

    answer = following(reply)
    call.refresh_from_db()
    assert call.status == S.DONE
    assert answer.status == Message.Status.COMPLETE and answer.text.startswith("Based on the tool result")
    # The model got the tool result, with the three pictures as images it can see.
    last = plans[-1].messages
    assert last[-2]["role"] == "assistant" and last[-2]["content"][-1]["type"] == "tool_use"
    [result] = last[-1]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"]
    assert "3 of 3 takes finished" in result["content"][0]["text"]
    assert [b["type"] for b in result["content"][1:]] == ["image"] * 3
    for block in result["content"][1:]:
        assert block["source"]["type"] == "url"


def test_skip_spends_nothing_and_tells_the_model(chat_sim, alice, plans):
    reply = wait_until_done(ask(alice, "Make a picture of a red fox"))
    [call] = calls_of(reply)
    agent.toolcall_skip(call=call, user=alice)
    answer = following(reply)
    assert answer.status == Message.Status.COMPLETE
    assert not Generation.objects.exists()
    [result] = plans[-1].messages[-1]["content"]
    assert "skipped" in result["content"][0]["text"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('Go [sim:tool generate] [sim:tool-input {"model": "no/such-model", "prompt": "x"}]', "no studio model"),
        (
            'Go [sim:tool generate] [sim:tool-input {"model": "google/nano-banana", "prompt": "x", "settings": {"output_format": "gif"}}]',
            "output_format",
        ),
        ('Go [sim:tool generate] [sim:tool-input {"model": "google/nano-banana", "takes": 9}]', "takes"),
        ("Go [sim:tool-malformed]", "not valid JSON"),
    ],
    ids=["unknown-model", "out-of-enum", "too-many-takes", "malformed"],
)
def test_a_call_that_cannot_be_made_is_refused_with_the_reason_and_nothing_is_spent(
    chat_sim, alice, plans, text, reason
):
    reply = wait_until_done(ask(alice, text))
    [call] = calls_of(reply)
    assert call.status == S.REFUSED and reason in call.reason
    answer = following(reply)  # the refusal goes back to the model, which answers in words
    assert answer.status == Message.Status.COMPLETE
    [result] = plans[-1].messages[-1]["content"]
    assert result["is_error"] is True and reason in result["content"][0]["text"]
    assert not Generation.objects.exists()
    assert not [e for e in chat_sim.sim.log.entries if e.kind == "create"]


def test_an_id_from_another_workspace_is_refused(chat_sim, alice, charlie, plans):
    theirs = made(charlie)
    reply = wait_until_done(ask(alice, f"Look at item {theirs.pk}"))
    [call] = calls_of(reply)
    assert call.name == "view_item" and call.status == S.REFUSED
    assert f"no gallery item {theirs.pk} in this workspace" in call.reason
    following(reply)
    assert str(theirs.prompt_text) not in json.dumps(plans[-1].messages)


def test_view_item_sends_the_picture_to_the_model(chat_sim, alice, plans):
    mine = made(alice)
    reply = wait_until_done(ask(alice, f"Look at item {mine.pk}"))
    [call] = calls_of(reply)
    assert call.status == S.DONE
    following(reply)
    [result] = plans[-1].messages[-1]["content"]
    facts = json.loads(result["content"][0]["text"])
    assert facts["item"] == mine.pk and facts["prompt"] == mine.prompt_text
    assert result["content"][1]["type"] == "image"


def test_a_model_that_loops_is_stopped_at_the_round_bound(chat_sim, alice, settings):
    reply = wait_until_done(ask(alice, "Find lighthouses in the gallery [sim:loop]"))
    replies = [reply]
    for _ in range(agent.MAX_ROUNDS):
        replies.append(following(replies[-1]))
    last = calls_of(replies[-1])
    assert [c.status for c in last] == [S.REFUSED] and "rounds" in last[0].reason
    assert ToolCall.objects.filter(status=S.DONE).count() == agent.MAX_ROUNDS
    # No further reply: the thread ends with the refusal.
    assert not Message.objects.filter(parent=replies[-1]).exists()


def test_run_respects_the_workspace_budget(chat_sim, alice):
    workspace = workspace_of(alice)
    workspace.monthly_budget = Decimal("5")
    workspace.save()
    reply = wait_until_done(ask(alice, "Three takes of a harbour at night"))
    [call] = calls_of(reply)
    membership = workspace.memberships.get(user=alice)
    with pytest.raises(agent.ToolError, match="budget"):
        agent.toolcall_run(call=call, user=alice, membership=membership)
    call.refresh_from_db()
    assert call.status == S.PROPOSED and not Generation.objects.exists()


def test_within_the_members_auto_run_limit_a_call_runs_without_asking(chat_sim, alice):
    agent.autorun_set(workspace_id=workspace_of(alice).pk, user=alice, limit=Decimal("50"))
    reply = wait_until_done(ask(alice, "Make a picture of a red fox"))
    call = wait_for(lambda: ToolCall.objects.filter(message=reply, status=S.RUNNING).first())
    assert call.auto and Generation.objects.count() == 1
    drain()
    answer = following(reply)
    assert answer.status == Message.Status.COMPLETE


def test_over_the_auto_run_limit_it_asks(chat_sim, alice):
    agent.autorun_set(workspace_id=workspace_of(alice).pk, user=alice, limit=Decimal("5"))
    reply = wait_until_done(ask(alice, "Four takes of a red fox"))  # 4 x 4 credits: over 5
    [call] = calls_of(reply)
    assert call.status == S.PROPOSED and not call.auto and not Generation.objects.exists()


def test_a_turn_never_spends_past_its_ceiling(chat_sim, alice, settings):
    settings.AGENT_TURN_CEILING_CREDITS = 10.0
    reply = wait_until_done(ask(alice, "Four takes of a red fox"))
    [call] = calls_of(reply)
    with pytest.raises(agent.ToolError, match="one turn may spend 10"):
        agent.toolcall_run(call=call, user=alice, membership=None)
    assert not Generation.objects.exists()


def test_gpt_models_call_the_tools_in_openais_format(chat_sim, alice, plans):
    conversation = conversation_for(alice, model_key="gpt-5-2", studio_tools=True)
    reply = wait_until_done(send(conversation, "Make a picture of a red fox"))
    [call] = calls_of(reply)
    assert call.status == S.PROPOSED and call.model_key == "google/nano-banana"
    assert plans[0].tools and plans[0].spec.api == "openai"
    agent.toolcall_skip(call=call, user=alice)
    following(reply)
    messages = plans[-1].messages
    assert messages[-2]["role"] == "assistant" and messages[-2]["tool_calls"][0]["function"]["name"] == "generate"
    assert messages[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": call.result[0]["text"]}


def test_a_lost_signal_is_made_good_by_the_sweeper(chat_sim, alice, monkeypatch):
    from kiestudio.agent import tasks
    from kiestudio.studio.signals import generation_ended

    reply = wait_until_done(ask(alice, "Make a picture of a red fox"))
    [call] = calls_of(reply)
    monkeypatch.setattr(generation_ended, "send_robust", lambda **kwargs: [])  # the worker died after its commit
    agent.toolcall_run(call=call, user=alice, membership=None)
    drain()
    call.refresh_from_db()
    assert call.status == S.RUNNING
    assert tasks.agent_sweep_task()["settled"] == 1
    assert following(reply).status == Message.Status.COMPLETE
    assert tasks.agent_sweep_task()["settled"] == 0


def test_responses_models_call_the_tools_and_get_the_results_as_function_call_output(chat_sim, alice, plans):
    conversation = conversation_for(alice, model_key="gpt-5-4", studio_tools=True)
    reply = wait_until_done(send(conversation, "Three takes of a lighthouse at dusk"))
    [call] = calls_of(reply)
    assert plans[0].spec.api == "responses" and {t["name"] for t in plans[0].tools} >= {"generate", "follow_up"}
    assert call.status == S.PROPOSED and call.model_key == "google/nano-banana" and call.takes == 3
    agent.toolcall_run(call=call, user=alice, membership=None)
    drain()
    answer = following(reply)
    assert answer.status == Message.Status.COMPLETE and answer.text.startswith("Based on the tool result")
    items = plans[-1].messages
    [asked] = [i for i in items if i.get("type") == "function_call"]
    [output] = [i for i in items if i.get("type") == "function_call_output"]
    assert asked["call_id"] == output["call_id"] == call.call_id and asked["name"] == "generate"
    assert json.loads(asked["arguments"]) == call.input
    assert "3 of 3 takes finished" in output["output"]
    # Responses takes no images in a tool's output: the pictures follow as a user turn of their own.
    pictures = items[-1]
    assert pictures["role"] == "user" and [b["type"] for b in pictures["content"][1:]] == ["input_image"] * 3
