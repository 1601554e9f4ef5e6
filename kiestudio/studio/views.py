from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from kiestudio.core.http import HtmxHttpRequest
from kiestudio.core.params import BadJSON, BadParameter, parse_json, parse_optional_id
from kiestudio.kie.catalog import KINDS, ModelSpec, UnknownModel, get_model, load_catalog
from kiestudio.kie.webhooks import callback_task_id, verify_signature
from kiestudio.studio import services
from kiestudio.studio.forms import GenerateForm, remix_initial
from kiestudio.studio.models import PENDING, Asset, Generation, Prompt
from kiestudio.studio.selectors import is_new, popular_model_keys
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.access import (
    current_membership,
    current_workspace,
    get_for_workspace,
    require_role,
    scoped,
)
from kiestudio.workspaces.services import workspace_webhook_key

log = logging.getLogger("kiestudio.studio")

RECENT_COUNT = 12
CALLBACK_JSON_DEPTH = 64  # Kie's task records nest a few levels; nothing legitimate comes near this


def _recent(request: HttpRequest) -> list[Generation]:
    return list(
        scoped(request, Generation)
        .filter(deleted_at__isnull=True)
        .select_related("created_by")
        .prefetch_related(Prefetch("assets", queryset=Asset.objects.order_by("index")))
        .order_by("-created_at", "-id")[:RECENT_COUNT]
    )


def _recent_context(request: HttpRequest) -> dict[str, object]:
    recent = _recent(request)
    return {"recent": recent, "any_pending": any(g.status in PENDING for g in recent)}


def _pick_spec(request: HttpRequest, key: str | None):
    key = key or current_workspace(request).default_generate_model
    if not key:
        return load_catalog().by_kind("text_to_image")[0]
    try:
        spec = get_model(key)
    except UnknownModel:
        messages.warning(request, f"There is no model called “{key}”; showing the default instead.")
        return load_catalog().by_kind("text_to_image")[0]
    if spec.followup_only:
        messages.warning(request, f"{spec.name} is made from an earlier result: open one and pick it from its actions.")
        return load_catalog().by_kind("text_to_image")[0]
    return spec


def _posted_spec(request: HttpRequest) -> ModelSpec:
    """The model a generate form posts. Estimating or buying never falls back to another model: an unknown name
    is a 400 that quotes it."""
    key = request.POST.get("model", "").strip()
    if not key:
        raise BadParameter("model", "Choose a model.")
    try:
        spec = get_model(key)
    except UnknownModel:
        raise BadParameter("model", f"There is no model called “{key[:100]}”.") from None
    if spec.followup_only:
        raise BadParameter("model", f"{spec.name} is made from an earlier result: open it from that result's actions.")
    return spec


def _prompt_options(request: HttpRequest) -> dict[str, object]:
    prompts = scoped(request, Prompt)
    return {
        "library": list(prompts.exclude(saved_name="").order_by("saved_name")[:30]),
        "recent_prompts": list(prompts.order_by("-last_used_at")[:10]),
    }


def _form_context(request: HttpRequest, form: GenerateForm) -> dict[str, object]:
    return {"form": form, "spec": form.spec, **_prompt_options(request)}


MAX_PROMPT_PREFILL = 10_000  # a prompt handed over in the URL ("Use in Generate"), cut to this length


