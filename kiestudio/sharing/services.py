"""Share links: made by a member, opened by anyone who has the link (and its password, when it has one).

A link that is revoked, expired, or whose item is in the trash opens nothing, exactly as an unknown token does
(``share_open`` raises ``ShareGone`` for all four). Wrong passwords are throttled per link and client through the
shared rate limiter. Every share made and revoked is in the audit log, and so is each visitor's first view."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from kiestudio.batches.models import Batch, BatchItem
from kiestudio.core import crypto
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.gallery.models import Collection
from kiestudio.sharing.models import Share
from kiestudio.studio.models import PENDING, Asset, Generation
from kiestudio.workspaces.audit import audit_record
from kiestudio.workspaces.models import AuditEvent, Workspace

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters
MAX_TOKEN = 64
EXPIRY_DAYS = (1, 7, 30)
MAX_PASSWORD = 128
PASSWORD_TRIES = 10  # wrong passwords allowed per link and client in the window
PASSWORD_WINDOW = 600  # seconds

# How the audit page shows these (it shows an action's stored value when the action has no label of its own).
SHARED = AuditEvent.Action.SHARE_CREATED
REVOKED = AuditEvent.Action.SHARE_REVOKED
VIEWED = AuditEvent.Action.SHARE_VIEWED


class ShareError(Exception):
    """A share that can't be made; ``field`` names the form field the message belongs beside."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ShareGone(Exception):
    """Unknown, revoked, expired, or its item is in the trash: the visitor is told none of these apart."""


class PasswordThrottled(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"Too many wrong passwords for this link. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


@dataclass(frozen=True)
class NewShare:
    share: Share
    token: str  # the link's secret; only its hash finds the share


def expiry_at(*, expiry: str, on: date | None, today: date | None = None) -> datetime | None:
    """When a link chosen to last ``expiry`` ("never", "1", "7", "30" days, or "date": the end of day ``on``)
    stops working."""
    now = timezone.now()
    if expiry == "never":
        return None
    if expiry == "date":
        today = today or timezone.localdate()
        if on is None:
            raise ShareError("expiry_date", "Pick the last day the link works.")
        if on <= today:
            raise ShareError("expiry_date", "The last day must be after today.")
        return timezone.make_aware(datetime.combine(on + timedelta(days=1), time.min))
    if expiry.isdigit() and int(expiry) in EXPIRY_DAYS:
        return now + timedelta(days=int(expiry))
    raise ShareError("expiry", "Choose how long the link works: never, 1, 7 or 30 days, or until a date.")


def share_target_check(*, kind: str, target: object) -> dict[str, object]:
    """The share's target fields for ``kind``, or a ShareError saying why it can't be shared."""
    if kind == Share.Kind.ITEM and isinstance(target, Generation):
        if target.deleted_at is not None:
            raise ShareError("kind", "This item is in the trash: restore it to share it.")
        if target.status in PENDING or not target.assets.exists():
            raise ShareError("kind", "Only a finished item with files can be shared.")
        return {"generation": target}
    if kind == Share.Kind.COLLECTION and isinstance(target, Collection):
        return {"collection": target}
    if kind == Share.Kind.COMPARISON and isinstance(target, Batch):
        if target.source != Batch.Source.COMPARE:
            raise ShareError("kind", "Only a comparison of models can be shared; this batch is a list of prompts.")
        return {"batch": target}
    raise ShareError("kind", "Choose what to share: an item, a collection or a comparison.")


def share_create(
    *,
    workspace: Workspace,
    actor,
    kind: str,
    target: Generation | Collection | Batch,
    password: str = "",
    expires_at: datetime | None = None,
    allow_download: bool = False,
    show_prompt: bool = False,
) -> NewShare:
    """A new link to ``target`` (already fetched within ``workspace``). ``password`` empty: anyone with the link."""
    fields = share_target_check(kind=kind, target=target)
    if getattr(target, "workspace_id", None) != workspace.pk:
        raise ShareError("kind", "That belongs to another workspace.")
    if len(password) > MAX_PASSWORD:
        raise ShareError("password", f"A password can be at most {MAX_PASSWORD} characters.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = Share.objects.create(
        workspace=workspace,
        kind=kind,
        **fields,
        token_hash=Share.hash_token(token),
        token_encrypted=crypto.encrypt(token),
        password_hash=make_password(password) if password else "",
        expires_at=expires_at,
        allow_download=allow_download,
        show_prompt=show_prompt,
        created_by=actor,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=SHARED,
        target=share.target_label,
        access="password" if password else "anyone with the link",
        expires=f"{timezone.localtime(expires_at):%d %b %Y %H:%M}" if expires_at else "never",
        downloads="allowed" if allow_download else "no",
        prompt="shown" if show_prompt else "hidden",
    )
    return NewShare(share, token)


def share_revoke(*, share: Share, actor) -> bool:
    """Stop the link at once. False when it was already revoked."""
    now = timezone.now()
    changed = Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=actor)
    if changed:
        share.revoked_at, share.revoked_by = now, actor
        audit_record(workspace=share.workspace, actor=actor, action=REVOKED, target=share.target_label)
    return bool(changed)


