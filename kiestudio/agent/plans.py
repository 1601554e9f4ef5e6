"""Plans: a multi-step brief the model proposes with ``propose_plan``, approved once, run step by step.

1. ``plan_check`` reads the model's plan: each step is a catalog model with its prompt and settings, taking
   pictures, clips or sounds from earlier steps (``"from": {"image": "shot1"}``), or an assembly that joins
   earlier clips and a track into one MP4. Every step is validated and priced like the Generate page; a plan
   that names an unknown step, takes a file from a later one or feeds a model what it can't take is refused.
2. On the card the creator changes a step's model, moves steps, or leaves one out; ``plan_approve`` then buys the
   first steps whose inputs are ready. Budgets and caps are checked for the whole plan, and again per step.
3. ``plan_advance`` (on every step's end, and from the sweeper) starts each waiting step whose inputs are ready:
   its files from earlier steps become references, its generation goes through the job ledger with a token of its
   own (one create per step, whatever runs twice), and it joins the family tree of the step it was made from. A
   failed step blocks the steps that need it and the plan stops to ask: Retry, or finish without it.
4. The assembly runs in a worker (``tasks.assemble_step_task``) and is stored like any result, with every part.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from kiestudio.agent import tools
from kiestudio.agent.assemble import AssemblyError, assemble
from kiestudio.agent.models import Plan, PlanStep, ToolCall
from kiestudio.agent.reading import ToolError
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.kie.catalog.specs import URL_LIST_TYPES, ModelSpec
from kiestudio.studio.models import ASSEMBLED, Asset, Generation, GenerationEvent, Status
from kiestudio.studio.services import GenerationError, generation_create, generation_plan, reference_from_asset
from kiestudio.uploads.services import UploadRejected
from kiestudio.usage.services import BudgetExceeded, budget_check
from kiestudio.workspaces.models import Membership

MAX_STEPS = 12
STEP_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ASSEMBLE_MODEL = ASSEMBLED
PLAN_NAMESPACE = uuid.UUID("2a8e51c4-0b8f-4d35-9f0e-7c1d6a5b3e92")
St = PlanStep.Status
KINDS = ("image", "video", "audio")


def _output(step: dict[str, Any]) -> str:
    return "video" if step.get("assemble") is not None else str(step.get("output", ""))


def media_field(spec: ModelSpec, kind: str):
    """The model's input that takes a file of this kind (its first), or None."""
    return next((f for f in spec.fields if f.type in (f"{kind}_url", f"{kind}_urls")), None)


def _stand_in(step_key: str) -> str:
    return f"https://studio.local/files/plan/{step_key}/"


def step_price(spec: ModelSpec, prompt: str, values: dict[str, Any], sources: dict[str, str]):
    """A generate step's validated inputs (files from other steps as stand-ins) and its price; GenerationError."""
    raw = {name: value for name, value in values.items() if name != spec.prompt_field}
    if spec.prompt_field:
        raw[spec.prompt_field] = prompt
    for kind, key in sources.items():
        field = media_field(spec, kind)
        if field is None:
            raise GenerationError(f"{spec.name} takes no {kind}.")
        raw[field.name] = [_stand_in(key)] if field.type in URL_LIST_TYPES else _stand_in(key)
    planned = generation_plan(spec=spec, raw_inputs=raw, variations=1)
    return planned.inputs, planned.credits_total


def _detail(exc: GenerationError) -> str:
    """What the catalog's validation said, field by field, in one line."""
    return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items()) or str(exc)


# --- 1. Reading the model's plan ----------------------------------------------------------------------------------


