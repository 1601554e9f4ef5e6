"""API tokens: made, revoked and checked here, independent of any web framework (the REST API and, later, the MCP
server authenticate through ``token_authenticate``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from kiestudio.api.models import SCOPE_ROLE, ApiSpend, ApiToken, Scope
from kiestudio.core.credits import format_credits
from kiestudio.usage.models import Hold, UsageEntry
from kiestudio.usage.services import month_start
from kiestudio.workspaces.audit import audit_record
from kiestudio.workspaces.models import Membership, Role, Workspace
from kiestudio.workspaces.services import NotAllowed, WorkspaceError

TOKEN_PREFIX = "ks_"
EXPIRY_CHOICES = {"never": None, "30": 30, "90": 90, "365": 365}
LAST_USED_EVERY = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200


class TokenError(Exception):
    """The token can't be used: unknown, revoked or expired (a 401)."""


class TokenUnknown(TokenError):
    pass


class TokenRevoked(TokenError):
    pass


class TokenExpired(TokenError):
    pass


class ScopeMissing(Exception):
    """The token may not do this (a 403)."""


class TokenCapExceeded(Exception):
    """The token's own monthly cap would be passed."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    raw: str  # shown once, never stored


def token_create(
    *,
    workspace: Workspace,
    actor_membership: Membership,
    name: str,
    scopes: list[str],
    monthly_cap: Decimal | None = None,
    expires_at: datetime | None = None,
) -> NewToken:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can make API tokens.")
    name = " ".join(name.split())[:80]
    if not name:
        raise WorkspaceError("Give the token a name, like “Build server”.")
    chosen = [scope for scope in Scope.values if scope in scopes]
    if not chosen:
        raise WorkspaceError("Choose at least one scope: read, generate or chat.")
    if expires_at is not None and expires_at <= timezone.now():
        raise WorkspaceError("The expiry date must be in the future.")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        workspace=workspace,
        name=name,
        prefix=prefix,
        token_hash=_hash(raw),
        scopes=chosen,
        monthly_cap=monthly_cap,
        expires_at=expires_at,
        created_by=actor_membership.user,
    )
    audit_record(
        workspace=workspace,
        actor=actor_membership.user,
        action="api.token_created",
        target=token.label,
        scopes=chosen,
        monthly_cap=str(monthly_cap) if monthly_cap is not None else None,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return NewToken(token, raw)


def token_revoke(*, token: ApiToken, actor_membership: Membership) -> ApiToken:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can revoke API tokens.")
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(
        revoked_at=timezone.now(), revoked_by=actor_membership.user
    )
    if updated:
        audit_record(
            workspace=token.workspace, actor=actor_membership.user, action="api.token_revoked", target=token.label
        )
    token.refresh_from_db()
    return token


def token_authenticate(raw: str) -> ApiToken:
    """The active token ``raw`` names, or TokenUnknown / TokenRevoked / TokenExpired. Marks it used (at most one
    write a minute: a conditional update, so concurrent requests don't all write)."""
    raw = (raw or "").strip()
    if len(raw) > MAX_TOKEN_LENGTH or not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        raise TokenUnknown("Unknown API token.")
    prefix = raw[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("workspace", "created_by").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash(raw)):
        raise TokenUnknown("Unknown API token.")
    if token.revoked_at is not None:
        raise TokenRevoked("This API token was revoked.")
    if token.is_expired:
        raise TokenExpired("This API token has expired.")
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_EVERY:
        stale = ApiToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at)
        if stale.update(last_used_at=now):
            token.last_used_at = now
    return token


def token_membership(*, token: ApiToken, scope: str) -> Membership:
    """The membership the token acts as, for ``scope``: its creator's, as long as they still hold the role the
    scope needs (else ScopeMissing)."""
    if scope not in token.scopes:
        raise ScopeMissing(f"This token lacks the “{scope}” scope.")
    membership = (
        Membership.objects.select_related("user", "workspace")
        .filter(workspace=token.workspace_id, user=token.created_by_id)
        .first()
    )
    if membership is None:
        raise ScopeMissing("The person who made this token is no longer a member of the workspace.")
    needed = SCOPE_ROLE[Scope(scope)]
    if not membership.has_role(needed):
        raise ScopeMissing(
            f"The “{scope}” scope needs its maker to be at least {Role(needed).label.lower()} in the workspace."
        )
    return membership


def token_spent_this_month(*, token: ApiToken) -> Decimal:
    """What the token's purchases were charged this month, plus what they hold, from the usage ledger."""
    since = month_start()
    sources = ApiSpend.objects.filter(token=token).values("source")
    charged = UsageEntry.objects.filter(source__in=sources, created_at__gte=since).aggregate(t=Sum("credits"))["t"]
    held = Hold.objects.filter(source__in=sources, created_at__gte=since).aggregate(t=Sum("credits"))["t"]
    return (charged or Decimal(0)) + (held or Decimal(0))


def token_cap_check(*, token: ApiToken, cost: Decimal) -> None:
    if token.monthly_cap is None:
        return
    left = token.monthly_cap - token_spent_this_month(token=token)
    if cost > left:
        raise TokenCapExceeded(
            f"This would go over the token's monthly cap: it costs about {format_credits(cost)} credits and "
            f"{format_credits(max(left, Decimal(0)))} of {format_credits(token.monthly_cap)} are left this month."
        )