def shares_active(workspace: Workspace) -> QuerySet[Share]:
    """The links that still open, newest first."""
    now = timezone.now()
    return (
        Share.objects.filter(workspace=workspace, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("created_by", "collection", "batch", "generation")
    )


# --- Opening a link -------------------------------------------------------------------------------------------


def share_open(*, token: str) -> Share:
    """The live share this token opens, or ShareGone (unknown, revoked, expired, item in the trash)."""
    if not token or len(token) > MAX_TOKEN or not token.isascii():
        raise ShareGone
    share = (
        Share.objects.select_related("workspace", "generation", "collection", "batch")
        .filter(token_hash=Share.hash_token(token))
        .first()
    )
    if share is None or share.state != "active":
        raise ShareGone
    if share.kind == Share.Kind.ITEM and (share.generation is None or share.generation.deleted_at is not None):
        raise ShareGone
    return share


def share_generations(share: Share) -> list[Generation]:
    """What the link shows, in order, without anything in the trash: the item, the collection's items (newest
    first) or the comparison's results (in the models' order, a row run again by its latest attempt)."""
    media = Prefetch("assets", queryset=Asset.objects.order_by("index"))
    live = Generation.objects.filter(workspace_id=share.workspace_id, deleted_at__isnull=True)
    if share.kind == Share.Kind.ITEM:
        return list(live.filter(pk=share.generation_id or 0).prefetch_related(media))
    if share.kind == Share.Kind.COLLECTION:
        rows = live.filter(collection_memberships__collection_id=share.collection_id or 0)
        return list(rows.order_by("-created_at", "-id").prefetch_related(media)[:200])
    items = BatchItem.objects.filter(batch_id=share.batch_id or 0, generation__retries__isnull=True)
    rows = live.filter(batch_item__in=items).order_by("batch_item__line", "batch_item__pk")
    return list(rows.prefetch_related(media))


def share_asset(*, share: Share, asset_id: int) -> Asset:
    """A file of what was shared (never of anything else, nor of a trashed item), or ShareGone."""
    asset = (
        Asset.objects.select_related("generation")
        .filter(pk=asset_id, workspace_id=share.workspace_id, generation__deleted_at__isnull=True)
        .first()
    )
    if asset is None:
        raise ShareGone
    generation_id = asset.generation_id
    if share.kind == Share.Kind.ITEM:
        shared = generation_id == share.generation_id
    elif share.kind == Share.Kind.COLLECTION:
        shared = Collection.objects.filter(
            pk=share.collection_id or 0, memberships__generation_id=generation_id
        ).exists()
    else:
        shared = BatchItem.objects.filter(batch_id=share.batch_id or 0, generation_id=generation_id).exists()
    if not shared:
        raise ShareGone
    return asset


def _bucket(share: Share, client: str) -> str:
    return f"share-password:{share.pk}:{hashlib.sha256(client.encode()).hexdigest()[:24]}"


def share_unlock(*, share: Share, password: str, client: str) -> bool:
    """Whether ``password`` opens the share. Wrong ones are counted per link and client (``client``: the
    visitor's address): past ``PASSWORD_TRIES`` in ``PASSWORD_WINDOW`` seconds, PasswordThrottled, right or
    wrong, until the window frees a try."""
    limiter = shared_limiter()
    bucket = _bucket(share, client)
    if limiter.available(bucket, limit=PASSWORD_TRIES, window=PASSWORD_WINDOW) <= 0:
        raise PasswordThrottled(max(1, PASSWORD_WINDOW // 60))
    if password and len(password) <= MAX_PASSWORD and check_password(password, share.password_hash):
        return True
    wait = limiter.try_acquire(bucket, limit=PASSWORD_TRIES, window=PASSWORD_WINDOW)
    if wait:
        raise PasswordThrottled(max(1, round(wait / 60)))
    return False


def share_record_view(*, share: Share, first_in_session: bool) -> None:
    """Count a view (one conditional UPDATE: a link revoked meanwhile counts nothing); a visitor's first view in
    their session also goes in the audit log, with the running count."""
    counted = Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
        view_count=F("view_count") + 1, last_viewed_at=timezone.now()
    )
    if counted and first_in_session:
        views = Share.objects.filter(pk=share.pk).values_list("view_count", flat=True).first()
        audit_record(workspace=share.workspace, actor=None, action=VIEWED, target=share.target_label, views=views)
