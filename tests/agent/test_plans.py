"""Plans against the simulator over real HTTP: a teaser brief becomes ten priced steps; the creator edits, approves
once, and the steps run as their inputs become ready, ending in one assembled MP4 with every part in its tree."""

from __future__ import annotations

from decimal import Decimal

import av
import pytest

from kiestudio.agent import plans
from kiestudio.agent.models import Plan, PlanStep, ToolCall
from kiestudio.agent.reading import ToolError
from kiestudio.chat.models import Message
from kiestudio.studio.models import Generation, Status
from tests.agent.test_tool_calls import ask, calls_of, following
from tests.chat.helpers import wait_until_done
from tests.studio.helpers import drain

pytestmark = pytest.mark.django_db(transaction=True)

BRIEF = "A 20-second teaser of a lighthouse at dusk: four shots, then animate them, with music"


def proposed_plan(user) -> Plan:
    reply = wait_until_done(ask(user, BRIEF))
    [call] = calls_of(reply)
    assert call.name == "propose_plan" and call.status == ToolCall.Status.PROPOSED, call.reason
    return Plan.objects.get(call=call)


def test_a_teaser_plan_is_edited_approved_once_and_assembled(chat_sim, alice):
    plan = proposed_plan(alice)
    steps = {s.key: s for s in plan.steps.all()}
    assert list(steps) == [*(f"shot{n}" for n in range(1, 5)), *(f"clip{n}" for n in range(1, 5)), "music", "final"]
    assert plan.call.quote == sum(s.quote for s in steps.values()) > 0
    assert not Generation.objects.exists()  # nothing before approval

    # Edits: another model for one clip (re-priced), a refused move and leave-out, a step left out and put back.
    other = next(key for key, _ in plans.model_choices(steps["clip1"]) if key != steps["clip1"].model_key)
    plans.step_change_model(step=steps["clip1"], model_key=other)
    with pytest.raises(ToolError, match="uses what"):
        plans.step_move(step=steps["final"], up=True)  # above the music it uses
    plans.step_move(step=steps["shot4"], up=False)  # clip1 is next, and needs no shot4
    assert PlanStep.objects.get(pk=steps["shot4"].pk).position == 4
    with pytest.raises(ToolError, match="needs what this step makes"):
        plans.step_leave_out(step=steps["shot2"])
    plans.step_leave_out(step=steps["final"])
    plans.step_leave_out(step=steps["final"], keep=True)
    plan.refresh_from_db()
    quote = plan.call.quote
    clip1 = PlanStep.objects.get(pk=steps["clip1"].pk)
    assert clip1.model_key == other and quote == plans.plan_total(plan)

    plans.plan_approve(plan=plan, user=alice, membership=None)
    plans.plan_approve(plan=plan, user=alice, membership=None)  # a second approval buys nothing
    drain(timeout=60)
    plan.refresh_from_db()
    assert plan.status == Plan.Status.DONE, [(s.key, s.status, s.error) for s in plan.steps.all()]
    final = PlanStep.objects.get(plan=plan, key="final").generation
    assert final.status == Status.SUCCEEDED and final.model_key == plans.ASSEMBLE_MODEL
    assert final.parts.count() == 9
    assert {g.pk for g in final.parts.all()} == {s.generation_id for s in plan.steps.exclude(key="final")}
    [asset] = final.assets.all()
    with asset.file.open("rb") as handle, av.open(handle) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert container.duration / 1e6 == pytest.approx(asset.duration, abs=0.2)
    # Each clip was made from its shot (lineage), and the simulator saw exactly one create per model step.
    clip = PlanStep.objects.get(plan=plan, key="clip3").generation
    assert clip.parent_id == PlanStep.objects.get(plan=plan, key="shot3").generation_id
    assert len([e for e in chat_sim.sim.log.entries if e.kind == "create"]) == 9
    charged = sum((g.credits_charged or Decimal(0)) for g in Generation.objects.exclude(pk=final.pk))
    assert abs(charged - quote) <= quote * Decimal("0.1"), (charged, quote)
    # The plan's result went back to the model, which carries on.
    answer = following(plan.call.message)
    assert answer.status == Message.Status.COMPLETE
    call = ToolCall.objects.get(pk=plan.call_id)
    assert call.status == ToolCall.Status.DONE and f"gallery item {final.pk}" in call.result[0]["text"]


