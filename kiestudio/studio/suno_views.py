"""Suno's extras outside the follow-up menu: the workspace's personas, and Boost beside a Suno style field.

Personas are fetched through the workspace's access check (another workspace's persona is a 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kiestudio.core.http import HtmxHttpRequest
from kiestudio.kie.catalog import ModelSpec, UnknownModel, get_model
from kiestudio.studio import services
from kiestudio.studio.forms import GenerateForm
from kiestudio.studio.models import SunoPersona
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role, scoped

#: Suno fields holding a style description, which Kie's style boost rewrites.
BOOST_FIELDS = ("style", "tags")


@require_GET
@login_required
def persona_list(request: HttpRequest) -> HttpResponse:
    personas = scoped(request, SunoPersona).select_related("created_by", "source_asset")
    return render(request, "studio/personas.html", {"personas": personas})


@require_POST
@login_required
@require_role("member")
def persona_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    persona = get_for_workspace(request, SunoPersona, pk=pk)
    services.persona_delete(persona=persona)
    messages.success(request, f"Removed “{persona.name}” from this workspace. Songs made with it are unchanged.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("personas"))
    return redirect("personas")


def _boostable(key: str, name: str) -> ModelSpec:
    try:
        spec = get_model(key)
    except UnknownModel:
        raise Http404("No such model") from None
    if not (spec.family.startswith("suno") and name in BOOST_FIELDS and spec.has_field(name)):
        raise Http404("Nothing to boost here")
    return spec


@require_POST
@login_required
@require_role("member")
def style_boost(request: HttpRequest) -> HttpResponse:
    """Send the style to Kie and answer the field again, holding Kie's richer text (or the words as typed and the
    reason it failed)."""
    name = request.POST.get("boost_field", "style")
    spec = _boostable(request.POST.get("model", ""), name)
    workspace = current_workspace(request)
    typed = request.POST.get(name, "")
    boost: dict[str, object] = {}
    try:
        value = services.style_boost(
            workspace=workspace, user=request.user, style=typed, membership=current_membership(request)
        )
    except (services.GenerationError, BudgetExceeded) as exc:
        value, boost["error"] = typed, str(exc)
    else:
        boost["done"] = True
        limit = spec.field(name).max_length
        if limit and len(value) > limit:
            boost["note"] = f"It is {len(value)} characters and {spec.name} takes {limit}: shorten it before you go."
    form = GenerateForm(spec, initial={name: value}, workspace=workspace)
    context = {"field": form[name], "spec": spec, "boost": boost}
    return render(request, "studio/_field.html", context, status=422 if "error" in boost else 200)
