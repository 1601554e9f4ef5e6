"""The trash: finished generations put aside (restorable for 30 days), then purged with their files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from kiestudio.studio.files import file_names, files_delete_unshared
from kiestudio.studio.models import Asset, Generation
from kiestudio.workspaces.audit import A, audit_record
from kiestudio.workspaces.models import Workspace

TRASH_DAYS = 30


def generations_trash(*, generations: Iterable[Generation], user) -> int:
    """Move finished items to the trash (restorable for 30 days). Running jobs are left alone."""

    chosen = [g for g in generations if not g.is_pending]
    moved = Generation.objects.filter(pk__in=[g.pk for g in chosen], deleted_at__isnull=True).update(
        deleted_at=timezone.now(), deleted_by=user
    )
    if moved:
        words = chosen[0].prompt_text[:80] if moved == 1 else f"{moved} items"
        audit_record(workspace=chosen[0].workspace, actor=user, action=A.GENERATION_DELETED, target=words, count=moved)
    return moved


def generations_restore(*, generations: Iterable[Generation], user=None) -> int:
    """Bring items back from the trash (the audit log says who)."""
    chosen = list(generations)
    restored = Generation.objects.filter(pk__in=[g.pk for g in chosen], deleted_at__isnull=False).update(
        deleted_at=None, deleted_by=None
    )
    if restored:
        words = chosen[0].prompt_text[:80] if restored == 1 else f"{restored} items"
        audit_record(
            workspace=chosen[0].workspace, actor=user, action=A.GENERATION_RESTORED, target=words, count=restored
        )
    return restored


def trash_purge(*, older_than_days: int = TRASH_DAYS, batch: int = 500) -> int:
    """Delete trashed items older than the limit, files included. Returns how many were purged."""

    cutoff = timezone.now() - timedelta(days=older_than_days)
    purged = 0
    per_workspace: dict[int, int] = {}
    while True:
        rows = list(Generation.objects.filter(deleted_at__lt=cutoff).values_list("pk", "workspace_id")[:batch])
        if not rows:
            break
        ids = [pk for pk, _ in rows]
        for _, workspace_id in rows:
            per_workspace[workspace_id] = per_workspace.get(workspace_id, 0) + 1
        names = file_names(Asset.objects.filter(generation_id__in=ids))
        Generation.objects.filter(pk__in=ids).delete()
        files_delete_unshared(names)
        purged += len(ids)
    for workspace in Workspace.objects.filter(pk__in=per_workspace):
        count = per_workspace[workspace.pk]
        audit_record(
            workspace=workspace,
            actor=None,
            action=A.GENERATION_PURGED,
            target=f"{count} items older than {older_than_days} days",
            count=count,
        )
    return purged
