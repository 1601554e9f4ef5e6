from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiestudio.core.http import AuthedHttpRequest
from kiestudio.core.params import parse_id, parse_optional_date
from kiestudio.kie.catalog import load_catalog
from kiestudio.kie.catalog.chat import chat_model_groups
from kiestudio.workspaces import services
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role
from kiestudio.workspaces.middleware import SESSION_KEY
from kiestudio.workspaces.models import AuditEvent, Invitation, Membership, Role, UsageEntry
from kiestudio.workspaces.services import NotAllowed, WorkspaceError

AUDIT_PAGE = 50
NEW_LINK_KEY = "kiestudio.new_invitation"


def _done(request: HttpRequest, to: str, error: WorkspaceError | None = None, success: str = "") -> HttpResponse:
    """After a change: a friendly 403 for a change above one's role, else a message and back to the page."""
    if isinstance(error, NotAllowed):
        raise PermissionDenied(str(error))
    if error is not None:
        messages.error(request, str(error))
    elif success:
        messages.success(request, success)
    return redirect(to)


def _switch(request: HttpRequest, workspace_id: int) -> None:
    request.session[SESSION_KEY] = workspace_id


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
        return _done(request, "settings", exc)
    _switch(request, workspace.pk)
    messages.success(request, f"Created {workspace.name}. Invite your team, then add the team's Kie key.")
    return redirect("team")


# --- Team -----------------------------------------------------------------------------------------------------


def _team_context(request: HttpRequest, **extra: object) -> dict[str, object]:
    workspace = current_workspace(request)
    memberships = list(workspace.memberships.select_related("user").order_by("created_at", "pk"))
    spent = {}
    if current_membership(request).has_role(Role.ADMIN):
        for membership in memberships:
            spent[membership.pk] = services.spent_this_month(workspace=workspace, user=membership.user)
    invitations = workspace.invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("created_by")
    return {
        "memberships": [(m, spent.get(m.pk)) for m in memberships],
        "invitations": invitations,
        "roles": Role.choices,
        "owners": sum(1 for m in memberships if m.role == Role.OWNER),
        **extra,
    }


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    fresh = request.session.pop(NEW_LINK_KEY, None)
    new = Invitation.objects.filter(pk=fresh["id"], workspace=current_workspace(request)).first() if fresh else None
    if new is None:
        return render(request, "workspaces/team.html", _team_context(request))
    response = render(request, "workspaces/team.html", _team_context(request, new_link=fresh["link"], new=new))
    response["Cache-Control"] = "no-store"  # the link is in this page: keep it out of caches and history
    return response


def _get_membership(request: HttpRequest, pk: object) -> Membership:
    return get_for_workspace(request, Membership.objects.select_related("user", "workspace"), pk=pk)


@require_POST
@login_required
@require_role(Role.ADMIN)
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership(request, pk)
    try:
        services.member_change_role(
            membership=membership, actor_membership=current_membership(request), role=request.POST.get("role", "")
        )
    except WorkspaceError as exc:
        return _done(request, "team", exc)
    return _done(request, "team", success=f"{membership.user.display_name} is now {membership.get_role_display()}.")