def test_a_failed_step_blocks_what_needs_it_and_the_plan_asks(chat_sim, alice):
    plan = proposed_plan(alice)
    shot2 = PlanStep.objects.get(plan=plan, key="shot2")
    failing = shot2.prompt + " [sim:fail 500 Model overloaded]"  # the simulator fails this task
    PlanStep.objects.filter(pk=shot2.pk).update(prompt=failing, inputs={**shot2.inputs, "prompt": failing})
    plans.plan_approve(plan=plan, user=alice, membership=None)
    drain(timeout=60)
    plan.refresh_from_db()
    assert plan.status == Plan.Status.STOPPED
    by_key = {s.key: s for s in plan.steps.all()}
    assert by_key["shot2"].status == PlanStep.Status.FAILED and "overloaded" in by_key["shot2"].error.lower()
    assert by_key["clip2"].status == PlanStep.Status.BLOCKED and by_key["final"].status == PlanStep.Status.BLOCKED
    assert by_key["clip1"].status == PlanStep.Status.DONE and by_key["music"].status == PlanStep.Status.DONE
    assert ToolCall.objects.get(pk=plan.call_id).status == ToolCall.Status.RUNNING  # waits for the creator
    plans.plan_finish_without(plan=plan)
    answer = following(plan.call.message)
    assert answer.status == Message.Status.COMPLETE
    text = ToolCall.objects.get(pk=plan.call_id).result[0]["text"]
    assert "shot2 (Shot 2): failed" in text and "clip2 (Animate shot 2): blocked" in text


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([{"id": "a", "model": "google/nano-banana", "prompt": "x", "from": {"image": "b"}}], "not an earlier step"),
        (
            [{"id": "a", "model": "google/nano-banana", "prompt": "x"}, {"id": "b", "assemble": {"clips": ["a"]}}],
            "makes a video",
        ),
        (
            [{"id": "a", "model": "google/nano-banana", "prompt": "x"}, {"id": "a", "model": "google/nano-banana"}],
            "unique",
        ),
        ([{"id": f"s{n}", "model": "google/nano-banana", "prompt": "x"} for n in range(13)], "at most 12"),
    ],
    ids=["later-step", "assemble-an-image", "duplicate-id", "too-many"],
)
def test_a_plan_that_cannot_run_is_refused_with_the_reason(steps, reason):
    with pytest.raises(ToolError, match=reason):
        plans.plan_check({"title": "Bad", "steps": steps})


def test_the_sweeper_picks_up_what_a_lost_nudge_left(chat_sim, alice, monkeypatch):
    """A worker killed between a generation's end and the signal, or during an assembly: the minute sweeper settles
    the step from the database, assembles what never was, and the plan ends with one create per step."""
    from datetime import timedelta

    from django.utils import timezone

    from kiestudio.agent import tasks
    from kiestudio.studio.signals import generation_ended

    plan = proposed_plan(alice)
    # No signal reaches the agent (as if every worker died right after its commit), and no assembly task runs.
    monkeypatch.setattr(generation_ended, "send_robust", lambda **kwargs: [])
    monkeypatch.setattr(plans, "_enqueue_assembly", lambda step_id: None)
    plans.plan_approve(plan=plan, user=alice, membership=None)
    for _ in range(4):  # each round: the finished layer is settled and the next one launched
        drain(timeout=60)
        PlanStep.objects.filter(kind=PlanStep.ASSEMBLE).update(started_at=timezone.now() - timedelta(minutes=10))
        tasks.agent_sweep_task()
    plan.refresh_from_db()
    assert plan.status == Plan.Status.DONE, [(s.key, s.status) for s in plan.steps.all()]
    assert PlanStep.objects.get(plan=plan, key="final").generation.parts.count() == 9
    assert len([e for e in chat_sim.sim.log.entries if e.kind == "create"]) == 9
    tasks.agent_sweep_task()  # nothing left to do: nothing bought again
    assert len([e for e in chat_sim.sim.log.entries if e.kind == "create"]) == 9
    # The plan ended and the model carries on by itself: let that reply finish before the test's database goes
    # (on PostgreSQL its writes and the teardown's flush deadlocked).
    assert following(plan.call.message).status == Message.Status.COMPLETE


def test_a_steps_prompt_is_the_creators_to_change_before_approval(chat_sim, alice):
    plan = proposed_plan(alice)
    shot = plan.steps.get(key="shot1")
    plans.step_change_prompt(step=shot, prompt="  the lighthouse from the sea, storm clouds  ")
    shot.refresh_from_db()
    assert shot.prompt == "the lighthouse from the sea, storm clouds" and shot.inputs["prompt"] == shot.prompt
    with pytest.raises(ToolError, match="prompt"):
        plans.step_change_prompt(step=shot, prompt="")  # the model needs one
    with pytest.raises(ToolError, match="under 5,000 characters"):
        plans.step_change_prompt(step=shot, prompt="x" * 5001)
    with pytest.raises(ToolError, match="no prompt"):
        plans.step_change_prompt(step=plan.steps.get(key="final"), prompt="louder")
    plan.refresh_from_db()
    assert plan.call.quote == plans.plan_total(plan)

    plans.plan_approve(plan=plan, user=alice, membership=None)
    with pytest.raises(ToolError):
        plans.step_change_prompt(step=shot, prompt="too late")
    drain(timeout=60)
    shot.refresh_from_db()
    assert shot.generation.prompt_text == "the lighthouse from the sea, storm clouds"
    # The plan ends and the model carries on by itself: let that reply finish before the test's database goes.
    answer = following(plan.call.message)
    assert answer.status == Message.Status.COMPLETE
