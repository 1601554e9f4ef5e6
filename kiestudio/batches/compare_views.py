"""Compare models: one prompt on two to four models, checked and priced, then bought as a comparison batch."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kiestudio.batches import compare
from kiestudio.batches.services import MAX_MODELS, BatchError, Preview
from kiestudio.batches.views import form_token
from kiestudio.core.http import AuthedHttpRequest
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.workspaces.access import current_membership, current_workspace, require_role

MAX_PROMPT = 5000


def _inputs(data) -> dict[str, object]:
    """The form's values as sent (shown again beside a refusal)."""
    return {
        "prompt": data.get("prompt", "")[:MAX_PROMPT],
        "model_keys": [key[:120] for key in data.getlist("models")[: MAX_MODELS + 1] if key][:8],
        "shared": {key: data.get(key, "")[:40] for key in compare.CONCEPT_KEYS},
        "blind": data.get("blind") == "on",
        "overrides": compare.overrides_from(data, [key[:120] for key in data.getlist("models")[:MAX_MODELS] if key]),
    }


def _context(request: HttpRequest, values: dict) -> dict[str, object]:
    specs = []
    for key in values["model_keys"]:
        try:
            specs.append(get_model(key))
        except UnknownModel:
            continue
    choices = compare.shared_choices(specs)
    shared = values["shared"]
    return {
        "values": values,
        "model_groups": compare.comparable_models(),
        "model_slots": [*values["model_keys"], *[""] * MAX_MODELS][:MAX_MODELS],
        "concepts": [(c.key, c.label, choices[c.key], shared.get(c.key, "")) for c in compare.CONCEPTS],
        "request_key": form_token(request.POST.get("request_key", "")) or uuid.uuid4(),
    }


def _preview(request: HttpRequest, values: dict) -> Preview:
    return compare.compare_preview(
        workspace=current_workspace(request),
        prompt=str(values["prompt"]),
        model_keys=values["model_keys"],
        shared=values["shared"],
        overrides=values["overrides"],
    )


@require_GET
@login_required
@require_role("member")
def compare_new(request: HttpRequest) -> HttpResponse:
    """The form, prefilled from Generate (``?prompt=`` and ``?model=``)."""
    values = _inputs(request.GET)
    keys = [key for key in request.GET.getlist("models")[:MAX_MODELS] if _known(key)]
    model = request.GET.get("model", "")
    if _known(model) and model not in keys:
        keys = [model, *keys][:MAX_MODELS]
    values["model_keys"] = keys
    return render(request, "batches/compare.html", _context(request, values))


def _known(key: str) -> bool:
    try:
        get_model(key)
    except UnknownModel:
        return False
    return True


@require_POST
@login_required
@require_role("member")
def compare_check(request: AuthedHttpRequest) -> HttpResponse:
    """Each model's job, its settings, notes and price, and the total, before anything is bought (htmx swaps the
    settings and preview in; without JavaScript the whole page comes back)."""
    values = _inputs(request.POST)
    context = _context(request, values)
    try:
        context["preview"] = _preview(request, values)
    except BatchError as exc:
        context["error"] = str(exc)
    template = "batches/compare.html#live" if request.htmx else "batches/compare.html"
    return render(request, template, context, status=400 if "error" in context else 200)


@require_POST
@login_required
@require_role("member")
def compare_start(request: AuthedHttpRequest) -> HttpResponse:
    values = _inputs(request.POST)
    context = _context(request, values)
    request_key = form_token(request.POST.get("request_key", ""))
    if request_key is None:
        context["error"] = "This form was missing its token, so nothing was started. Check the prices and run again."
        return render(request, "batches/compare.html", context, status=400)
    try:
        preview = _preview(request, values)
        context["preview"] = preview
        batch = compare.compare_create(
            workspace=current_workspace(request),
            membership=current_membership(request),
            preview=preview,
            prompt=str(values["prompt"]),
            request_key=request_key,
            blind=bool(values["blind"]),
        )
    except BatchError as exc:
        context["error"] = str(exc)
        return render(request, "batches/compare.html", context, status=400)
    messages.success(request, f"Comparing {batch.items.count()} models on “{batch.name}”.")
    return redirect("batch", batch_id=batch.pk)
