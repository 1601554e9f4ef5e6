"""The chat model builds on a gallery item (``follow_up``): upscale, edit, animate… as a priced card that waits for
Run, bought once as a child of the item through the same service as the follow-up dialog; against the simulator
over real HTTP."""

from __future__ import annotations

import json

import pytest

from kiestudio.agent import services as agent
from kiestudio.agent.models import ToolCall
from kiestudio.kie.catalog import estimate_credits, get_model
from kiestudio.studio.models import Generation, Status
from tests.agent.test_tool_calls import ask, calls_of, following
from tests.chat.helpers import wait_until_done
from tests.studio.helpers import drain, made, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)

S = ToolCall.Status


def creates(chat_sim) -> list:
    return [e for e in chat_sim.sim.log.entries if e.kind == "create"]


def test_upscale_waits_for_run_then_buys_one_child_of_the_item_and_the_model_sees_it(chat_sim, alice, plans):
    source = made(alice)
    before = len(creates(chat_sim))
    reply = wait_until_done(ask(alice, f"Upscale item {source.pk}"))
    [call] = calls_of(reply)
    spec = get_model("topaz/image-upscale")  # the action's first model
    assert call.name == "follow_up" and call.status == S.PROPOSED, call.reason
    assert call.action == "upscale" and call.model_key == spec.key and call.source == source.assets.get()
    assert call.inputs == {"upscale_factor": "2"}  # the source file is the studio's to fill in, at Run
    assert call.quote == estimate_credits(spec, call.inputs)
    assert len(creates(chat_sim)) == before and Generation.objects.count() == 1  # nothing bought before Run

    agent.toolcall_run(call=call, user=alice, membership=None)
    agent.toolcall_run(call=ToolCall.objects.get(pk=call.pk), user=alice, membership=None)  # a second click
    [child] = Generation.objects.exclude(pk=source.pk)
    assert child.parent == source and child.action == "upscale" and child.model_key == spec.key
    drain()
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED and len(creates(chat_sim)) == before + 1
    # Kie got our stored copy of the source file, never Kie's own result URL.
    sent = chat_sim.sim.get_task(child.kie_task_id, "market").body["input"]
    assert sent["upscale_factor"] == "2" and "/_sim/files/" in sent["image_url"]
    assert sent["image_url"] not in json.dumps([a.source_url for a in source.assets.all()])

    answer = following(reply)
    [result] = plans[-1].messages[-1]["content"]
    assert result["tool_use_id"] == call.call_id and "is_error" not in result
    assert f"gallery item {child.pk}" in result["content"][0]["text"]
    assert answer.text.startswith("Based on the tool result")


def test_view_item_lists_the_follow_ups_an_item_can_take(chat_sim, alice, plans):
    mine = made(alice)
    reply = wait_until_done(ask(alice, f"Look at item {mine.pk}"))
    following(reply)
    [result] = plans[-1].messages[-1]["content"]
    facts = json.loads(result["content"][0]["text"])
    offered = {f["action"]: f["models"] for f in facts["follow_ups"]}
    assert {"upscale", "remove_background", "edit", "animate"} <= set(offered)
    assert "veo_extend" not in offered  # a picture has no Veo task to extend
    assert offered["upscale"] == ["topaz/image-upscale", "recraft/crisp-upscale"]


