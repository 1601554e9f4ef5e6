from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiestudio.core.credits import format_credits
from kiestudio.core.http import AuthedHttpRequest
from kiestudio.core.params import parse_id
from kiestudio.kie.catalog import load_catalog
from kiestudio.kie.catalog.chat import chat_model_groups
from kiestudio.workspaces import services
from kiestudio.workspaces.access import (
    admin_change,
    current_membership,
    current_workspace,
    get_for_workspace,
    require_role,
)
from kiestudio.workspaces.middleware import SESSION_KEY
from kiestudio.workspaces.models import AuditEvent, Invitation, Membership, Role
from kiestudio.workspaces.responses import change_done
from kiestudio.workspaces.services import WorkspaceError

AUDIT_PAGE = 50
NEW_LINK_KEY = "kiestudio.new_invitation"


def _switch(request: HttpRequest, workspace_id: int) -> None:
    request.session[SESSION_KEY] = workspace_id
    Membership.objects.filter(user_id=cast(int, request.user.pk), workspace_id=workspace_id).update(
        last_used_at=timezone.now()
    )


# --- Workspaces -----------------------------------------------------------------------------------------------


@require_POST
@login_required
def workspace_switch(request: AuthedHttpRequest) -> HttpResponse:
    workspace_id = parse_id(request.POST.get("workspace"), name="workspace")
    membership = (
        Membership.objects.select_related("workspace").filter(user=request.user, workspace_id=workspace_id).first()
    )
    if membership is None:
        raise Http404("No such workspace")
    _switch(request, membership.workspace_id)
    messages.success(request, f"Switched to {membership.workspace.name}.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "home"
    return redirect(next_url)


@require_POST
@login_required
def workspace_new(request: HttpRequest) -> HttpResponse:
    try:
        workspace = services.workspace_create(name=request.POST.get("name", ""), owner=request.user)
    except WorkspaceError as exc:
        return change_done(request, "settings", exc)
    _switch(request, workspace.pk)
    messages.success(request, f"Created {workspace.name}. Invite your team, then add the team's Kie key.")
    return redirect("team")


# --- Team -----------------------------------------------------------------------------------------------------


def _team_context(request: HttpRequest, **extra: object) -> dict[str, object]:
    workspace = current_workspace(request)
    memberships = list(workspace.memberships.select_related("user").order_by("created_at", "pk"))
    invitations = workspace.invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("created_by")
    return {
        "memberships": memberships,
        "invitations": invitations,
        "roles": Role.choices,
        "link_uses": [
            (str(n or ""), f"{n} {'person' if n == 1 else 'people'}" if n else "Any number") for n in services.LINK_USES
        ],
        "link_days": services.LINK_DAYS,
        "owners": sum(1 for m in memberships if m.role == Role.OWNER),
        **extra,
    }


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    fresh = request.session.pop(NEW_LINK_KEY, None)
    new = Invitation.objects.filter(pk=fresh["id"], workspace=current_workspace(request)).first() if fresh else None
    context = _team_context(request, new_link=fresh["link"], new=new) if new else _team_context(request)
    response = render(request, "workspaces/team.html", context)
    response["Cache-Control"] = "no-store"  # invitation links are in this page: keep it out of caches and history
    return response


def _get_membership(request: HttpRequest, pk: object) -> Membership:
    return get_for_workspace(request, Membership.objects.select_related("user", "workspace"), pk=pk)


@admin_change
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership(request, pk)
    try:
        services.member_change_role(
            membership=membership, actor_membership=current_membership(request), role=request.POST.get("role", "")
        )
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    return change_done(
        request, "team", success=f"{membership.user.display_name} is now {membership.get_role_display()}."
    )


@admin_change
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership(request, pk)
    try:
        services.member_remove(membership=membership, actor_membership=current_membership(request))
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    return change_done(request, "team", success=f"Removed {membership.user.display_name} from the workspace.")


@require_POST
@login_required
def member_leave(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    name = membership.workspace.name
    try:
        services.member_leave(membership=membership)
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    request.session.pop(SESSION_KEY, None)
    return change_done(request, "home", success=f"You left {name}.")


# --- Invitations ----------------------------------------------------------------------------------------------


@admin_change
def invitation_create(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        made = services.invitation_create(
            workspace=workspace,
            actor_membership=current_membership(request),
            role=request.POST.get("role", Role.MEMBER),
            email=request.POST.get("email", ""),
            link_base=request.build_absolute_uri(reverse("invitation", args=["-"]))[:-2],
            max_uses=_optional_count(request.POST.get("uses", "1")),
            days=_optional_count(request.POST.get("days", "7")) or 0,
        )
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    if made.invitation.email:
        sent = "Sent to" if made.emailed else "The email to"
        note = "" if made.emailed else " couldn't be sent, so share this link yourself"
        messages.success(request, f"{sent} {made.invitation.email}{note}.")
    # The link is shown once, on the page this redirects to (only its hash is kept); never in a message or a log.
    request.session[NEW_LINK_KEY] = {
        "link": request.build_absolute_uri(reverse("invitation", args=[made.token])),
        "id": made.invitation.pk,
    }
    return redirect("team")


def _optional_count(raw: str) -> int | None:
    """A count from a select ("" for no limit); anything else the service refuses with a clear message."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 6 else (None if raw == "" else -1)


@admin_change
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_for_workspace(request, Invitation, pk=pk)
    try:
        services.invitation_revoke(invitation=invitation, actor_membership=current_membership(request))
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    return change_done(request, "team", success="Invitation revoked: its link no longer works.")


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation link opens. Signed out: sign in or sign up first, then back here to join."""
    found = services.invitation_find(token)
    user = request.user if request.user.is_authenticated else None
    try:
        services.invitation_check(found, user)
        assert found is not None  # invitation_check refused a missing one
        if request.method == "POST" and user is not None:
            membership = services.invitation_accept(invitation=found, user=user)
    except services.InvitationUnusable as exc:  # also when someone else used it a moment ago
        response = render(request, "workspaces/invitation.html", {"problem": exc, "invitation": found}, status=410)
        response["Cache-Control"] = "no-store"
        return response
    if request.method == "POST" and user is not None:
        _switch(request, membership.workspace_id)
        messages.success(request, f"Welcome to {membership.workspace.name}!")
        return redirect("home")
    response = render(request, "workspaces/invitation.html", {"invitation": found, "next": request.path})
    # The token is in this page's address: no caching. (The site-wide Referrer-Policy, same-origin, already
    # keeps it from other sites; "no-referrer" would make the browser send "Origin: null" and fail CSRF.)
    response["Cache-Control"] = "no-store"
    return response


# --- Settings -------------------------------------------------------------------------------------------------


def _settings_context(request: AuthedHttpRequest, **extra: object) -> dict[str, object]:
    workspace = current_workspace(request)
    return {
        "others": workspace.memberships.exclude(user=request.user).select_related("user"),
        "generate_models": load_catalog().originals,
        "chat_model_groups": chat_model_groups(),
        "user_theme_choices": get_user_model()._meta.get_field("theme").choices,
        **extra,
    }


def _settings_change(
    request: HttpRequest, change: Callable[[], Any], success: str | Callable[[Any], str]
) -> HttpResponse:
    """Make a settings change; back to settings with the success message (``success`` of what the change
    returned, when it is a function) or with the reason it was refused."""
    try:
        result = change()
    except WorkspaceError as exc:
        return change_done(request, "settings", exc)
    return change_done(request, "settings", success=success(result) if callable(success) else success)


@require_GET
@login_required
def settings_page(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "workspaces/settings.html", _settings_context(request))


@admin_change
def settings_name(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "")
    return _settings_change(
        request,
        lambda: services.workspace_rename(workspace=current_workspace(request), actor=request.user, name=name),
        "Workspace renamed.",
    )


@admin_change
def settings_key(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    if request.POST.get("action") == "remove":
        services.workspace_clear_key(workspace=workspace, actor=request.user)
        return change_done(request, "settings", success="Key removed: jobs use the studio's own key again.")
    key = request.POST.get("key", "")
    return _settings_change(
        request,
        lambda: services.workspace_set_key(workspace=workspace, actor=request.user, key=key),
        lambda balance: f"Key saved. Kie says the account has {format_credits(balance)} credits.",
    )


@admin_change
def settings_key_test(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)

    def test() -> Decimal:
        balance = services.kie_key_check(services.workspace_kie_key(workspace))
        services.workspace_balance(workspace=workspace, refresh=True)
        return balance

    return _settings_change(
        request, test, lambda balance: f"The key works: Kie says the account has {format_credits(balance)} credits."
    )


@admin_change
def settings_webhook(request: HttpRequest) -> HttpResponse:
    key = request.POST.get("webhook_key", "")
    return _settings_change(
        request,
        lambda: services.workspace_set_webhook_key(workspace=current_workspace(request), actor=request.user, key=key),
        "Webhook key saved.",
    )


@admin_change
def settings_defaults(request: HttpRequest) -> HttpResponse:
    generate_model, chat_model = request.POST.get("generate_model", ""), request.POST.get("chat_model", "")
    return _settings_change(
        request,
        lambda: services.workspace_set_defaults(
            workspace=current_workspace(request),
            actor=request.user,
            generate_model=generate_model,
            chat_model=chat_model,
        ),
        "Default models saved.",
    )


@admin_change
def settings_chat_titles(request: HttpRequest) -> HttpResponse:
    enabled = request.POST.get("chat_titles") in ("on", "true", "1")
    return _settings_change(
        request,
        lambda: services.workspace_set_chat_titles(
            workspace=current_workspace(request), actor=request.user, enabled=enabled
        ),
        "New chats are named with AI." if enabled else "New chats keep their first message as the title.",
    )


@require_POST
@login_required
@require_role(Role.OWNER)
def settings_transfer(request: HttpRequest) -> HttpResponse:
    to = _get_membership(request, parse_id(request.POST.get("member"), name="member"))
    try:
        services.ownership_transfer(
            workspace=current_workspace(request), actor_membership=current_membership(request), to=to
        )
    except WorkspaceError as exc:
        return change_done(request, "settings", exc)
    return change_done(request, "settings", success=f"{to.user.display_name} now owns the workspace; you're an admin.")


@require_POST
@login_required
@require_role(Role.OWNER)
def settings_delete(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    name = workspace.name
    try:
        services.workspace_delete(workspace=workspace, actor=request.user, confirm=request.POST.get("confirm", ""))
    except WorkspaceError as exc:
        return change_done(request, "settings", exc)
    request.session.pop(SESSION_KEY, None)
    return change_done(request, "home", success=f"Deleted {name} and everything in it.")


FRESH_BALANCE_SECONDS = 2  # however many tabs see work finish, Kie is asked at most this often per key


@require_GET
@login_required
def balance(request: HttpRequest) -> HttpResponse:
    """The header's credit balance (loaded after the page; cached for a few minutes). ``?fresh=1`` comes when
    work has just finished here: a reading at most ``FRESH_BALANCE_SECONDS`` old."""
    max_age = FRESH_BALANCE_SECONDS if request.GET.get("fresh") == "1" else None
    credits, read_at = services.workspace_balance(workspace=current_workspace(request), max_age=max_age)
    read = datetime.fromisoformat(read_at) if read_at else None
    return render(request, "workspaces/_balance.html", {"credits": credits, "read_at": read})


# --- Usage and audit ------------------------------------------------------------------------------------------


@require_GET
@login_required
@require_role(Role.ADMIN)
def audit(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(workspace=current_workspace(request)).select_related("actor")
    page = Paginator(events, AUDIT_PAGE).get_page(request.GET.get("page"))
    return render(request, "workspaces/audit.html", {"page": page})
