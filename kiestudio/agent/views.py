"""A reply's tool-call cards: shown (and polled while a call runs), Run and Skip."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kiestudio.agent import plans, services
from kiestudio.agent.models import AUTORUN_CHOICES, Plan, PlanStep, ToolCall
from kiestudio.chat.view_context import get_message
from kiestudio.core.http import HtmxHttpRequest
from kiestudio.studio.models import Asset, Generation
from kiestudio.studio.services import reference_from_asset
from kiestudio.uploads.services import UploadRejected
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role


def _cards(request: HtmxHttpRequest, message, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {**services.cards_context(message, live=True), "error": error}
    return render(request, "agent/cards.html", context, status=status)


def _call(request: HtmxHttpRequest, pk: int) -> ToolCall:
    """A call of a reply in a conversation this member owns (404 for another workspace's, 403 for a teammate's)."""
    call = get_for_workspace(request, ToolCall.objects.select_related("message__conversation__workspace"), pk=pk)
    get_message(request, call.message_id, write=True)
    return call


@require_GET
@login_required
def toolcall_cards(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _cards(request, get_message(request, pk))


@require_POST
@login_required
@require_role("member")
def toolcall_run(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    call = _call(request, pk)
    try:
        services.toolcall_run(call=call, user=request.user, membership=current_membership(request))
    except services.ToolError as exc:
        return _cards(request, call.message, error=str(exc), status=422)
    return _cards(request, call.message)


@login_required
@require_role("member")
def toolcall_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The model's own form, prefilled from the call (GET), saved back to it (POST)."""
    call = _call(request, pk)
    if call.status != ToolCall.Status.PROPOSED or not call.model_key:
        return _cards(request, call.message)
    if request.method != "POST":
        return render(request, "agent/edit.html", {"call": call, "form": services.toolcall_form(call=call)})
    try:
        services.toolcall_edit(call=call, data=request.POST)
    except services.EditRefused as exc:
        response = render(request, "agent/edit.html", {"call": call, "form": exc.form}, status=422)
        response["HX-Retarget"] = f"#call-{call.pk}-edit"
        response["HX-Reswap"] = "innerHTML"
        return response
    return _cards(request, call.message)


@require_POST
@login_required
@require_role("member")
def send_to_chat(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A gallery item's picture, attached to a new message in Chat."""
    generation = get_for_workspace(request, Generation.objects.prefetch_related("assets"), pk=pk)
    asset = next((a for a in generation.assets.all() if a.kind == Asset.Kind.IMAGE), None)
    if asset is None:
        messages.error(request, "Only pictures can be sent to chat: chat models read images, not clips or sounds.")
        return redirect("gallery-detail", pk=generation.pk)
    try:
        reference = reference_from_asset(asset=asset, user=request.user)
    except UploadRejected as exc:
        messages.error(request, f"This picture can't be sent to chat: {exc}")
        return redirect("gallery-detail", pk=generation.pk)
    return redirect(f"{reverse('chat')}?attach={reference.pk}")


@require_POST
@login_required
@require_role("member")
def autorun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The member's auto-run limit, set from a reply's cards (``pk``: the reply)."""
    message = get_message(request, pk, write=True)
    try:
        limit = _autorun_limit(request)
    except ValueError as exc:
        return _cards(request, message, error=str(exc), status=422)
    services.autorun_set(workspace_id=message.workspace_id, user=request.user, limit=limit)
    return _cards(request, message)


@require_POST
@login_required
@require_role("member")
def autorun_settings(request: HtmxHttpRequest) -> HttpResponse:
    """The same limit, from the Settings page."""
    try:
        limit = _autorun_limit(request)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("settings")
    services.autorun_set(workspace_id=current_workspace(request).pk, user=request.user, limit=limit)
    label = dict(AUTORUN_CHOICES)[int(limit) if limit is not None else None]
    messages.success(request, f"Chat tool calls: {label.lower()}.")
    return redirect("settings")


def _autorun_limit(request: HtmxHttpRequest) -> Decimal | None:
    raw = request.POST.get("limit", "")
    allowed = {str(value): value for value, _ in AUTORUN_CHOICES if value is not None}
    if raw and raw not in allowed:
        raise ValueError("Choose one of the limits offered.")
    return Decimal(allowed[raw]) if raw else None


@require_POST
@login_required
@require_role("member")
def toolcall_skip(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    call = _call(request, pk)
    services.toolcall_skip(call=call, user=request.user)
    return _cards(request, call.message)


# --- Plans: edited on the card, approved once, and steered when a step fails ------------------------------------


def _plan(request: HtmxHttpRequest, pk: int) -> Plan:
    plan = get_for_workspace(request, Plan.objects.select_related("call__message__conversation"), pk=pk)
    get_message(request, plan.call.message_id, write=True)
    return plan


def _step(request: HtmxHttpRequest, pk: int) -> PlanStep:
    step = get_for_workspace(request, PlanStep.objects.select_related("plan__call__message__conversation"), pk=pk)
    get_message(request, step.plan.call.message_id, write=True)
    return step


def _after(request: HtmxHttpRequest, message, action) -> HttpResponse:
    """Run an edit or decision; a refusal shows above the cards with what was there before."""
    try:
        action()
    except services.ToolError as exc:
        return _cards(request, message, error=str(exc), status=422)
    return _cards(request, message)


@require_POST
@login_required
@require_role("member")
def plan_approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    membership = current_membership(request)
    return _after(
        request, plan.call.message, lambda: plans.plan_approve(plan=plan, user=request.user, membership=membership)
    )


@require_POST
@login_required
@require_role("member")
def plan_finish(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    return _after(request, plan.call.message, lambda: plans.plan_finish_without(plan=plan))


@require_POST
@login_required
@require_role("member")
def step_model(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    step = _step(request, pk)
    model_key = request.POST.get("model", "")
    return _after(request, step.plan.call.message, lambda: plans.step_change_model(step=step, model_key=model_key))


@require_POST
@login_required
@require_role("member")
def step_prompt(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    step = _step(request, pk)
    prompt = request.POST.get("prompt", "")
    return _after(request, step.plan.call.message, lambda: plans.step_change_prompt(step=step, prompt=prompt))


@require_POST
@login_required
@require_role("member")
def step_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    step = _step(request, pk)
    direction = request.POST.get("direction", "")
    if direction not in ("up", "down"):
        return _cards(request, step.plan.call.message, error="Move a step up or down.", status=400)
    return _after(request, step.plan.call.message, lambda: plans.step_move(step=step, up=direction == "up"))


@require_POST
@login_required
@require_role("member")
def step_leave_out(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    step = _step(request, pk)
    keep = request.POST.get("keep") == "1"
    return _after(request, step.plan.call.message, lambda: plans.step_leave_out(step=step, keep=keep))


@require_POST
@login_required
@require_role("member")
def step_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    step = _step(request, pk)
    return _after(request, step.plan.call.message, lambda: plans.step_retry(step=step))
