"""Settings › API tokens: list, make (the token shown once) and revoke."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kiestudio.api.models import ApiToken, Scope
from kiestudio.api.tokens import EXPIRY_CHOICES, token_create, token_revoke, token_spent_this_month
from kiestudio.core.params import BadParameter, parse_optional_date
from kiestudio.usage.services import parse_credits
from kiestudio.workspaces.access import (
    admin_change,
    current_membership,
    current_workspace,
    get_for_workspace,
    require_role,
)
from kiestudio.workspaces.models import Role
from kiestudio.workspaces.responses import change_done
from kiestudio.workspaces.services import WorkspaceError

NEW_TOKEN_KEY = "api_new_token"
EXPIRY_LABELS = [
    ("never", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("date", "On a date"),
]


@require_GET
@login_required
@require_role(Role.ADMIN)
def tokens_page(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    fresh = request.session.pop(NEW_TOKEN_KEY, None)
    tokens = list(ApiToken.objects.filter(workspace=workspace).select_related("created_by", "revoked_by"))
    for token in tokens:
        token.spent = token_spent_this_month(token=token)  # type: ignore[attr-defined]
    context = {
        "tokens": tokens,
        "new_token": fresh["raw"] if fresh else "",
        "new_token_name": fresh["name"] if fresh else "",
        "scopes": Scope.choices,
        "expiries": EXPIRY_LABELS,
    }
    response = render(request, "api/tokens.html", context)
    response["Cache-Control"] = "no-store"  # the new token is on this page once: keep it out of caches and history
    return response


def _expiry(choice: str, date_text: str) -> datetime | None:
    if choice in EXPIRY_CHOICES:
        days = EXPIRY_CHOICES[choice]
        return timezone.now() + timedelta(days=days) if days else None
    if choice != "date":
        raise WorkspaceError("Choose when the token expires.")
    try:
        day = parse_optional_date(date_text, name="expiry date")
    except BadParameter:
        raise WorkspaceError("The expiry date must be a date, like 2027-01-31.") from None
    if day is None:
        raise WorkspaceError("Choose the expiry date.")
    return timezone.make_aware(datetime.combine(day, time.max.replace(microsecond=0)))


@admin_change
def token_new(request: HttpRequest) -> HttpResponse:
    data = request.POST
    try:
        new = token_create(
            workspace=current_workspace(request),
            actor_membership=current_membership(request),
            name=data.get("name", ""),
            scopes=data.getlist("scopes"),
            monthly_cap=parse_credits(data.get("monthly_cap"), "monthly cap"),
            expires_at=_expiry(data.get("expires", "never"), data.get("expires_on", "")),
        )
    except WorkspaceError as exc:
        return change_done(request, "api-tokens", exc)
    request.session[NEW_TOKEN_KEY] = {"raw": new.raw, "name": new.token.name}
    return change_done(
        request, "api-tokens", success=f"Token “{new.token.name}” made. Copy it now: it won't be shown again."
    )


@admin_change
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_for_workspace(request, ApiToken, pk=pk)
    token_revoke(token=token, actor_membership=current_membership(request))
    return change_done(request, "api-tokens", success=f"Token “{token.name}” revoked: it no longer works.")