def plan_check(tool_input: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The plan's title and its steps, checked and priced (ToolError with the first problem)."""
    title = str(tool_input.get("title") or "A plan").strip()[:200]
    raw_steps = tool_input.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ToolError("A plan needs `steps`: a list of at least one step.")
    if len(raw_steps) > MAX_STEPS:
        raise ToolError(f"A plan has at most {MAX_STEPS} steps; this one has {len(raw_steps)}.")
    steps: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for number, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            raise ToolError(f"Step {number} is not an object.")
        key = str(raw.get("id") or f"step{number}")
        if not STEP_KEY.match(key) or key in seen:
            raise ToolError(f"Step {number}: `id` must be unique letters, digits, - or _ (got “{key[:40]}”).")
        step = _check_step(number, key, raw, seen)
        seen[key] = step
        steps.append(step)
    return title, steps


def _check_step(number: int, key: str, raw: dict[str, Any], seen: dict[str, dict[str, Any]]) -> dict[str, Any]:
    title = str(raw.get("title") or "").strip()[:200]
    if raw.get("assemble") is not None:
        return _check_assembly(number, key, title, raw["assemble"], seen)
    try:
        spec = get_model(str(raw.get("model") or ""))
    except UnknownModel:
        raise ToolError(f"Step {number}: there is no studio model called “{raw.get('model')}”.") from None
    if spec.followup_only or spec not in tools.creatable_models():
        raise ToolError(f"Step {number}: “{spec.name}” can't be a plan step (it works on an earlier result only).")
    sources = raw.get("from") or {}
    if not isinstance(sources, dict) or any(k not in KINDS or not isinstance(v, str) for k, v in sources.items()):
        raise ToolError(
            f'Step {number}: `from` maps a kind of file to an earlier step\'s id, like {{"image": "shot1"}}.'
        )
    for kind, source in sources.items():
        if source not in seen:
            raise ToolError(f"Step {number} takes its {kind} from “{source}”, which is not an earlier step.")
        if _output(seen[source]) != kind:
            raise ToolError(f"Step {number} takes a {kind} from “{source}”, which makes {_output(seen[source])}.")
    values = raw.get("settings") or {}
    if not isinstance(values, dict):
        raise ToolError(f"Step {number}: `settings` must be an object of the model's inputs by name.")
    try:
        inputs, quote = step_price(spec, str(raw.get("prompt") or ""), values, sources)
    except GenerationError as exc:
        raise ToolError(f"Step {number} ({spec.name}): {_detail(exc)}") from None
    return {
        "key": key,
        "title": title or spec.name,
        "kind": PlanStep.GENERATE,
        "model_key": spec.key,
        "prompt": str(raw.get("prompt") or ""),
        "settings": values,
        "sources": dict(sources),
        "inputs": inputs,
        "quote": quote,
        "output": spec.output,
    }


def _check_assembly(number: int, key: str, title: str, spec: Any, seen: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(spec, dict) or not isinstance(spec.get("clips"), list) or not spec["clips"]:
        raise ToolError(
            f'Step {number}: `assemble` names the clips to join, like {{"clips": ["clip1"], "track": "music"}}.'
        )
    clips = [str(c) for c in spec["clips"]]
    for clip in clips:
        if clip not in seen or _output(seen[clip]) != "video":
            raise ToolError(f"Step {number} joins “{clip}”, which is not an earlier step that makes a video.")
    track = spec.get("track")
    if track is not None and (str(track) not in seen or _output(seen[str(track)]) != "audio"):
        raise ToolError(f"Step {number}'s track “{track}” is not an earlier step that makes sound.")
    sources = {"clips": clips, "track": str(track) if track is not None else None}
    return {
        "key": key,
        "title": title or "Put it together",
        "kind": PlanStep.ASSEMBLE,
        "model_key": ASSEMBLE_MODEL,
        "prompt": "",
        "settings": {},
        "sources": sources,
        "inputs": {},
        "quote": Decimal(0),
        "output": "video",
    }


def plan_create(*, call: ToolCall, title: str, steps: list[dict[str, Any]]) -> Plan:
    plan = Plan.objects.create(workspace_id=call.workspace_id, call=call, title=title)
    PlanStep.objects.bulk_create(
        PlanStep(
            workspace_id=plan.workspace_id,
            plan=plan,
            key=s["key"],
            position=position,
            title=s["title"],
            kind=s["kind"],
            model_key=s["model_key"],
            prompt=s["prompt"],
            settings=s["settings"],
            sources=s["sources"],
            inputs=s["inputs"],
            quote=s["quote"],
        )
        for position, s in enumerate(steps)
    )
    ToolCall.objects.filter(pk=call.pk).update(quote=plan_total(plan))
    return plan


def model_choices(step: PlanStep) -> list[tuple[str, str]]:
    """The models a generate step may switch to: same kind of file out, and able to take the files it is given."""
    if step.kind != PlanStep.GENERATE:
        return []
    current = get_model(step.model_key)
    return [
        (spec.key, spec.name)
        for spec in tools.creatable_models()
        if spec.output == current.output
        and spec.kind == current.kind
        and all(media_field(spec, kind) is not None for kind in step.sources)
    ]


def plan_total(plan: Plan) -> Decimal:
    steps = plan.steps.exclude(status=St.SKIPPED)
    return sum((s.quote for s in steps), Decimal(0))


# --- 2. Edits on the card, and approval ---------------------------------------------------------------------------


def _editable(step: PlanStep) -> Plan:
    plan = step.plan
    plan.refresh_from_db(fields=["status"])  # as it is now: approval may have come from another tab
    if plan.status != Plan.Status.PROPOSED:
        raise ToolError("The plan is already running; it can't be changed now.")
    return plan


def step_change_model(*, step: PlanStep, model_key: str) -> PlanStep:
    """Another model for a generate step: same prompt and files, its own settings re-checked and re-priced."""
    _editable(step)
    if step.kind != PlanStep.GENERATE:
        raise ToolError("The assembly has no model to change.")
    try:
        spec = get_model(model_key)
    except UnknownModel:
        raise ToolError(f"There is no model called “{model_key}”.") from None
    old = get_model(step.model_key)
    if spec.output != old.output or spec not in tools.creatable_models():
        raise ToolError(f"{spec.name} doesn't make the same kind of file as {old.name}.")
    values = {name: value for name, value in step.settings.items() if name in spec.field_names}
    try:
        inputs, quote = step_price(spec, step.prompt, values, step.sources)
    except GenerationError as exc:
        raise ToolError(f"{spec.name} can't take this step: {_detail(exc)}") from None
    with transaction.atomic():  # the step and the plan's total change together
        PlanStep.objects.filter(pk=step.pk).update(model_key=spec.key, settings=values, inputs=inputs, quote=quote)
        step.refresh_from_db()
        _requote(step.plan)
    return step


MAX_STEP_PROMPT = 5000


def step_change_prompt(*, step: PlanStep, prompt: str) -> PlanStep:
    """The creator's own words for a generate step, re-checked and re-priced (a prompt may change the price)."""
    _editable(step)
    if step.kind != PlanStep.GENERATE:
        raise ToolError("The assembly has no prompt.")
    prompt = prompt.strip()
    spec = get_model(step.model_key)
    if not spec.prompt_field:
        raise ToolError(f"{spec.name} takes no prompt.")
    if len(prompt) > MAX_STEP_PROMPT:
        raise ToolError(f"Keep a step's prompt under {MAX_STEP_PROMPT:,} characters (this one has {len(prompt):,}).")
    try:
        inputs, quote = step_price(spec, prompt, step.settings, step.sources)
    except GenerationError as exc:
        raise ToolError(f"Step “{step.title}”: {_detail(exc)}") from None
    with transaction.atomic():
        PlanStep.objects.filter(pk=step.pk).update(prompt=prompt, inputs=inputs, quote=quote)
        step.refresh_from_db()
        _requote(step.plan)
    return step


def step_move(*, step: PlanStep, up: bool) -> None:
    """Swap a step with its neighbour, unless that puts a step before one it takes files from."""
    plan = _editable(step)
    steps = list(plan.steps.order_by("position", "pk"))
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    other_index = index - 1 if up else index + 1
    if not 0 <= other_index < len(steps):
        return
    first, second = sorted((steps[index], steps[other_index]), key=lambda s: s.position)
    if first.key in second.needs:
        raise ToolError(f"“{second.title}” uses what “{first.title}” makes, so it has to come after it.")
    steps[index], steps[other_index] = steps[other_index], steps[index]
    for position, s in enumerate(steps):
        PlanStep.objects.filter(pk=s.pk).update(position=position)


def step_leave_out(*, step: PlanStep, keep: bool = False) -> None:
    """Leave a step out of the plan (or put it back), unless a remaining step needs what it makes."""
    plan = _editable(step)
    if not keep:
        users = [s for s in plan.steps.exclude(status=St.SKIPPED) if step.key in s.needs]
        if users:
            raise ToolError(f"“{users[0].title}” needs what this step makes: leave that out first.")
    with transaction.atomic():
        PlanStep.objects.filter(pk=step.pk).update(status=St.WAITING if keep else St.SKIPPED)
        _requote(plan)


def _requote(plan: Plan) -> None:
    ToolCall.objects.filter(pk=plan.call_id).update(quote=plan_total(plan))


def plan_approve(*, plan: Plan, user, membership: Membership | None) -> Plan:
    """Approve once: the whole plan's price against the budget, cap and the turn's ceiling, then the first steps."""
    from kiestudio.agent.services import turn_spent  # the turn's bookkeeping lives with the calls

    with transaction.atomic():
        if not Plan.objects.select_for_update().filter(pk=plan.pk, status=Plan.Status.PROPOSED).exists():
            plan.refresh_from_db()
            return plan
        total = plan_total(plan)
        ceiling = Decimal(str(settings.AGENT_TURN_CEILING_CREDITS))
        spent = turn_spent(plan.call.message)
        if spent + total > ceiling:
            raise ToolError(f"This plan costs {total:f} credits; one turn may spend {ceiling:f} ({spent:f} so far).")
        if membership is not None:
            try:
                budget_check(workspace=plan.call.message.conversation.workspace, membership=membership, cost=total)
            except BudgetExceeded as exc:
                raise ToolError(str(exc)) from exc
        now = timezone.now()
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.RUNNING, approved_by=user, approved_at=now)
        ToolCall.objects.filter(pk=plan.call_id).update(
            status=ToolCall.Status.RUNNING, decided_by=user, decided_at=now, quote=total
        )
    plan_advance(plan_id=plan.pk)
    plan.refresh_from_db()
    return plan


# --- 3. Running -------------------------------------------------------------------------------------------------


def plan_advance(*, plan_id: int) -> None:
    """Start every waiting step whose inputs are ready; block those whose inputs failed; settle the plan when no
    step can move. Safe to call any number of times, from any process."""
    from kiestudio.agent.services import plan_settled  # the call's result and the model's next turn

    settle = False
    with transaction.atomic():
        plan = Plan.objects.select_for_update().filter(pk=plan_id).select_related("call__message__conversation").first()
        if plan is None or plan.status != Plan.Status.RUNNING:
            return
        steps = list(plan.steps.select_related("generation").order_by("position", "pk"))
        by_key = {s.key: s for s in steps}
        moved = True
        while moved:  # a block can unblock nothing but may block more
            moved = False
            for step in steps:
                if step.status != St.WAITING:
                    continue
                needs = [by_key[k] for k in step.needs if k in by_key]
                if any(n.status in (St.FAILED, St.BLOCKED, St.SKIPPED) for n in needs):
                    step.status, step.error = St.BLOCKED, "A step it needs did not finish."
                    PlanStep.objects.filter(pk=step.pk).update(status=step.status, error=step.error)
                    moved = True
                elif all(n.status == St.DONE for n in needs):
                    _launch(plan, step, by_key)
        live = [s for s in steps if s.status in (St.WAITING, St.RUNNING)]
        if not live:
            failed = any(s.status in (St.FAILED, St.BLOCKED) for s in steps)
            status = Plan.Status.STOPPED if failed else Plan.Status.DONE
            Plan.objects.filter(pk=plan.pk).update(status=status, finished_at=None if failed else timezone.now())
            settle = not failed
    if settle:
        plan_settled(plan_id=plan_id)


def _launch(plan: Plan, step: PlanStep, by_key: dict[str, PlanStep]) -> None:
    step.status = St.RUNNING
    step.attempts += 1
    if step.kind == PlanStep.ASSEMBLE:
        PlanStep.objects.filter(pk=step.pk).update(
            status=St.RUNNING, attempts=step.attempts, error="", started_at=timezone.now()
        )
        transaction.on_commit(lambda: _enqueue_assembly(step.pk))
        return
    conversation = plan.call.message.conversation
    user = plan.approved_by or conversation.owner
    membership = Membership.objects.filter(workspace_id=plan.workspace_id, user=user).first()
    spec = get_model(step.model_key)
    inputs = dict(step.inputs)
    references: dict[str, list[int]] = {}
    parent = None
    try:
        for kind, key in step.sources.items():
            made = by_key[key].generation
            asset = next((a for a in made.assets.all() if a.kind == kind), None) if made else None
            if asset is None:
                raise ToolError(f"“{by_key[key].title}” made no {kind}.")
            reference = reference_from_asset(asset=asset, user=user, kind=kind)
            field = media_field(spec, kind)
            assert field is not None  # checked when the plan was read
            inputs[field.name] = [reference.placeholder] if field.type in URL_LIST_TYPES else reference.placeholder
            references[field.name] = [reference.pk]
            parent = parent or made
        planned = generation_plan(spec=spec, raw_inputs=inputs, variations=1)
        with transaction.atomic():
            [generation] = generation_create(
                workspace=conversation.workspace,
                user=user,
                plan=planned,
                form_token=uuid.uuid5(PLAN_NAMESPACE, f"{step.pk}:{step.attempts}"),
                references=references,
                membership=membership,
                parent=parent,
            )
    except (ToolError, GenerationError, BudgetExceeded, UploadRejected) as exc:
        step.status, step.error = St.FAILED, str(exc)
        PlanStep.objects.filter(pk=step.pk).update(status=St.FAILED, attempts=step.attempts, error=step.error)
        return
    step.generation = generation
    PlanStep.objects.filter(pk=step.pk).update(
        status=St.RUNNING, attempts=step.attempts, generation=generation, error="", started_at=timezone.now()
    )


def _enqueue_assembly(step_id: int) -> None:
    from django_q.tasks import async_task

    async_task("kiestudio.agent.tasks.assemble_step_task", step_id, group="agent")


def step_generation_ended(*, generation: Generation) -> None:
    """A step's generation ended: the step is done or failed, and the plan moves on."""
    for step in PlanStep.objects.filter(generation=generation, status=St.RUNNING):
        if generation.status == Status.SUCCEEDED:
            PlanStep.objects.filter(pk=step.pk, status=St.RUNNING).update(status=St.DONE)
        else:
            reason = generation.failure_message or f"The generation ended {generation.get_status_display().lower()}."
            PlanStep.objects.filter(pk=step.pk, status=St.RUNNING).update(status=St.FAILED, error=reason)
        plan_advance(plan_id=step.plan_id)


def step_retry(*, step: PlanStep) -> None:
    """Run a failed step again (a new generation; the failed one stays in the gallery), and what it blocked."""
    plan = step.plan
    if step.status != St.FAILED or plan.status not in (Plan.Status.STOPPED, Plan.Status.RUNNING):
        return
    with transaction.atomic():
        PlanStep.objects.filter(plan=plan, status=St.BLOCKED).update(status=St.WAITING, error="")
        PlanStep.objects.filter(pk=step.pk).update(status=St.WAITING, error="", generation=None)
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.RUNNING)
    plan_advance(plan_id=plan.pk)


