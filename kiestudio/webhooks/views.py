"""The webhooks settings page (admins and owners): endpoints, their secrets (shown once), test events and the
recent deliveries with their last attempts. Every change redirects back to the page with a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from kiestudio.webhooks import services
from kiestudio.webhooks.forms import EndpointForm
from kiestudio.webhooks.models import Delivery, Endpoint
from kiestudio.webhooks.services import WebhookError
from kiestudio.workspaces.access import admin_change, current_workspace, get_for_workspace, require_role, scoped
from kiestudio.workspaces.models import Role

NEW_SECRET_KEY = "kiestudio.webhook_secret"
RECENT = 10  # deliveries shown per endpoint


def _with_recent(endpoint: Endpoint) -> Endpoint:
    """The endpoint with its recent deliveries (and their last attempts), and whether any still waits."""
    recent = list(endpoint.deliveries.prefetch_related("attempt_log")[:RECENT])
    endpoint.recent = recent  # type: ignore[attr-defined]
    endpoint.waiting = any(d.status == Delivery.Status.PENDING for d in recent)  # type: ignore[attr-defined]
    return endpoint


def _page(request: HttpRequest, form: EndpointForm | None = None, *, status: int = 200) -> HttpResponse:
    endpoints = [_with_recent(endpoint) for endpoint in scoped(request, Endpoint).select_related("created_by")]
    fresh = request.session.pop(NEW_SECRET_KEY, None)
    new = next((e for e in endpoints if fresh and e.pk == fresh["id"]), None)
    context = {
        "endpoints": endpoints,
        "form": form or EndpointForm(),
        "new_endpoint": new,
        "new_secret": fresh["secret"] if new else "",
    }
    response = render(request, "webhooks/webhooks.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a new secret is in this page: keep it out of caches and history
    return response


def _show_secret(request: HttpRequest, endpoint: Endpoint, secret: str) -> None:
    # Shown once, on the page this redirects to (only its encrypted form is kept); never in a message or a log.
    request.session[NEW_SECRET_KEY] = {"id": endpoint.pk, "secret": secret}


def _back(request: HttpRequest, text: str = "", *, error: bool = False) -> HttpResponse:
    if text:
        (messages.error if error else messages.success)(request, text)
    return redirect("webhooks")


@require_GET
@login_required
@require_role(Role.ADMIN)
def webhooks(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@login_required
@require_role(Role.ADMIN)
def webhook_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    """One endpoint's recent deliveries (the page's partial, which refreshes itself while something waits)."""
    endpoint = _with_recent(get_for_workspace(request, Endpoint, pk=pk))
    return render(request, "webhooks/webhooks.html#deliveries", {"endpoint": endpoint})


@admin_change
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = services.webhook_endpoint_create(
                workspace=current_workspace(request),
                actor=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except WebhookError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            _show_secret(request, endpoint, secret)
            return _back(request, "Endpoint added. Copy its signing secret now: it won't be shown again.")
    return _page(request, form, status=422)


@admin_change
def webhook_roll(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_for_workspace(request, Endpoint, pk=pk)
    secret = services.webhook_endpoint_roll_secret(endpoint=endpoint, actor=request.user)
    _show_secret(request, endpoint, secret)
    return _back(request, "New signing secret made: the old one no longer signs anything.")


@admin_change
def webhook_active(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_for_workspace(request, Endpoint, pk=pk)
    action = request.POST.get("action", "")
    if action not in ("pause", "resume"):
        return _back(request, "Choose pause or resume.", error=True)
    services.webhook_endpoint_set_active(endpoint=endpoint, actor=request.user, active=action == "resume")
    if action == "resume":
        return _back(request, "Endpoint resumed: events are sent to it again, starting with any that waited.")
    return _back(request, "Endpoint paused: nothing is sent to it until it is resumed.")


@admin_change
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_for_workspace(request, Endpoint, pk=pk)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    return _back(request, "Endpoint deleted, with its deliveries.")


@admin_change
def webhook_ping(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_for_workspace(request, Endpoint, pk=pk)
    try:
        services.webhook_ping(endpoint=endpoint, actor=request.user)
    except WebhookError as exc:
        return _back(request, str(exc), error=True)
    return _back(request, "Test event sent. Its delivery is listed under the endpoint.")


@admin_change
def webhook_delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_for_workspace(request, Delivery, pk=pk)
    if services.webhook_delivery_retry(delivery=delivery):
        return _back(request, "Sending it again now.")
    return _back(request, "That delivery isn't waiting for a retry.", error=True)
