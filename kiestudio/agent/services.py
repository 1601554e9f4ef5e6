"""What a tool call does: checked, carded, run with consent, and its result carried back to the model.

1. A reply that called tools is saved; ``toolcalls_open`` (through ``chat.toolbox``) records each call. A call that
   only reads runs at once; a ``generate`` call is checked against the catalog and the workspace (model, settings,
   gallery ids, price) and waits as a card for Run or Skip; a call that can't be made is refused with the reason.
2. Run (``toolcall_run``) buys the generations through the same service, budget and caps as the Generate page,
   once per call. Skip (``toolcall_skip``) records that the creator said no.
3. When a generation ends (``on_generation_ended``), its call takes its result: the files as gallery ids, and the
   pictures as images the model can see.
4. Once every call of a reply has its result, ``chat.services.conversation_continue`` sends them back and the
   model's next reply starts, whether or not a browser is open. A turn stops after ``MAX_ROUNDS`` tool rounds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import timezone

from kiestudio.agent import plans, reading, tools
from kiestudio.agent.models import AUTORUN_CHOICES, AutoRun, Plan, ToolCall
from kiestudio.agent.reading import ToolError
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.services import ChatError, conversation_continue
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.kie.catalog.actions import Action, get_action
from kiestudio.kie.catalog.specs import URL_LIST_TYPES, URL_TYPES
from kiestudio.studio.forms import FollowupForm, GenerateForm
from kiestudio.studio.models import TERMINAL, Asset, Generation, Status
from kiestudio.studio.services import (
    GenerationError,
    followup_choices,
    followup_create,
    followup_parent,
    followup_plan,
    generation_create,
    reference_from_asset,
)
from kiestudio.uploads.services import UploadRejected
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.models import Membership

log = logging.getLogger("kiestudio.agent")
S = ToolCall.Status
MAX_ROUNDS = 6  # tool rounds in one turn (since the creator last wrote) before the studio stops the model
MAX_SAME_FAILURES = 2  # the same call refused or failed this often in a conversation is not tried again
MEDIA = URL_TYPES | URL_LIST_TYPES
RUN_NAMESPACE = uuid.UUID("9d1f6e0a-58b4-4c1e-a7a3-2b0c6f3e8d41")


# --- The provider chat calls ------------------------------------------------------------------------------------


class StudioToolbox:
    def definitions(self, conversation: Conversation) -> list[dict[str, Any]]:
        return list(tools.definitions())

    def reply_ended(self, message_id: int) -> None:
        toolcalls_open(message_id=message_id)

    def cards(self, message: Message, request, live: bool) -> str:
        return render_to_string("agent/cards.html", cards_context(message, live=live), request=request)


def cards_context(message: Message, *, live: bool) -> dict[str, Any]:
    """A reply's calls for its cards; ``following``, the reply that answers their results once there is one."""
    calls = list(
        ToolCall.objects.filter(message=message)
        .select_related("source__generation")
        .prefetch_related("generations__assets", "source__generation__assets")
    )
    polling = False
    for call in calls:
        plan = Plan.objects.filter(call=call).first() if call.name == tools.PLAN else None
        call.plan_shown = plan  # type: ignore[attr-defined]  # for the card (None: refused before it was a plan)
        if plan is not None:
            steps = list(plan.steps.select_related("generation").prefetch_related("generation__assets"))
            for step in steps:
                step.choices = plans.model_choices(step) if plan.status == Plan.Status.PROPOSED else []  # type: ignore[attr-defined]
            call.steps_shown = steps  # type: ignore[attr-defined]
        # Polled only while generations run (a stopped plan waits for the creator).
        polling = polling or (call.status == S.RUNNING and not (plan and plan.status == Plan.Status.STOPPED))
    following = None
    if calls and not any(c.is_open for c in calls):
        results = Message.objects.filter(parent=message, created_by__isnull=True, role=Message.Role.USER).first()
        following = Message.objects.filter(parent=results).order_by("-pk").first() if results else None
    return {
        "calls": calls,
        "message": message,
        "live": live,
        "following": following,
        "pending": polling,
        "autorun": autorun_limit(workspace_id=message.workspace_id, user=message.conversation.owner),
        "autorun_choices": AUTORUN_CHOICES,
        # The auto-run limit is offered beside a generate call that asks.
        "asks": any(c.status == S.PROPOSED and c.name in (tools.GENERATE, tools.FOLLOW_UP) for c in calls),
    }