def test_an_edit_with_words_carries_the_prompt_and_the_creator_can_change_the_model_and_settings(chat_sim, alice):
    source = made(alice)
    reply = wait_until_done(ask(alice, f"Edit item {source.pk}: make it night, with a full moon"))
    [call] = calls_of(reply)
    assert call.status == S.PROPOSED and call.action == "edit"
    assert call.prompt == "make it night, with a full moon"
    form = agent.toolcall_form(call=call)
    assert "variations" not in form.fields and form.media_input not in form.fields  # one take; the file is given
    assert form[get_model(call.model_key).prompt_field].value() == "make it night, with a full moon"

    upscale = wait_until_done(ask(alice, f"Upscale item {source.pk}"))
    [up] = calls_of(upscale)
    edited = agent.toolcall_edit(call=up, data={"upscale_factor": "4"})
    assert edited.edited and edited.inputs == {"upscale_factor": "4"}
    assert edited.quote == estimate_credits(get_model("topaz/image-upscale"), {"upscale_factor": "4"})
    with pytest.raises(agent.EditRefused):
        agent.toolcall_edit(call=up, data={"upscale_factor": "3"})
    agent.toolcall_run(call=edited, user=alice, membership=None)
    drain()
    [child] = Generation.objects.filter(parent=source)
    assert child.inputs["upscale_factor"] == "4" and child.status == Status.SUCCEEDED


@pytest.mark.parametrize(
    ("tool_input", "reason"),
    [
        ({"action": "dance"}, "no follow-up action “dance”"),
        ({"action": "veo_extend"}, "can't be done on gallery item"),
        ({"action": "upscale", "model": "recraft/remove-background"}, "can't upscale this item; these can"),
        ({"action": "upscale", "file": 3}, "has 1 file(s)"),
        ({"action": "upscale", "settings": {"upscale_factor": "3"}}, "upscale_factor"),
        ({"action": "upscale", "settings": {"strength": 1}}, "no setting “strength”"),
    ],
    ids=[
        "unknown-action",
        "action-not-for-this-item",
        "model-not-for-the-action",
        "no-such-file",
        "out-of-enum",
        "unknown-setting",
    ],
)
def test_a_follow_up_that_cannot_be_made_is_refused_with_the_reason(chat_sim, alice, plans, tool_input, reason):
    source = made(alice)
    before = len(creates(chat_sim))
    text = f"Go [sim:tool follow_up] [sim:tool-input {json.dumps({'item': source.pk, **tool_input})}]"
    reply = wait_until_done(ask(alice, text))
    [call] = calls_of(reply)
    assert call.status == S.REFUSED and reason in call.reason
    following(reply)
    [result] = plans[-1].messages[-1]["content"]
    assert result["is_error"] is True and reason in result["content"][0]["text"]
    assert Generation.objects.count() == 1 and len(creates(chat_sim)) == before


def test_an_item_of_another_workspace_or_in_the_trash_is_refused(chat_sim, alice, charlie, plans):
    theirs = made(charlie)
    reply = wait_until_done(ask(alice, f"Upscale item {theirs.pk}"))
    [call] = calls_of(reply)
    assert call.status == S.REFUSED and f"no gallery item {theirs.pk} in this workspace" in call.reason
    following(reply)
    assert theirs.prompt_text not in json.dumps(plans[-1].messages)

    mine = made(alice)
    again = wait_until_done(ask(alice, f"Upscale item {mine.pk}"))
    [waiting] = calls_of(again)
    assert waiting.status == S.PROPOSED
    Generation.objects.filter(pk=mine.pk).update(deleted_at=mine.created_at)  # moved to the trash before Run
    with pytest.raises(agent.ToolError, match="isn't available"):
        agent.toolcall_run(call=waiting, user=alice, membership=None)
    assert not Generation.objects.filter(parent=mine).exists()


def test_a_follow_up_respects_the_workspace_budget(chat_sim, alice):
    source = made(alice)
    workspace = workspace_of(alice)
    workspace.monthly_budget = source.credits_estimated  # spent already
    workspace.save()
    reply = wait_until_done(ask(alice, f"Upscale item {source.pk}"))
    [call] = calls_of(reply)
    with pytest.raises(agent.ToolError, match="budget"):
        agent.toolcall_run(call=call, user=alice, membership=workspace.memberships.get(user=alice))
    call.refresh_from_db()
    assert call.status == S.PROPOSED and not Generation.objects.filter(parent=source).exists()
