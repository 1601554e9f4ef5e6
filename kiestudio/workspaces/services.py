"""Team workspaces: members and roles, invitations, the Kie key and the workspace's settings.

Every change that matters to a team is recorded as an AuditEvent (``workspaces.audit``) by the function that
makes it; budgets, caps and the ledger are the ``usage`` app's. Permission
checks that depend on who is acting (an admin can't touch an owner; the last owner can't leave) live here, so
every view gets them; the coarse "needs at least this role" check is the view's ``require_role``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from kiestudio.core import crypto
from kiestudio.core.kie import kie_client
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.kie.catalog.chat import get_chat_model
from kiestudio.kie.errors import KieError
from kiestudio.workspaces.audit import A, audit_record, who
from kiestudio.workspaces.files import workspace_files, workspace_files_delete_later
from kiestudio.workspaces.models import INVITATION_DAYS, ROLE_RANK, Invitation, Membership, Role, Workspace

BALANCE_CACHE_SECONDS = 300


class WorkspaceError(Exception):
    """A team change that can't be made; the message is safe to show."""


class NotAllowed(WorkspaceError):
    """The change needs a role the person doesn't have here (views answer 403)."""


# --- Workspaces -----------------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise WorkspaceError("Give the workspace a name.")
    if len(name) > 80:
        raise WorkspaceError("A workspace name can be at most 80 characters.")
    return name


@transaction.atomic
def workspace_create(*, name: str, owner, is_personal: bool = False) -> Workspace:
    workspace = Workspace(name=_clean_name(name), is_personal=is_personal, created_by=owner)
    workspace.full_clean()
    workspace.save()
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    if not is_personal:
        audit_record(workspace=workspace, actor=owner, action=A.WORKSPACE_CREATED, target=workspace.name)
    return workspace


def workspace_create_personal(*, user) -> Workspace:
    return workspace_create(name=f"{user.display_name}'s studio"[:80], owner=user, is_personal=True)


def workspace_ensure_for_user(*, user) -> Membership:
    """The user's first membership, creating a personal workspace for a user who has none."""
    membership = Membership.objects.filter(user=user).select_related("workspace").order_by("created_at", "pk").first()
    if membership is None:
        workspace = workspace_create_personal(user=user)
        membership = Membership.objects.select_related("workspace").get(workspace=workspace, user=user)
    return membership


def workspace_rename(*, workspace: Workspace, actor, name: str) -> Workspace:
    name = _clean_name(name)
    if name != workspace.name:
        old = workspace.name
        workspace.name = name
        workspace.save(update_fields=["name"])
        audit_record(workspace=workspace, actor=actor, action=A.WORKSPACE_RENAMED, target=name, previous=old)
    return workspace


def workspace_delete(*, workspace: Workspace, actor, confirm: str) -> None:
    """Delete the workspace and everything in it, files included. The owner types the name to confirm.

    The database cascades the rows; the files each feature holds (``workspaces.files``) are collected before
    the rows go and deleted in batches by the worker after the deletion commits."""
    if confirm.strip() != workspace.name:
        raise WorkspaceError(f"Type the workspace's name, “{workspace.name}”, exactly, to delete it.")
    held = workspace_files(workspace)
    with transaction.atomic():
        audit_record(workspace=workspace, actor=actor, action=A.WORKSPACE_DELETED, target=workspace.name)
        workspace.delete()
    transaction.on_commit(lambda: workspace_files_delete_later(held))


def ownership_transfer(*, workspace: Workspace, actor_membership: Membership, to: Membership) -> None:
    """The owner hands the workspace to another member, and stays on as an admin."""
    if actor_membership.role != Role.OWNER:
        raise NotAllowed("Only an owner can transfer ownership.")
    if to.workspace_id != workspace.pk or to.pk == actor_membership.pk:
        raise WorkspaceError("Pick another member of this workspace.")
    with transaction.atomic():
        Membership.objects.filter(pk=to.pk).update(role=Role.OWNER)
        Membership.objects.filter(pk=actor_membership.pk).update(role=Role.ADMIN)
        audit_record(
            workspace=workspace,
            actor=actor_membership.user,
            action=A.OWNERSHIP_TRANSFERRED,
            target=who(to.user),
        )


# --- Members --------------------------------------------------------------------------------------------------


def _owners(workspace_id: int) -> int:
    return Membership.objects.filter(workspace_id=workspace_id, role=Role.OWNER).count()