# --- 1. Opening the calls of a reply ------------------------------------------------------------------------------


def _turn(reply: Message) -> list[Message]:
    """The replies of this turn, newest first: ``reply`` and those before it back to the creator's last message
    (each round is a reply, then the studio's turn with its tool results)."""
    replies, message = [reply], reply.parent
    while message is not None and message.is_tool_results and message.parent is not None:
        replies.append(message.parent)
        message = message.parent.parent
    return replies


def _rounds(reply: Message) -> int:
    """Tool rounds in this turn so far (results sent back since the creator last wrote)."""
    return len(_turn(reply)) - 1


def turn_spent(reply: Message) -> Decimal:
    """What this turn's calls have bought (quotes of calls that ran)."""
    ran = ToolCall.objects.filter(message__in=_turn(reply), status__in=(S.RUNNING, S.DONE, S.FAILED))
    return sum((q or Decimal(0) for q in ran.values_list("quote", flat=True)), Decimal(0))


def _signature(name: str, tool_input: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([name, tool_input], sort_keys=True, default=str).encode()).hexdigest()


def toolcalls_open(*, message_id: int) -> list[ToolCall]:
    """Record the calls of a reply just saved; run those that only read; refuse those that can't be made. Safe to
    call twice (the calls are unique per reply)."""
    reply = Message.objects.select_related("conversation__workspace", "parent").get(pk=message_id)
    if ToolCall.objects.filter(message=reply).exists():
        return list(ToolCall.objects.filter(message=reply))
    over = _rounds(reply) >= MAX_ROUNDS
    calls = []
    for position, use in enumerate(reply.tool_uses):
        call = ToolCall(
            workspace_id=reply.workspace_id,
            message=reply,
            call_id=str(use.get("id"))[:100],
            position=position,
            name=str(use.get("name"))[:60],
            input=use.get("input") if isinstance(use.get("input"), dict) else {},
        )
        try:
            if over:
                raise ToolError(f"Stopped: this turn already had {MAX_ROUNDS} rounds of tool calls.")
            _open(call, reply.conversation)
        except ToolError as exc:
            call.status, call.reason = S.REFUSED, str(exc)
            call.result = [{"type": "text", "text": f"Refused: {exc}"}]
            call.finished_at = timezone.now()
        try:
            with transaction.atomic():
                call.save()
                if call.status == S.PROPOSED and call.name == tools.PLAN:
                    title, steps = call.checked_plan  # type: ignore[attr-defined]
                    plans.plan_create(call=call, title=title, steps=steps)
        except IntegrityError:  # the model repeated an id: keep the first
            continue
        calls.append(call)
    if over:
        return calls  # no further round: the thread shows why, and the model is not asked again
    _autorun(reply, calls)
    _continue_if_settled(reply)
    return calls


def _autorun(reply: Message, calls: list[ToolCall]) -> None:
    """Run the proposed calls the owner's auto-run limit covers (budgets, caps and the turn ceiling still apply;
    a call they refuse waits as a card)."""
    conversation = reply.conversation
    rule = AutoRun.objects.filter(workspace_id=conversation.workspace_id, user_id=conversation.owner_id).first()
    if rule is None:
        return
    membership = Membership.objects.filter(
        workspace_id=conversation.workspace_id, user_id=conversation.owner_id
    ).first()
    for call in calls:
        if call.status == S.PROPOSED and call.quote is not None and call.quote <= rule.limit and membership:
            try:
                toolcall_run(call=call, user=conversation.owner, membership=membership, auto=True)
            except ToolError as exc:
                log.info("tool call %s not auto-run: %s", call.pk, exc)


def _open(call: ToolCall, conversation: Conversation) -> None:
    """Check one call and, for a call that only reads, run it now."""
    if "_unreadable" in call.input:
        raise ToolError("The call's input was not valid JSON.")
    earlier = ToolCall.objects.filter(
        message__conversation=conversation, name=call.name, status__in=(S.REFUSED, S.FAILED)
    ).values_list("input", flat=True)
    mine = _signature(call.name, call.input)
    if sum(_signature(call.name, other) == mine for other in earlier) >= MAX_SAME_FAILURES:
        raise ToolError("This exact call has already failed twice in this conversation; it is not tried again.")
    match call.name:
        case tools.GENERATE:
            _propose(call, conversation)
        case tools.FOLLOW_UP:
            _propose_followup(call, conversation)
        case tools.PLAN:
            call.checked_plan = plans.plan_check(call.input)  # type: ignore[attr-defined]  # saved with the call
        case tools.DESCRIBE:
            _finish(call, [reading.text_block(tools.model_description(_any_model(call.input.get("model"))))])
        case tools.SEARCH:
            _finish(call, [reading.text_block(reading.search(call, conversation))])
        case tools.VIEW:
            _finish(call, reading.view(call, conversation))
        case _:
            raise ToolError(f"There is no tool called “{call.name}”.")


