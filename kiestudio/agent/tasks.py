"""The agent's background work: a plan's assembly, and the sweeper that re-drives what a lost nudge left behind."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from kiestudio.agent import plans, services
from kiestudio.agent.models import Plan, PlanStep, ToolCall
from kiestudio.studio.models import PENDING, TERMINAL

ASSEMBLY_STALE = timedelta(minutes=5)  # an assembly takes seconds; one this old lost its worker


def assemble_step_task(step_id: int) -> None:
    plans.assemble_step(step_id=step_id)


def agent_sweep_task() -> dict[str, int]:
    """Every minute: settle calls and steps whose generations ended while no signal reached us (a worker killed
    between its commit and the nudge), re-queue assemblies that never ran, and move running plans on."""
    settled = 0
    for call in ToolCall.objects.filter(status=ToolCall.Status.RUNNING, plan__isnull=True).exclude(
        generations__status__in=PENDING
    ):
        settled += services.toolcall_settle(call=call)
    stuck = PlanStep.objects.filter(status=PlanStep.Status.RUNNING).filter(
        Q(kind=PlanStep.GENERATE, generation__status__in=TERMINAL)
        | Q(kind=PlanStep.ASSEMBLE, generation__isnull=True, started_at__lt=timezone.now() - ASSEMBLY_STALE)
    )
    for step in stuck.select_related("generation"):
        if step.kind == PlanStep.ASSEMBLE:
            plans.assemble_step(step_id=step.pk)
        elif step.generation is not None:
            plans.step_generation_ended(generation=step.generation)
    for plan_id in Plan.objects.filter(status=Plan.Status.RUNNING).values_list("pk", flat=True):
        plans.plan_advance(plan_id=plan_id)
    return {"settled": settled, "steps": len(stuck)}