def plan_finish_without(*, plan: Plan) -> None:
    """The creator gives up on the failed steps: the plan ends with what it made, and the model hears which."""
    from kiestudio.agent.services import plan_settled

    if plan.status != Plan.Status.STOPPED:
        return
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.DONE, finished_at=timezone.now())
    plan_settled(plan_id=plan.pk)


# --- 4. The assembly ---------------------------------------------------------------------------------------------


def assemble_step(*, step_id: int) -> None:
    """Join the step's clips and track into one stored MP4 (a worker's task; safe to run twice)."""
    step = PlanStep.objects.select_related("plan__call__message__conversation").filter(pk=step_id).first()
    if step is None or step.status != St.RUNNING or step.generation_id:
        return
    plan = step.plan
    by_key = {s.key: s for s in plan.steps.select_related("generation")}
    clips = [g for k in step.sources.get("clips", []) if (g := by_key[k].generation) is not None]
    track_step = by_key.get(step.sources.get("track") or "")
    track = track_step.generation if track_step else None
    parts = [g for g in (*clips, track) if g is not None]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            clip_paths = [_local_copy(g, "video", folder / f"clip{i}") for i, g in enumerate(clips)]
            track_path = _local_copy(track, "audio", folder / "track") if track else None
            out = folder / "assembled.mp4"
            made = assemble(clip_paths, out, track=track_path)
            generation = _store_assembly(step, plan, parts, out, made)
    except (AssemblyError, OSError, ValueError) as exc:
        PlanStep.objects.filter(pk=step.pk, status=St.RUNNING).update(status=St.FAILED, error=str(exc))
        plan_advance(plan_id=plan.pk)
        return
    PlanStep.objects.filter(pk=step.pk).update(status=St.DONE, generation=generation)
    plan_advance(plan_id=plan.pk)


