"""The workspace's queue in the creator's hands: pause and resume it, hold and release rows (a paused batch), move a
queued row up or down, and what is waiting and running with estimated start and finish times.

The queue's order is ``next_check_at``: when each queued row became due. The dispatcher hands out due, unheld
rows of unpaused workspaces in that order (``scheduler.dispatch_due``), paced by Kie's create limit, so moving a
row swaps its time with its neighbour's, and an estimate is the row's place in line divided by that limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio.models import PENDING, Generation, Status
from kiestudio.studio.services.scheduler import _create_bucket, dispatch_due
from kiestudio.workspaces.audit import A, audit_record
from kiestudio.workspaces.models import Workspace
from kiestudio.workspaces.services import workspace_kie_key


class QueueError(Exception):
    """A queue change that can't be made; the message is safe to show."""


def queue_pause(*, workspace: Workspace, user) -> bool:
    """Stop sending queued jobs (running ones go on). Returns False if it was already paused."""
    paused = Workspace.objects.filter(pk=workspace.pk, queue_paused_at__isnull=True).update(
        queue_paused_at=timezone.now()
    )
    if paused:
        audit_record(workspace=workspace, actor=user, action=A.QUEUE_PAUSED, target="the queue")
    workspace.refresh_from_db(fields=["queue_paused_at"])
    return bool(paused)


def queue_resume(*, workspace: Workspace, user) -> bool:
    resumed = Workspace.objects.filter(pk=workspace.pk, queue_paused_at__isnull=False).update(queue_paused_at=None)
    if resumed:
        audit_record(workspace=workspace, actor=user, action=A.QUEUE_RESUMED, target="the queue")
        transaction.on_commit(lambda: dispatch_due())
    workspace.refresh_from_db(fields=["queue_paused_at"])
    return bool(resumed)


def generations_hold(*, generations: QuerySet[Generation]) -> int:
    """Hold queued rows back (a batch paused); rows already sent are not affected."""
    return generations.filter(status=Status.QUEUED, held_at__isnull=True).update(held_at=timezone.now())


def generations_release(*, generations: QuerySet[Generation]) -> int:
    released = generations.filter(held_at__isnull=False).update(held_at=None)
    if released:
        transaction.on_commit(lambda: dispatch_due())
    return released


def queued(workspace: Workspace) -> QuerySet[Generation]:
    """The workspace's queued rows in the order they will be sent."""
    return Generation.objects.filter(workspace=workspace, status=Status.QUEUED).order_by("next_check_at", "pk")


def queue_size(workspace: Workspace) -> int:
    """How many jobs are waiting or running: one COUNT over the (workspace, status) index, for the nav's badge."""
    return Generation.objects.filter(workspace=workspace, status__in=PENDING).count()


def generation_move(*, generation: Generation, direction: str) -> bool:
    """Swap a queued row with the one before ("up") or after ("down") it. False at either end of the queue."""
    if direction not in ("up", "down"):
        raise QueueError("Move a job up or down.")
    with transaction.atomic():
        row = Generation.objects.select_for_update().filter(pk=generation.pk, status=Status.QUEUED).first()
        if row is None or row.next_check_at is None:
            raise QueueError(
                "That job is no longer waiting: it has been sent to Kie or has ended, so it can't be moved."
            )
        line = queued(row.workspace).select_for_update()
        # Rows made by one click share a time (their order is by id): a microsecond apart first, in that order.
        ties = list(line.filter(next_check_at=row.next_check_at).order_by("pk").values_list("pk", flat=True))
        if len(ties) > 1:
            for offset, pk in enumerate(ties):
                line.filter(pk=pk).update(next_check_at=row.next_check_at + timedelta(microseconds=offset))
            row.refresh_from_db(fields=["next_check_at"])
        mine = row.next_check_at
        assert mine is not None
        if direction == "up":
            other = line.filter(next_check_at__lt=mine).order_by("-next_check_at", "-pk").first()
        else:
            other = line.filter(next_check_at__gt=mine).order_by("next_check_at", "pk").first()
        if other is None or other.next_check_at is None:
            return False
        line.filter(pk=row.pk).update(next_check_at=other.next_check_at)
        line.filter(pk=other.pk).update(next_check_at=mine)
    return True


@dataclass
class QueueEntry:
    generation: Generation
    position: int | None  # 1 = sent next; None once it is running
    starts_at: datetime | None  # estimated; None while the queue or its batch is paused
    finishes_at: datetime | None

    @property
    def held(self) -> bool:
        return self.generation.held_at is not None


def _typical(model_key: str) -> float:
    try:
        return float(get_model(model_key).typical_seconds)
    except UnknownModel:
        return 60.0


def queue_entries(*, workspace: Workspace, limit: int = 500) -> list[QueueEntry]:
    """Running jobs, then queued ones in order, each with an estimated start and finish: a queued row starts when
    the create slots before it have gone (Kie's limit per window, shared by the account), and takes its model's
    typical time."""
    now = timezone.now()
    running = (
        Generation.objects.filter(workspace=workspace, status__in=[s for s in PENDING if s != Status.QUEUED])
        .select_related("created_by")
        .order_by("submitted_at", "pk")
    )
    entries = [
        QueueEntry(g, None, g.submitted_at, (g.submitted_at or now) + timedelta(seconds=_typical(g.model_key)))
        for g in running[:limit]
    ]
    per_window, window = queue_create_limit(workspace)
    paused = workspace.queue_paused_at is not None
    ahead = 0  # unheld rows before this one: they take the create slots first
    for position, generation in enumerate(queued(workspace).select_related("created_by")[:limit], start=1):
        if paused or generation.held_at is not None:
            entries.append(QueueEntry(generation, position, None, None))
            continue
        start = now + timedelta(seconds=(ahead // max(per_window, 1)) * window)
        ahead += 1
        entries.append(
            QueueEntry(generation, position, start, start + timedelta(seconds=_typical(generation.model_key)))
        )
    return entries


def generations_cancel_queued(*, generations: Iterable[Generation]) -> int:
    """Cancel rows that are still waiting (nothing was sent, so nothing is charged); others are left alone. The
    change is conditional on the row still being queued, so one a worker has just started sending stays as it is."""
    from kiestudio.studio.services.lifecycle import generation_cancel

    return sum(1 for g in generations if g.status == Status.QUEUED and generation_cancel(generation=g))


def queue_create_limit(workspace: Workspace) -> tuple[int, float]:
    """Kie's create limit for this workspace's account: how many jobs may start in how many seconds."""
    _, per_window, window = _create_bucket(workspace_kie_key(workspace))
    return per_window, window