def member_change_role(*, membership: Membership, actor_membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise WorkspaceError("Pick one of the roles: owner, admin, member or viewer.")
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can change roles.")
    if actor_membership.role != Role.OWNER and Role.OWNER in (membership.role, role):
        raise NotAllowed("Only an owner can make someone an owner, or change an owner's role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owners(membership.workspace_id) <= 1:
        raise WorkspaceError("A workspace needs an owner: make someone else owner first.")
    if role != membership.role:
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            workspace=membership.workspace,
            actor=actor_membership.user,
            action=A.ROLE_CHANGED,
            target=who(membership.user),
            previous=old,
            role=role,
        )
    return membership


def member_remove(*, membership: Membership, actor_membership: Membership) -> None:
    if membership.pk == actor_membership.pk:
        member_leave(membership=membership)
        return
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can remove members.")
    if membership.role == Role.OWNER and actor_membership.role != Role.OWNER:
        raise NotAllowed("Only an owner can remove an owner.")
    if membership.role == Role.OWNER and _owners(membership.workspace_id) <= 1:
        raise WorkspaceError("A workspace needs an owner.")
    workspace = membership.workspace
    membership.delete()
    audit_record(workspace=workspace, actor=actor_membership.user, action=A.MEMBER_REMOVED, target=who(membership.user))


def member_leave(*, membership: Membership) -> None:
    if membership.role == Role.OWNER and _owners(membership.workspace_id) <= 1:
        raise WorkspaceError(
            "You're the last owner, so you can't leave: make someone else owner first, or delete the workspace."
        )
    workspace = membership.workspace
    membership.delete()
    audit_record(workspace=workspace, actor=membership.user, action=A.MEMBER_LEFT, target=who(membership.user))


# --- Invitations ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # shown once, in the link; only its hash is stored
    emailed: bool


LINK_USES = (1, 5, 10, 25, None)  # how many people a link may let in (None: no limit)
LINK_DAYS = (1, 7, 30)


def invitation_create(
    *,
    workspace: Workspace,
    actor_membership: Membership,
    role: str,
    email: str = "",
    link_base: str = "",
    max_uses: int | None = 1,
    days: int = INVITATION_DAYS,
) -> NewInvitation:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can invite people.")
    if role not in Role.values:
        raise WorkspaceError("Pick a role for the invitation.")
    if ROLE_RANK[Role(role)] > ROLE_RANK[Role(actor_membership.role)]:
        raise NotAllowed("You can't invite someone with a higher role than your own.")
    email = (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise WorkspaceError("Enter a valid email address, or leave it empty for a link anyone can use.") from None
    if email and workspace.memberships.filter(user__email__iexact=email).exists():
        raise WorkspaceError(f"{email} is already a member of {workspace.name}.")
    if days not in LINK_DAYS:
        raise WorkspaceError("Choose how long the invitation lasts: 1, 7 or 30 days.")
    if email:
        max_uses = 1  # an email invitation is for that person
    elif max_uses not in LINK_USES:
        raise WorkspaceError("Choose how many people the link may let in.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=Invitation.hash_token(token),
        token_encrypted="" if email else crypto.encrypt(token),
        created_by=actor_membership.user,
        expires_at=timezone.now() + timedelta(days=days),
        max_uses=max_uses,
    )
    audit_record(
        workspace=workspace,
        actor=actor_membership.user,
        action=A.MEMBER_INVITED,
        target=email or "anyone with the link",
        role=role,
    )
    emailed = bool(email) and _send_invitation(invitation, f"{link_base}{token}/", actor_membership.user)
    return NewInvitation(invitation, token, emailed)


def _send_invitation(invitation: Invitation, link: str, inviter) -> bool:
    context = {"invitation": invitation, "link": link, "inviter": inviter}
    try:
        send_mail(
            subject=f"{inviter.display_name} invited you to {invitation.workspace.name} on Kie Studio",
            message=render_to_string("workspaces/email/invitation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[invitation.email],
            html_message=render_to_string("workspaces/email/invitation.html", context),
        )
    except Exception:  # the link is shown to the inviter anyway; they can share it by hand
        return False
    return True


def invitation_find(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("workspace", "created_by")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )


def invitation_revoke(*, invitation: Invitation, actor_membership: Membership) -> None:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can revoke invitations.")
    if invitation.state != "open":
        raise WorkspaceError(f"That invitation is already {invitation.state}.")
    invitation.revoked_at = timezone.now()
    invitation.revoked_by = actor_membership.user
    invitation.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        workspace=invitation.workspace,
        actor=actor_membership.user,
        action=A.INVITATION_REVOKED,
        target=invitation.email or "a link invitation",
    )


class InvitationUnusable(WorkspaceError):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


def invitation_check(invitation: Invitation | None, user=None) -> None:
    """Raise InvitationUnusable with a page-ready message if the invitation can't be accepted (by ``user``)."""
    if invitation is None:
        raise InvitationUnusable("unknown", "This invitation link isn't valid. Check that you copied all of it.")
    workspace = invitation.workspace.name
    if invitation.state == "accepted":
        raise InvitationUnusable("accepted", f"This invitation to {workspace} has already been used.")
    if invitation.state == "revoked":
        raise InvitationUnusable("revoked", f"This invitation to {workspace} was withdrawn by an admin.")
    if invitation.state == "expired":
        raise InvitationUnusable(
            "expired", f"This invitation to {workspace} expired on {invitation.expires_at:%d %B %Y}. Ask for a new one."
        )
    if user is not None and invitation.email and user.email.lower() != invitation.email.lower():
        raise InvitationUnusable(
            "other-email",
            f"This invitation was sent to {invitation.email}. Sign in with that address to accept it.",
        )


def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Join the workspace: once for an email invitation, up to ``max_uses`` people for a link; a member who opens
    it again is simply taken to the workspace.

    Safe under races: of many people accepting one link at once, the single conditional UPDATE lets exactly one
    in and the others get ``InvitationUnusable`` ("already used"); the same person clicking twice gets their
    membership both times. Nothing of a losing attempt is kept."""
    existing = Membership.objects.filter(workspace=invitation.workspace, user=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            open_now = Invitation.objects.filter(
                pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
            )
            if invitation.max_uses is not None:
                open_now = open_now.filter(uses__lt=F("max_uses"))
            used = open_now.update(uses=F("uses") + 1, accepted_by=user)
            # The last use it allows closes it (one for an email invitation).
            Invitation.objects.filter(
                pk=invitation.pk, max_uses__isnull=False, uses__gte=F("max_uses"), accepted_at__isnull=True
            ).update(accepted_at=timezone.now())
            if not used:
                invitation.refresh_from_db()
                if invitation.accepted_by_id == user.pk:  # this person's other click won the race
                    mine = Membership.objects.filter(workspace=invitation.workspace, user=user).first()
                    if mine is not None:
                        return mine
                invitation_check(invitation, user)
                raise InvitationUnusable("unknown", "This invitation can't be used any more. Ask for a new one.")
            membership = Membership.objects.create(workspace=invitation.workspace, user=user, role=invitation.role)
            audit_record(
                workspace=invitation.workspace,
                actor=user,
                action=A.MEMBER_JOINED,
                target=who(user),
                role=invitation.role,
            )
    except IntegrityError:
        # Joined another way meanwhile: the invitation's update rolled back with the membership, so it stays open.
        existing = Membership.objects.filter(workspace=invitation.workspace, user=user).first()
        if existing is None:
            raise
        return existing
    return membership


# --- The Kie key ----------------------------------------------------------------------------------------------


def workspace_kie_key(workspace: Workspace | int) -> str:
    """The Kie key jobs of this workspace use: its own, else the studio's KIE_API_KEY (or the simulator's).
    Pass the Workspace when it is at hand (no query); an id costs one small query."""
    encrypted: str | None
    if isinstance(workspace, Workspace):
        encrypted = workspace.kie_key_encrypted
    else:
        encrypted = Workspace.objects.filter(pk=workspace).values_list("kie_key_encrypted", flat=True).first()
    return crypto.decrypt(encrypted) if encrypted else (settings.KIE_API_KEY or "")


def kie_key_check(key: str) -> Decimal:
    """Read the credit balance with ``key``: Kie's own reason if it is refused."""

    try:
        with kie_client(api_key=key, retries=0) as client:
            return Decimal(str(client.get_credits()))
    except KieError as exc:
        reason = exc.kie_message or exc.user_message
        raise WorkspaceError(f"Kie refused the key: {reason}") from exc


def workspace_set_key(*, workspace: Workspace, actor, key: str) -> Decimal:
    """Check the key with Kie (reading the balance), then store it encrypted. Returns the balance."""
    key = (key or "").strip()
    if not key:
        raise WorkspaceError("Paste the Kie API key from kie.ai (API keys page).")
    if len(key) > 200 or any(c.isspace() for c in key) or not (key.isascii() and key.isprintable()):
        raise WorkspaceError("That doesn't look like a Kie API key: it has spaces or is far too long.")
    balance = kie_key_check(key)
    workspace.kie_key_encrypted = crypto.encrypt(key)
    workspace.kie_key_last4 = key[-4:]
    workspace.kie_key_changed_at = timezone.now()
    workspace.save(update_fields=["kie_key_encrypted", "kie_key_last4", "kie_key_changed_at"])
    cache.set(_balance_key(key), (str(balance), timezone.now().isoformat()), BALANCE_CACHE_SECONDS)
    audit_record(workspace=workspace, actor=actor, action=A.KEY_CHANGED, target=f"key ending {key[-4:]}")
    return balance


def workspace_clear_key(*, workspace: Workspace, actor) -> None:
    if not workspace.kie_key_encrypted:
        return
    workspace.kie_key_encrypted = ""
    workspace.kie_key_last4 = ""
    workspace.kie_key_changed_at = timezone.now()
    workspace.save(update_fields=["kie_key_encrypted", "kie_key_last4", "kie_key_changed_at"])
    audit_record(workspace=workspace, actor=actor, action=A.KEY_CHANGED, target="removed; the studio's key is used")


def workspace_webhook_key(workspace: Workspace) -> str:
    if workspace.webhook_key_encrypted:
        return crypto.decrypt(workspace.webhook_key_encrypted)
    return settings.KIE_WEBHOOK_HMAC_KEY or ""


def workspace_set_webhook_key(*, workspace: Workspace, actor, key: str) -> None:
    key = (key or "").strip()
    if len(key) > 200:
        raise WorkspaceError("That webhook key is too long.")
    workspace.webhook_key_encrypted = crypto.encrypt(key) if key else ""
    workspace.save(update_fields=["webhook_key_encrypted"])
    audit_record(workspace=workspace, actor=actor, action=A.WEBHOOK_KEY_CHANGED, target="set" if key else "removed")


def workspace_set_defaults(*, workspace: Workspace, actor, generate_model: str, chat_model: str) -> None:

    try:
        if generate_model and get_model(generate_model).followup_only:
            raise WorkspaceError("That model is made from an earlier result, so it can't be the Generate default.")
        if chat_model:
            get_chat_model(chat_model)
    except UnknownModel as exc:
        raise WorkspaceError(f"There is no model called “{exc.args[0]}”.") from None
    if (generate_model, chat_model) != (workspace.default_generate_model, workspace.default_chat_model):
        workspace.default_generate_model = generate_model
        workspace.default_chat_model = chat_model
        workspace.save(update_fields=["default_generate_model", "default_chat_model"])
        audit_record(
            workspace=workspace,
            actor=actor,
            action=A.DEFAULTS_CHANGED,
            target=", ".join(m for m in (generate_model, chat_model) if m) or "studio defaults",
        )


def workspace_set_chat_titles(*, workspace: Workspace, actor, enabled: bool) -> None:
    """Whether the cheapest chat model names each new conversation after its first reply (charged like a reply)."""
    if enabled != workspace.chat_ai_titles:
        workspace.chat_ai_titles = enabled
        workspace.save(update_fields=["chat_ai_titles"])
        audit_record(workspace=workspace, actor=actor, action=A.CHAT_TITLES_CHANGED, target="on" if enabled else "off")


def _balance_key(kie_key: str) -> str:
    # The balance belongs to the Kie account, so it is cached per key (a fingerprint, never the key itself):
    # workspaces on the same key share it, and a new key starts fresh.
    return "kiestudio:balance:" + hashlib.sha256(f"balance:{kie_key}".encode()).hexdigest()[:32]


def workspace_balance(
    *, workspace: Workspace, refresh: bool = False, max_age: float | None = None
) -> tuple[Decimal | None, str]:
    """The Kie credit balance (cached for a few minutes) and when it was read; None if Kie can't tell us.

    ``max_age`` (seconds) asks for a fresher reading than the cache's few minutes, e.g. right after work finished;
    ``refresh`` always asks Kie."""
    try:
        key = workspace_kie_key(workspace)
    except crypto.SecretUnreadable:
        return None, ""
    hit = None if refresh else cache.get(_balance_key(key))
    if hit and max_age is not None:
        age = (timezone.now() - datetime.fromisoformat(hit[1])).total_seconds()
        hit = hit if age <= max_age else None
    if hit:
        return Decimal(hit[0]), hit[1]
    try:
        balance = kie_key_check(key)
    except WorkspaceError:
        return None, ""
    read_at = timezone.now().isoformat()
    cache.set(_balance_key(key), (str(balance), read_at), BALANCE_CACHE_SECONDS)
    return balance, read_at
