from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from kiestudio.workspaces.access import current_workspace
from kiestudio.workspaces.middleware import SESSION_KEY
from kiestudio.workspaces.models import Membership


@require_POST
@login_required
def workspace_switch(request: HttpRequest) -> HttpResponse:
    raw_id = request.POST.get("workspace", "").strip()
    membership = None
    if raw_id.isdigit():
        membership = (
            Membership.objects.select_related("workspace").filter(user=request.user, workspace_id=raw_id).first()
        )
    if membership is None:
        raise Http404("No such workspace")
    request.session[SESSION_KEY] = membership.workspace_id
    messages.success(request, f"Switched to {membership.workspace.name}.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "home"
    return redirect(next_url)


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    memberships = workspace.memberships.select_related("user").order_by("created_at", "pk")
    return render(request, "workspaces/team.html", {"memberships": memberships})


@require_GET
@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    return render(request, "workspaces/settings.html")