def _finish(call: ToolCall, result: list[dict[str, Any]], status: str = S.DONE) -> None:
    call.status, call.result, call.finished_at = status, result, timezone.now()


def _any_model(key: Any):
    try:
        return get_model(str(key or ""))
    except UnknownModel:
        raise ToolError(f"There is no studio model called “{key}”. Use one of the keys listed in the tool.") from None


def _model(key: Any):
    spec = _any_model(key)
    if spec.followup_only or spec not in tools.creatable_models():
        raise ToolError(f"“{spec.name}” works on an earlier result only; it can't be started from a prompt.")
    return spec


def _settings(call: ToolCall) -> dict[str, Any]:
    values = call.input.get("settings") or {}
    if not isinstance(values, dict):
        raise ToolError("`settings` must be an object of the model's inputs by name.")
    return values


def _form_data(
    spec,
    conversation: Conversation,
    *,
    prompt: Any,
    values: dict[str, Any],
    base: dict[str, Any] | None = None,
    given: str | None = None,
) -> QueryDict:
    """A call's prompt and settings as the model's form would receive them from a browser: ``base`` (a follow-up's
    prefill) under the model's own ``values``; gallery ids become this workspace's references. ``given`` is the
    input the studio fills in itself (a follow-up's source file)."""
    data = QueryDict(mutable=True)
    base = base or {}
    if spec.prompt_field:
        data[spec.prompt_field] = str(prompt or values.get(spec.prompt_field) or base.get(spec.prompt_field) or "")
    for name, value in {**base, **values}.items():
        if name in (spec.prompt_field, given):
            continue
        field = next((f for f in spec.fields if f.name == name), None)
        if field is None:
            if name in values:
                raise ToolError(f"{spec.name} has no setting “{name}”. describe_model lists its settings.")
            continue
        if field.type in MEDIA:
            data.setlist(name, [str(r) for r in _media_references(conversation, field, value)])
        elif isinstance(value, bool):
            data[name] = "true" if value else ""
        elif isinstance(value, dict | list) and field.type == "json":
            data[name] = json.dumps(value)
        elif isinstance(value, list):
            data.setlist(name, [str(v) for v in value])
        else:
            data[name] = str(value)
    for field in spec.fields:  # what a browser sends for a field left alone: its default
        if field.name not in data and field.name != given and field.default is not None and field.type not in MEDIA:
            if isinstance(field.default, bool):
                data[field.name] = "true" if field.default else ""
            elif isinstance(field.default, list):
                data.setlist(field.name, [str(v) for v in field.default])
            else:
                data[field.name] = json.dumps(field.default) if field.type == "json" else str(field.default)
    data["form_token"] = str(uuid.uuid4())
    return data


def _form_problems(form: GenerateForm) -> ToolError:
    problems = [
        f"{name}: {' '.join(str(e) for e in errors)}" if name != "__all__" else " ".join(str(e) for e in errors)
        for name, errors in form.errors.items()
    ]
    return ToolError("The settings don't fit the model. " + "; ".join(problems))


def _propose(call: ToolCall, conversation: Conversation) -> None:
    """A generate call becomes a priced card: validated exactly as the Generate page's form would be."""
    spec = _model(call.input.get("model"))
    values = _settings(call)
    try:
        takes = int(call.input.get("takes") or 1)
    except (TypeError, ValueError):
        raise ToolError("`takes` must be a whole number from 1 to 4.") from None
    if not 1 <= takes <= tools.MAX_TAKES:
        raise ToolError(f"`takes` must be from 1 to {tools.MAX_TAKES}.")
    data = _form_data(spec, conversation, prompt=call.input.get("prompt"), values=values)
    data["variations"] = str(takes)
    form = GenerateForm(spec, data, workspace=conversation.workspace)
    if not form.is_valid() or form.plan is None:
        raise _form_problems(form)
    call.model_key = spec.key
    call.inputs = form.plan.inputs
    call.references = form.references
    call.takes = takes
    call.quote = form.plan.credits_total