@require_POST
@login_required
@require_role(Role.ADMIN)
def member_cap(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership(request, pk)
    try:
        cap = services.parse_credits(request.POST.get("cap"), "monthly cap")
        services.member_set_cap(membership=membership, actor_membership=current_membership(request), cap=cap)
    except WorkspaceError as exc:
        return _done(request, "team", exc)
    words = f"{cap} credits a month" if cap is not None else "no cap of their own"
    return _done(request, "team", success=f"{membership.user.display_name} now has {words}.")


@require_POST
@login_required
@require_role(Role.ADMIN)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership(request, pk)
    try:
        services.member_remove(membership=membership, actor_membership=current_membership(request))
    except WorkspaceError as exc:
        return _done(request, "team", exc)
    return _done(request, "team", success=f"Removed {membership.user.display_name} from the workspace.")


@require_POST
@login_required
def member_leave(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    name = membership.workspace.name
    try:
        services.member_leave(membership=membership)
    except WorkspaceError as exc:
        return _done(request, "team", exc)
    request.session.pop(SESSION_KEY, None)
    return _done(request, "home", success=f"You left {name}.")


# --- Invitations ----------------------------------------------------------------------------------------------


@require_POST
@login_required
@require_role(Role.ADMIN)
def invitation_create(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        made = services.invitation_create(
            workspace=workspace,
            actor_membership=current_membership(request),
            role=request.POST.get("role", Role.MEMBER),
            email=request.POST.get("email", ""),
            link_base=request.build_absolute_uri(reverse("invitation", args=["-"]))[:-2],
        )
    except WorkspaceError as exc:
        return _done(request, "team", exc)
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


@require_POST
@login_required
@require_role(Role.ADMIN)
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_for_workspace(request, Invitation, pk=pk)
    try:
        services.invitation_revoke(invitation=invitation, actor_membership=current_membership(request))
    except WorkspaceError as exc:
        return _done(request, "team", exc)
    return _done(request, "team", success="Invitation revoked: its link no longer works.")


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
        "spent": services.spent_this_month(workspace=workspace) if workspace.monthly_budget is not None else None,
        **extra,
    }


@require_GET
@login_required
def settings_page(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "workspaces/settings.html", _settings_context(request))


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_name(request: HttpRequest) -> HttpResponse:
    try:
        services.workspace_rename(
            workspace=current_workspace(request), actor=request.user, name=request.POST.get("name", "")
        )
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    return _done(request, "settings", success="Workspace renamed.")


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_key(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    if request.POST.get("action") == "remove":
        services.workspace_clear_key(workspace=workspace, actor=request.user)
        return _done(request, "settings", success="Key removed: jobs use the studio's own key again.")
    try:
        balance = services.workspace_set_key(workspace=workspace, actor=request.user, key=request.POST.get("key", ""))
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    return _done(
        request, "settings", success=f"Key saved. Kie says the account has {services.format_credits(balance)} credits."
    )


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_key_test(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        balance = services.kie_key_check(services.workspace_kie_key(workspace))
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    services.workspace_balance(workspace=workspace, refresh=True)
    return _done(
        request,
        "settings",
        success=f"The key works: Kie says the account has {services.format_credits(balance)} credits.",
    )


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_webhook(request: HttpRequest) -> HttpResponse:
    try:
        services.workspace_set_webhook_key(
            workspace=current_workspace(request), actor=request.user, key=request.POST.get("webhook_key", "")
        )
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    return _done(request, "settings", success="Webhook key saved.")


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_defaults(request: HttpRequest) -> HttpResponse:
    try:
        services.workspace_set_defaults(
            workspace=current_workspace(request),
            actor=request.user,
            generate_model=request.POST.get("generate_model", ""),
            chat_model=request.POST.get("chat_model", ""),
        )
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    return _done(request, "settings", success="Default models saved.")


@require_POST
@login_required
@require_role(Role.ADMIN)
def settings_budget(request: HttpRequest) -> HttpResponse:
    try:
        budget = services.parse_credits(request.POST.get("budget"), "monthly budget")
        services.workspace_set_budget(workspace=current_workspace(request), actor=request.user, budget=budget)
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    words = f"{budget} credits a month" if budget is not None else "no monthly budget"
    return _done(request, "settings", success=f"The workspace now has {words}.")


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
        return _done(request, "settings", exc)
    return _done(request, "settings", success=f"{to.user.display_name} now owns the workspace; you're an admin.")


@require_POST
@login_required
@require_role(Role.OWNER)
def settings_delete(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    name = workspace.name
    try:
        services.workspace_delete(workspace=workspace, actor=request.user, confirm=request.POST.get("confirm", ""))
    except WorkspaceError as exc:
        return _done(request, "settings", exc)
    request.session.pop(SESSION_KEY, None)
    return _done(request, "home", success=f"Deleted {name} and everything in it.")


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


def _range(request: HttpRequest) -> tuple[datetime, datetime, date, date]:
    today = timezone.localdate()
    first = parse_optional_date(request.GET.get("from"), name="from date") or today.replace(day=1)
    last = parse_optional_date(request.GET.get("to"), name="to date") or today
    if last < first:
        first, last = last, first
    last = min(last, first + timedelta(days=366))
    tz = timezone.get_current_timezone()
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1)
    return start, end, first, last


CHART_W, CHART_H, CHART_LEFT, CHART_BOTTOM = 720, 220, 48, 24


def _chart(days) -> dict[str, object]:
    """Bars for credits per day, drawn on the server as SVG (no chart library, nothing from a CDN)."""
    peak = max((float(v) for _, v in days), default=0.0) or 1.0
    width = (CHART_W - CHART_LEFT) / max(len(days), 1)
    plot_h = CHART_H - CHART_BOTTOM - 8
    bars = []
    for i, (day, value) in enumerate(days):
        h = float(value) / peak * plot_h
        bars.append(
            {
                "x": round(CHART_LEFT + i * width + width * 0.15, 2),
                "y": round(CHART_H - CHART_BOTTOM - h, 2),
                "w": round(max(width * 0.7, 1), 2),
                "h": round(h, 2),
                "day": day,
                "value": value,
                "label": i % max(1, len(days) // 8) == 0,
                "label_x": round(CHART_LEFT + i * width + width / 2, 2),
            }
        )
    ticks = [
        {"y": round(CHART_H - CHART_BOTTOM - plot_h * f, 2), "value": f"{peak * f:.3g}" if f else "0"}
        for f in (0, 0.5, 1)
    ]
    busiest = max(bars, key=lambda bar: bar["value"], default=None)
    return {
        "bars": bars,
        "busiest": busiest if busiest and busiest["value"] > 0 else None,
        "ticks": ticks,
        "w": CHART_W,
        "h": CHART_H,
        "left": CHART_LEFT,
        "base": CHART_H - CHART_BOTTOM,
    }


@require_GET
@login_required
@require_role(Role.ADMIN)
def usage(request: HttpRequest) -> HttpResponse:
    start, end, first, last = _range(request)
    report = services.usage_report(workspace=current_workspace(request), start=start, end=end)
    context = {"report": report, "first": first, "last": last, "chart": _chart(report.days)}
    return render(request, "workspaces/usage.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection): such text gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@require_GET
@login_required
@require_role(Role.ADMIN)
def usage_csv(request: HttpRequest) -> StreamingHttpResponse:
    start, end, first, last = _range(request)
    entries = (
        UsageEntry.objects.filter(workspace=current_workspace(request), created_at__gte=start, created_at__lt=end)
        .select_related("user")
        .order_by("created_at", "pk")
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["time", "member", "kind", "model", "credits", "estimated", "source"])
        for entry in entries.iterator(chunk_size=2000):
            who = entry.user.email if entry.user else ""
            row = [entry.created_at.isoformat(), who, entry.kind, entry.model_key, entry.credits, entry.estimated]
            yield writer.writerow([_cell(value) for value in [*row, entry.source]])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kiestudio-usage-{first}-{last}.csv"'
    return response


@require_GET
@login_required
@require_role(Role.ADMIN)
def audit(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(workspace=current_workspace(request)).select_related("actor")
    page = Paginator(events, AUDIT_PAGE).get_page(request.GET.get("page"))
    return render(request, "workspaces/audit.html", {"page": page})