@require_GET
@login_required
def generate(request: HttpRequest) -> HttpResponse:
    initial: dict[str, object] = {}
    key = request.GET.get("model")
    remix_id = parse_optional_id(request.GET.get("remix"), name="remix")
    if remix_id is not None:
        source = get_for_workspace(request, Generation, pk=remix_id)
        key = source.model_key
        if source.model_key in load_catalog() and get_model(source.model_key).followup_only:
            messages.info(request, "A follow-up is made from a result: here is the one it came from, with its actions.")
            return redirect("gallery-detail", pk=source.parent_id or source.pk)
        initial = remix_initial(source)
    spec = _pick_spec(request, key)
    prompt = request.GET.get("prompt", "")[:MAX_PROMPT_PREFILL].strip()
    if prompt and spec.prompt_field and not initial:  # "Use in Generate" from a chat reply
        initial = {spec.prompt_field: prompt}
    form = GenerateForm(spec, initial=initial, workspace=current_workspace(request))
    catalog = load_catalog()
    popular = popular_model_keys(workspace=current_workspace(request), keys=set(catalog.keys()))
    context = {
        **_form_context(request, form),
        **_recent_context(request),
        "models": catalog.originals,
        "kinds": [(k, label) for k, label in KINDS.items() if any(s.kind == k for s in catalog.originals)],
        "makers": catalog.makers(),
        "popular": set(popular),
        "new_keys": {spec.key for spec in catalog.originals if is_new(spec)},
        "remixing": remix_id is not None,
    }
    return render(request, "studio/generate.html", context)


@require_GET
@login_required
def generate_form(request: HttpRequest) -> HttpResponse:
    spec = _pick_spec(request, request.GET.get("model"))
    form = GenerateForm(spec, workspace=current_workspace(request))
    response = render(request, "studio/generate.html#model-form", _form_context(request, form))
    return response


@require_POST
@login_required
def generate_estimate(request: HttpRequest) -> HttpResponse:
    spec = _posted_spec(request)
    form = GenerateForm(spec, request.POST, workspace=current_workspace(request))
    form.is_valid()
    return render(request, "studio/generate.html#estimate", {"form": form, "spec": spec})


@require_POST
@login_required
@require_role("member")
def generate_submit(request: HtmxHttpRequest) -> HttpResponse:
    spec = _posted_spec(request)
    workspace = current_workspace(request)
    form = GenerateForm(spec, request.POST, workspace=workspace)
    if not form.is_valid() or form.plan is None:
        response = render(request, "studio/generate.html#model-form", _form_context(request, form), status=422)
        return response
    try:
        created = services.generation_create(
            workspace=workspace,
            user=request.user,
            plan=form.plan,
            form_token=form.cleaned_data["form_token"],
            references=form.references,
            membership=current_membership(request),
        )
    except (BudgetExceeded, services.GenerationError) as exc:  # over budget, or a persona deleted meanwhile
        form.add_error(None, str(exc))
        return render(request, "studio/generate.html#model-form", _form_context(request, form), status=422)
    count = len(created)
    if not request.htmx:
        messages.success(request, f"Started {count} generation{'s' if count != 1 else ''}.")
        return redirect(f"{reverse('generate')}?model={spec.key}")
    # A fresh token for the next click; the inputs stay so the creator can tweak and go again.
    data = request.POST.copy()
    data["form_token"] = str(uuid.uuid4())
    fresh = GenerateForm(spec, data, workspace=workspace)
    fresh.is_valid()
    fresh.errors.clear()
    context = {**_form_context(request, fresh), **_recent_context(request), "oob_recent": True, "started": count}
    response = render(request, "studio/generate.html#submitted", context)
    # After the swap has settled, so the page can bring the new card (now in Results) into view.
    return trigger_client_event(response, "kie:generated", {"count": count}, after="settle")


def _settled(response: HttpResponse, pending: bool) -> HttpResponse:
    """A poll that finds the work done tells the page (the header's balance reads Kie again)."""
    return response if pending else trigger_client_event(response, "kie:settled")


@require_GET
@login_required
def recent_strip(request: HttpRequest) -> HttpResponse:
    context = _recent_context(request)  # polled only while something is pending
    return _settled(render(request, "studio/generate.html#recent", context), bool(context["any_pending"]))


@require_GET
@login_required
def generation_card(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation.objects.prefetch_related("assets"), pk=pk)
    if request.GET.get("live"):  # polled only while it is pending
        return _settled(render(request, "studio/_live_card.html", {"generation": generation}), generation.is_pending)
    return render(request, "studio/_card.html", {"generation": generation})


def _card_action_response(request: HtmxHttpRequest, generation: Generation) -> HttpResponse:
    if request.htmx:
        return render(request, "studio/generate.html#recent", _recent_context(request))
    return redirect("generate")