def _followup_source(call: ToolCall, conversation: Conversation) -> tuple[Generation, Asset, Action]:
    """The gallery item, its file and the action a follow_up call names, each checked in this workspace."""
    item = reading.workspace_item(conversation, call.input.get("item"))
    if item.status != Status.SUCCEEDED:
        raise ToolError(f"Gallery item {item.pk} has no finished file to build on ({item.get_status_display()}).")
    assets = list(item.assets.order_by("index", "pk"))
    try:
        number = int(call.input.get("file") or 1)
    except (TypeError, ValueError):
        raise ToolError("`file` must be a whole number, counting from 1.") from None
    if not 1 <= number <= len(assets):
        raise ToolError(f"Gallery item {item.pk} has {len(assets)} file(s): `file` must be from 1 to {len(assets)}.")
    asset = assets[number - 1]
    key = str(call.input.get("action") or "")
    try:
        action = get_action(key)
    except KeyError:
        raise ToolError(f"There is no follow-up action “{key}”. Use one of the keys listed in the tool.") from None
    choice = next((c for c in followup_choices(generation=item, asset=asset) if c.action.key == key), None)
    if choice is None or action.sync:
        raise ToolError(
            f"“{action.label}” can't be done on gallery item {item.pk} (a {asset.kind}); view_item lists the "
            "follow-ups it can take."
        )
    if choice.unavailable:
        raise ToolError(choice.unavailable)
    return item, asset, action


def _propose_followup(call: ToolCall, conversation: Conversation) -> None:
    """A follow_up call becomes a priced card, validated by the follow-up dialog's own form."""
    item, asset, action = _followup_source(call, conversation)
    models = action.models(followup_parent(generation=item, asset=asset))
    wanted = call.input.get("model")
    spec = next((m for m in models if m.key == wanted), None) if wanted else models[0]
    if spec is None:
        raise ToolError(
            f"“{wanted}” can't {action.label.lower()} this item; these can: {', '.join(m.key for m in models)}."
        )
    given = action.media_input(spec, asset.kind)
    data = _form_data(
        spec,
        conversation,
        prompt=call.input.get("prompt"),
        values=_settings(call),
        base=FollowupForm.prefill(spec, item, asset, action),
        given=given,
    )
    form = FollowupForm(spec, data, generation=item, asset=asset, action=action, workspace=conversation.workspace)
    if not form.is_valid() or form.plan is None:
        raise _form_problems(form)
    call.model_key, call.action, call.source = spec.key, action.key, asset
    call.inputs = _followup_inputs(form)
    call.references = form.references
    call.takes = 1
    call.quote = form.plan.credits_total


def _followup_inputs(form: FollowupForm) -> dict[str, Any]:
    """What the creator (or model) chose; the source file and what Kie takes from its task are added at Run."""
    assert form.plan is not None
    skip = {form.media_input, *form.spec.from_parent}
    return {k: v for k, v in form.plan.inputs.items() if k not in skip}


def _media_references(conversation: Conversation, field, value: Any) -> list[int]:
    """Gallery item ids for a picture, clip or sound input, as references of this workspace."""
    ids = value if isinstance(value, list) else [value]
    kind = field.type.split("_", 1)[0]
    references = []
    for item_id in ids:
        item = reading.workspace_item(conversation, item_id)
        asset = next((a for a in item.assets.all() if a.kind == kind), None)
        if asset is None:
            raise ToolError(f"Gallery item {item.pk} has no {kind} to use for {field.label}.")
        try:
            references.append(reference_from_asset(asset=asset, user=conversation.owner, kind=kind).pk)
        except UploadRejected as exc:
            raise ToolError(f"Gallery item {item.pk} can't be used for {field.label}: {exc}") from None
    return references


# --- 2. Run and Skip ----------------------------------------------------------------------------------------------