def _local_copy(generation: Generation, kind: str, path: Path) -> Path:
    asset = next((a for a in generation.assets.all() if a.kind == kind), None)
    if asset is None:
        raise ValueError(f"Gallery item {generation.pk} has no {kind}.")
    with asset.file.open("rb") as source, path.open("wb") as target:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            target.write(chunk)
    return path


def _store_assembly(step: PlanStep, plan: Plan, parts: list[Generation], out: Path, made) -> Generation:
    """The assembled file as a gallery item: done at once, made by the studio (no Kie task), with every part of the
    plan as its parts and the first clip as its parent in the family tree."""
    conversation = plan.call.message.conversation
    user = plan.approved_by or conversation.owner
    everything = [s.generation for s in plan.steps.select_related("generation") if s.generation and s.pk != step.pk]
    first = parts[0]
    now = timezone.now()
    key = uuid.uuid5(PLAN_NAMESPACE, f"assembly:{step.pk}:{step.attempts}")
    if (done := Generation.objects.filter(workspace_id=plan.workspace_id, request_key=key).first()) is not None:
        return done  # a second run of the same attempt (the sweeper, a retried task): the first one's file stands
    with transaction.atomic():
        generation = Generation.objects.create(
            workspace_id=plan.workspace_id,
            created_by=user,
            request_key=key,
            model_key=ASSEMBLE_MODEL,
            family="studio",
            kind="assembly",
            output="video",
            inputs={
                "clips": [g.pk for g in parts if g.output == "video"],
                "track": next((g.pk for g in parts if g.output == "audio"), None),
            },
            prompt_text=plan.title,
            variation=1,
            parent=first,
            lineage=first.descendant_prefix,
            status=Status.SUCCEEDED,
            credits_estimated=Decimal(0),
            completed_at=now,
            created_at=now,
        )
        GenerationEvent.objects.create(
            generation=generation, to_status=Status.SUCCEEDED, note="Assembled in the studio"
        )
        asset = Asset(
            workspace_id=plan.workspace_id,
            generation=generation,
            index=0,
            kind=Asset.Kind.VIDEO,
            mime_type="video/mp4",
            size=out.stat().st_size,
            width=made.width,
            height=made.height,
            duration=made.seconds,
            source_url="",
        )
        with out.open("rb") as handle:
            asset.file.save("assembled.mp4", File(handle), save=False)
        asset.save()
        generation.parts.add(*everything)
    return generation
