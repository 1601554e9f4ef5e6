"""Follow-up actions on a result: the menu's forms, buying the follow-up, timestamped lyrics and Suno personas.

Every view fetches the file through the workspace's access check (another workspace's file is a 404) and opens
in the follow-up dialog when asked by htmx, or as a page of its own otherwise.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kiestudio.core.http import HtmxHttpRequest
from kiestudio.kie.catalog.actions import Action, get_action
from kiestudio.studio import services
from kiestudio.studio.forms import FollowupForm, PersonaForm
from kiestudio.studio.models import Asset, Generation
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role

TEMPLATE = "studio/followup.html"


def _source(request: HttpRequest, pk: int) -> tuple[Asset, Generation]:
    asset = get_for_workspace(request, Asset.objects.select_related("generation"), pk=pk)
    return asset, asset.generation


def _action(key: str) -> Action:
    try:
        return get_action(key)
    except KeyError:
        raise Http404("No such action") from None


def _choice(asset: Asset, generation: Generation, action: Action) -> services.FollowupChoice | None:
    choices = services.followup_choices(generation=generation, asset=asset)
    return next((c for c in choices if c.action.key == action.key), None)


def _form(request: HttpRequest, asset: Asset, generation: Generation, action: Action, data=None) -> FollowupForm:
    parent = services.followup_parent(generation=generation, asset=asset)
    models = action.models(parent)
    if not models:
        raise Http404("No model can do this")
    key = (data or request.GET).get("model")
    spec = next((m for m in models if m.key == key), models[0])
    return FollowupForm(
        spec, data, generation=generation, asset=asset, action=action, workspace=current_workspace(request)
    )


def _context(asset: Asset, generation: Generation, action: Action, **extra: object) -> dict[str, object]:
    parent = services.followup_parent(generation=generation, asset=asset)
    return {"asset": asset, "source": generation, "action": action, "models": action.models(parent), **extra}


def _render(request: HtmxHttpRequest, partial: str, context: dict[str, object], status: int = 200) -> HttpResponse:
    template = f"{TEMPLATE}#{partial}" if request.htmx else TEMPLATE
    return render(request, template, {**context, "partial": partial}, status=status)


@require_GET
@login_required
def followup_form(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    asset, generation = _source(request, pk)
    chosen = _action(action)
    choice = _choice(asset, generation, chosen)
    if choice is None or choice.unavailable:
        reason = choice.unavailable if choice else f"“{chosen.label}” isn't available for this item."
        return _render(request, "unavailable", _context(asset, generation, chosen, reason=reason), status=409)
    if chosen.sync == "persona":
        persona_form = PersonaForm(initial=PersonaForm.prefill(asset))
        return _render(request, "persona", _context(asset, generation, chosen, form=persona_form))
    if chosen.sync:
        lyrics = (asset.metadata or {}).get("lyrics")
        return _render(request, "lyrics", _context(asset, generation, chosen, lyrics=lyrics))
    form = _form(request, asset, generation, chosen)
    return _render(request, "form", _context(asset, generation, chosen, form=form, spec=form.spec))


@require_POST
@login_required
def followup_estimate(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    asset, generation = _source(request, pk)
    chosen = _action(action)
    form = _form(request, asset, generation, chosen, request.POST)
    form.is_valid()
    return render(request, f"{TEMPLATE}#estimate", _context(asset, generation, chosen, form=form, spec=form.spec))


@require_POST
@login_required
@require_role("member")
def followup_submit(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    asset, generation = _source(request, pk)
    chosen = _action(action)
    form = _form(request, asset, generation, chosen, request.POST)
    context = _context(asset, generation, chosen, form=form, spec=form.spec)
    if not form.is_valid() or form.plan is None:
        return _render(request, "form", context, status=422)
    try:
        child = services.followup_create(
            generation=generation,
            asset=asset,
            action=chosen,
            plan=form.plan,
            user=request.user,
            form_token=form.cleaned_data["form_token"] or uuid.uuid4(),
            membership=current_membership(request),
        )
    except (services.GenerationError, BudgetExceeded) as exc:
        form.add_error(None, str(exc))
        return _render(request, "form", context, status=422)
    if not request.htmx:
        messages.success(request, f"Started: {chosen.label.lower()}. It will appear here when it's done.")
        return redirect("gallery-detail", pk=child.pk)
    return _render(request, "started", {**context, "generation": child})


@require_POST
@login_required
@require_role("member")
def asset_lyrics(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Timestamped lyrics for a Suno track (answered at once, kept on the file)."""
    asset, generation = _source(request, pk)
    chosen = _action("lyrics")
    context = _context(asset, generation, chosen)
    try:
        context["lyrics"] = services.asset_timestamped_lyrics(asset=asset, user=request.user)
    except services.GenerationError as exc:
        context["error"] = str(exc)
        return _render(request, "lyrics", context, status=422)
    return _render(request, "lyrics", context)


@require_POST
@login_required
@require_role("member")
def asset_persona(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Make a Suno persona from a track (answered at once) and keep it for the workspace's new songs."""
    asset, generation = _source(request, pk)
    chosen = _action("persona")
    form = PersonaForm(request.POST)
    context = _context(asset, generation, chosen, form=form)
    if not form.is_valid():
        return _render(request, "persona", context, status=422)
    try:
        persona = services.persona_create(
            generation=generation,
            asset=asset,
            user=request.user,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
    except services.GenerationError as exc:
        for name, errors in exc.errors.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
        if not exc.errors:
            form.add_error(None, str(exc))
        return _render(request, "persona", context, status=422)
    if not request.htmx:
        messages.success(request, f"Saved the persona “{persona.name}”.")
        return redirect("personas")
    return _render(request, "persona", {**context, "persona": persona})