def toolcall_run(*, call: ToolCall, user, membership: Membership | None, auto: bool = False) -> ToolCall:
    """Buy what a proposed generate or follow_up call quoted, once: the generations and the call's link to them commit together
    (so a generation that ends at once still finds its call), and a second click finds the call running."""
    with transaction.atomic():
        if not ToolCall.objects.select_for_update().filter(pk=call.pk, status=S.PROPOSED).exists():
            call.refresh_from_db()
            return call
        plan, buy = _purchase(call, user=user, membership=membership)
        ceiling = Decimal(str(settings.AGENT_TURN_CEILING_CREDITS))
        spent = turn_spent(call.message)
        if spent + plan.credits_total > ceiling:
            raise ToolError(
                f"This would take the turn to {spent + plan.credits_total:f} credits; one turn may spend {ceiling:f}. "
                "Send a new message to go on."
            )
        try:
            created = buy()
        except (BudgetExceeded, GenerationError) as exc:
            raise ToolError(str(exc)) from exc
        ToolCall.objects.filter(pk=call.pk).update(
            status=S.RUNNING, decided_by=user, decided_at=timezone.now(), quote=plan.credits_total, auto=auto
        )
        call.generations.add(*created)
    call.refresh_from_db()
    return call


def _purchase(call: ToolCall, *, user, membership: Membership | None):
    """The call's priced plan, as of now, and how to buy it (once: the form token is the call's own)."""
    spec = get_model(call.model_key)
    workspace = call.message.conversation.workspace
    token = uuid.uuid5(RUN_NAMESPACE, f"toolcall:{call.pk}")
    if not call.action:
        plan = GenerateForm(spec, None, workspace=workspace).make_plan(dict(call.inputs), call.takes)
        return plan, lambda: generation_create(
            workspace=workspace,
            user=user,
            plan=plan,
            form_token=token,
            references=call.references,
            membership=membership,
        )
    asset = call.source
    if asset is None:
        raise ToolError("The file this follow-up builds on is no longer in the gallery.")
    action = get_action(call.action)
    try:
        plan = followup_plan(
            generation=asset.generation, asset=asset, action=action, spec=spec, raw_inputs=dict(call.inputs)
        )
    except GenerationError as exc:
        raise ToolError(str(exc)) from exc
    return plan, lambda: [
        followup_create(
            generation=asset.generation,
            asset=asset,
            action=action,
            plan=plan,
            user=user,
            form_token=token,
            membership=membership,
        )
    ]


class EditRefused(Exception):
    """The edited settings don't fit the model; the form carries the errors beside their fields."""

    def __init__(self, form: GenerateForm) -> None:
        super().__init__("The settings don't fit the model.")
        self.form = form


def toolcall_form(*, call: ToolCall, data=None) -> GenerateForm:
    """The model's own form for a proposed call: prefilled from the call, or bound to what the creator sent."""
    spec = get_model(call.model_key)
    workspace = call.message.conversation.workspace
    if data is not None:
        # No token of its own: an edit buys nothing (Run does, once per call), so any token validates the form.
        data = data.copy()
        data["form_token"] = str(uuid.uuid4())
    initial: dict[str, Any] = dict(call.inputs)
    for name, ids in (call.references or {}).items():
        initial[name] = [str(i) for i in ids]
    if call.action and call.source is not None:
        source, action = call.source, get_action(call.action)
        if data is not None:
            return FollowupForm(
                spec, data, generation=source.generation, asset=source, action=action, workspace=workspace
            )
        return FollowupForm(
            spec, generation=source.generation, asset=source, action=action, workspace=workspace, initial=initial
        )
    if data is not None:
        return GenerateForm(spec, data, workspace=workspace)
    initial["variations"] = call.takes
    return GenerateForm(spec, initial=initial, workspace=workspace)


def toolcall_edit(*, call: ToolCall, data) -> ToolCall:
    """The creator's own settings for a proposed call, validated and priced like the Generate page; Run buys them."""
    form = toolcall_form(call=call, data=data)
    if not form.is_valid() or form.plan is None:
        raise EditRefused(form)
    ToolCall.objects.filter(pk=call.pk, status=S.PROPOSED).update(
        inputs=_followup_inputs(form) if isinstance(form, FollowupForm) else form.plan.inputs,
        references=form.references,
        takes=form.plan.variations,
        quote=form.plan.credits_total,
        edited=True,
    )
    call.refresh_from_db()
    return call


def autorun_set(*, workspace_id: int, user, limit: Decimal | None) -> None:
    """A member's auto-run limit for generate calls in this workspace (None: always ask)."""
    if limit is None:
        AutoRun.objects.filter(workspace_id=workspace_id, user=user).delete()
    else:
        AutoRun.objects.update_or_create(workspace_id=workspace_id, user=user, defaults={"limit": limit})


def autorun_limit(*, workspace_id: int, user) -> Decimal | None:
    rule = AutoRun.objects.filter(workspace_id=workspace_id, user=user).first()
    return rule.limit if rule else None