@require_POST
@login_required
@require_role("member")
def generation_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation, pk=pk)
    if services.generation_cancel(generation=generation):
        messages.info(
            request,
            "Stopped following that job. Kie has no cancel call, so if it was already sent it "
            "may still finish (and be charged) on Kie's side.",
        )
    else:
        messages.warning(request, "That job had already finished, so there was nothing to cancel.")
    return _card_action_response(request, generation)


@require_POST
@login_required
@require_role("member")
def generation_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation, pk=pk)
    try:
        services.generation_retry(generation=generation, user=request.user, membership=current_membership(request))
    except (services.GenerationError, BudgetExceeded) as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, "Retrying as a new Kie task.")
    return _card_action_response(request, generation)


@require_POST
@login_required
@require_role("member")
def generation_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation, pk=pk)
    if generation.is_pending:
        messages.warning(request, "Cancel the job before deleting it.")
    else:
        services.generation_delete(generation=generation, user=request.user)
        messages.success(request, "Moved to the trash. You can restore it from the gallery for 30 days.")
    return _card_action_response(request, generation)


@require_GET
@login_required
def prompt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = get_for_workspace(request, Prompt.objects.select_related("created_by", "saved_by"), pk=pk)
    generations = (
        prompt.generations.filter(workspace=current_workspace(request))
        .prefetch_related("assets")
        .order_by("-created_at", "-id")[:60]
    )
    return render(request, "studio/prompt_detail.html", {"prompt": prompt, "generations": generations})


@require_GET
@login_required
def prompt_list(request: HttpRequest) -> HttpResponse:
    prompts = scoped(request, Prompt).annotate(made=Count("generations"))
    library = prompts.exclude(saved_name="").order_by("saved_name")
    recent = prompts.order_by("-last_used_at")[:50]
    return render(request, "studio/prompts.html", {"library": library, "recent_prompts": recent})


@require_POST
@login_required
@require_role("member")
def prompt_save(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    prompt = get_for_workspace(request, Prompt, pk=pk)
    try:
        services.prompt_save(prompt=prompt, user=request.user, name=request.POST.get("name", ""))
    except services.GenerationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Saved “{prompt.saved_name}” to the prompt library.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("prompt-detail", args=[prompt.pk]))
    return redirect("prompt-detail", pk=prompt.pk)


@csrf_exempt
@require_http_methods(["POST"])
def kie_callback(request: HttpRequest, token: str) -> HttpResponse:
    """Kie's webhook. Authenticated by the secret in the URL, plus the HMAC signature when a key is configured.
    It only makes the task due for an immediate status read: the body is never trusted on its own."""
    import hmac

    if not hmac.compare_digest(token.encode(), settings.KIE_CALLBACK_TOKEN.encode()):  # str needs ASCII
        raise Http404("Unknown callback")
    try:
        body = parse_json(request.body, name="callback body", max_depth=CALLBACK_JSON_DEPTH, empty={})
    except BadJSON as exc:
        return HttpResponseBadRequest(exc.message)
    task_id = callback_task_id(body) if isinstance(body, dict) else None
    if not task_id:
        return HttpResponseBadRequest("No task id")
    # The workspace's own webhook key when it has one (its jobs run on its own Kie account), else the studio's.
    owner = Generation.objects.filter(kie_task_id=task_id).select_related("workspace").order_by("-pk").first()
    hmac_key = workspace_webhook_key(owner.workspace) if owner else (settings.KIE_WEBHOOK_HMAC_KEY or "")
    if hmac_key:
        signed = verify_signature(
            hmac_key,
            task_id,
            request.headers.get("X-Webhook-Timestamp", ""),
            request.headers.get("X-Webhook-Signature", ""),
        )
        if not signed:
            log.warning("Kie callback with a bad signature", extra={"task_id": task_id})
            raise PermissionDenied("Bad signature")
    services.generation_on_callback(task_id=task_id, body=body)
    return JsonResponse({"ok": True})