def toolcall_skip(*, call: ToolCall, user) -> ToolCall:
    """The creator said no: the model hears it, and nothing is spent."""
    reason = "The creator skipped this call; nothing was made. Ask what they would like instead."
    with transaction.atomic():  # skipped and the model's next reply, seen together
        updated = ToolCall.objects.filter(pk=call.pk, status=S.PROPOSED).update(
            status=S.SKIPPED,
            decided_by=user,
            decided_at=timezone.now(),
            finished_at=timezone.now(),
            reason="Skipped",
            result=[reading.text_block(reason)],
        )
        if updated:
            Plan.objects.filter(call=call, status=Plan.Status.PROPOSED).update(status=Plan.Status.SKIPPED)
            _continue_if_settled(call.message)
    call.refresh_from_db()
    return call


# --- 3. Generations ending -------------------------------------------------------------------------------------


def on_generation_ended(sender, *, generation_id: int, **kwargs: Any) -> None:
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is not None and generation.plan_steps.exists():
        plans.step_generation_ended(generation=generation)
    for call in ToolCall.objects.filter(generations__pk=generation_id, status=S.RUNNING).select_related("message"):
        toolcall_settle(call=call)


def toolcall_settle(*, call: ToolCall) -> bool:
    """A running call whose generations have all ended takes its result; True when it did (only once)."""
    made = list(call.generations.prefetch_related("assets").order_by("variation"))
    if not made or any(g.status not in TERMINAL for g in made):
        return False
    succeeded = [g for g in made if g.status == Status.SUCCEEDED]
    user = call.decided_by or call.message.conversation.owner
    images = reading.sees_images(call.message.conversation)
    lines = [f"{len(succeeded)} of {len(made)} takes finished."]
    if call.edited:
        lines.append(
            f"The creator edited the call before running it; what ran: {json.dumps(call.inputs, default=str)}."
        )
    blocks: list[dict[str, Any]] = []
    for g in made:
        if g.status == Status.SUCCEEDED:
            lines.append(f"Take {g.variation}: gallery item {g.pk} ({g.output}).")
            blocks += reading.item_result(g, user=user, images=images)[1:]
        else:
            lines.append(f"Take {g.variation}: {g.get_status_display().lower()}: {g.failure_message or 'no result'}.")
    result = [reading.text_block("\n".join(lines)), *blocks]
    status = S.DONE if succeeded else S.FAILED
    with transaction.atomic():  # the call's end and the model's next reply are seen together (a polling card)
        updated = ToolCall.objects.filter(pk=call.pk, status=S.RUNNING).update(
            status=status, result=result, finished_at=timezone.now(), reason="" if succeeded else "No take finished"
        )
        if updated:
            _continue_if_settled(call.message)
    return bool(updated)


def plan_settled(*, plan_id: int) -> None:
    """A plan ended (every step done, or the creator finished without the failed ones): its call takes the result,
    each step's gallery item, and the model carries on."""
    plan = Plan.objects.select_related("call__message").get(pk=plan_id)
    lines = [f"The plan “{plan.title}” ended."]
    for step in plan.steps.select_related("generation").order_by("position", "pk"):
        made = f"gallery item {step.generation_id}" if step.generation_id and step.status == "done" else None
        state = made or step.get_status_display().lower() + (f" ({step.error})" if step.error else "")
        lines.append(f"- {step.key} ({step.title}): {state}")
    with transaction.atomic():
        updated = ToolCall.objects.filter(pk=plan.call_id, status=S.RUNNING).update(
            status=S.DONE, result=[reading.text_block("\n".join(lines))], finished_at=timezone.now()
        )
        if updated:
            _continue_if_settled(plan.call.message)


# --- 4. Back to the model ---------------------------------------------------------------------------------------


def _continue_if_settled(reply: Message) -> Message | None:
    """Every call of the reply has its result: send them back; the model's next reply starts."""
    calls = list(ToolCall.objects.filter(message=reply).order_by("position", "pk"))
    if not calls or any(c.is_open for c in calls):
        return None
    results = [
        {
            "type": "tool_result",
            "tool_use_id": c.call_id,
            "content": c.result,
            **({"is_error": True} if c.status in (S.REFUSED, S.FAILED) else {}),
        }
        for c in calls
    ]
    try:
        return conversation_continue(reply=reply, results=results)
    except ChatError as exc:  # over budget: the calls stay with their results; the creator can ask again
        log.info("chat reply %s: not continued after its tools (%s)", reply.pk, exc)
        return None
