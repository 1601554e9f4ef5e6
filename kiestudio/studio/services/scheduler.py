"""Step 4: who works on what, and when. Leases, the dispatcher's hand-out of due rows (paced by Kie's create
limit), the sweeper that re-drives anything a dead worker left, and the poll schedule."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from kiestudio.core.kie import callbacks_reachable, kie_client
from kiestudio.core.links import public_url
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.kie.catalog import (
    FAMILIES,
    ModelSpec,
)
from kiestudio.kie.http import account_id
from kiestudio.studio.models import (
    PENDING,
    CallbackReceipt,
    Generation,
    Status,
)
from kiestudio.studio.services.lifecycle import _unknown_fields, transition
from kiestudio.workspaces.services import workspace_kie_key

# --- Scheduling: nudges, the dispatcher and the sweeper -----------------------------------------------------


def _lease_seconds() -> float:
    return float(getattr(settings, "STUDIO_LEASE_SECONDS", 90))


def _due(now) -> QuerySet[Generation]:
    """Pending rows whose next check has come and that no worker holds a live lease on."""
    return Generation.objects.filter(status__in=PENDING, next_check_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def generation_claim(*, generation_id: int) -> uuid.UUID | None:
    """Lease a due generation for one worker step; None when it is not due or another worker holds it."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        _due(now)
        .filter(pk=generation_id)
        .update(lease_until=now + timedelta(seconds=_lease_seconds()), lease_token=token)
    )
    return token if claimed else None


def generation_nudge(*, generation_id: int) -> bool:
    """Hand a due generation to a worker now. Only a nudge: if it is lost, the dispatcher finds the row."""
    from django_q.tasks import async_task

    token = generation_claim(generation_id=generation_id)
    if token is None:
        return False
    async_task("kiestudio.studio.tasks.generation_advance_task", generation_id, str(token), group="generations")
    return True


def dispatch_due(*, limit: int = 50) -> int:
    """Lease and hand out due generations (the dispatcher loop calls this several times a second).

    Submits are paced by the shared limiter: only as many queued jobs are handed out as there are free create
    slots right now, so the task queue never fills with jobs waiting for a slot while callbacks, status reads
    and storing wait behind them."""
    now = timezone.now()
    due = _due(now).order_by("next_check_at", "pk")  # the queue's order (rows of one click share a time)
    handed = sum(
        1
        for pk in due.exclude(status=Status.QUEUED).values_list("pk", flat=True)[:limit]
        if generation_nudge(generation_id=pk)
    )

    # Jobs already handed out but not yet sent will take slots too. Each Kie account (a workspace's own key, or
    # the studio's) has its own slots.
    def account(workspace_id: int) -> str:
        return account_id(workspace_kie_key(workspace_id))

    in_flight: dict[str, int] = {}
    busy = Generation.objects.filter(status__in=(Status.QUEUED, Status.SUBMITTING), lease_until__gt=now)
    for workspace_id in busy.values_list("workspace_id", flat=True):
        in_flight[account(workspace_id)] = in_flight.get(account(workspace_id), 0) + 1
    free: dict[str, int] = {}
    submits = 0
    # A held row (its batch paused) or a paused workspace's queue waits; everything else goes in queue order.
    sendable = due.filter(status=Status.QUEUED, held_at__isnull=True, workspace__queue_paused_at__isnull=True)
    for pk, workspace_id in sendable.values_list("pk", "workspace_id")[: limit * 4]:
        name = account(workspace_id)
        if name not in free:
            free[name] = _free_create_slots(workspace_kie_key(workspace_id)) - in_flight.get(name, 0)
        if free[name] > 0 and submits < limit and generation_nudge(generation_id=pk):
            free[name] -= 1
            submits += 1
    return handed + submits


def _create_bucket(api_key: str) -> tuple[str, int, float]:
    """The shared limiter bucket, limit and window every create of this Kie account goes through."""
    with kie_client(api_key=api_key) as probe:
        return probe.create_bucket()


# A create slot that frees up within this long counts as free when jobs are handed out. The dispatcher looks a few
# times a second and a worker takes a moment to pick a job up, so handing out only slots free this instant left
# each one empty for a few hundred milliseconds: 500 creates took 2.19 s per 20 against a 2.05 s window (issue 18).
# The worker waits out the rest (well under MAX_SLOT_WAIT), so the job is sent the moment its slot frees.
SLOT_LOOKAHEAD = 0.4


def _free_create_slots(api_key: str) -> int:
    bucket, limit, window = _create_bucket(api_key)
    return shared_limiter().available(bucket, limit=limit, window=max(window - SLOT_LOOKAHEAD, 0.001))


def sweep() -> dict[str, int]:
    """Re-drive anything stalled. A worker killed mid-step leaves its lease to expire; then:
    - SUBMITTING with no create sent: nothing reached Kie, so it goes back to the queue;
    - SUBMITTING with a create sent: Kie may have accepted it, so it becomes UNKNOWN (never resent);
    - any other pending row without a next check gets one now."""
    now = timezone.now()
    counts = {"requeued": 0, "unknown": 0, "rescheduled": 0}
    stalled = Generation.objects.filter(status=Status.SUBMITTING, lease_until__lt=now)
    for generation in stalled:
        settled = _settle_abandoned_submit(generation)
        if settled:
            counts[settled] += 1
    CallbackReceipt.objects.filter(received_at__lt=now - timedelta(days=1)).delete()
    counts["rescheduled"] = Generation.objects.filter(
        status__in=(Status.QUEUED, Status.SUBMITTED, Status.STORING), next_check_at__isnull=True
    ).update(next_check_at=now)
    return counts


def _settle_abandoned_submit(generation: Generation, *, token: uuid.UUID | None = None) -> str | None:
    """A SUBMITTING row whose worker died: back to the queue if no create was sent (nothing reached Kie), else
    UNKNOWN (Kie may have accepted it; never resent). Returns "requeued", "unknown", or None if another
    process settled it first."""
    if generation.create_sent_at is None:
        moved = transition(
            generation,
            Status.QUEUED,
            note="Worker stopped before sending; queued again",
            fields={"next_check_at": timezone.now(), "lease_until": None},
            lease_token=token,
        )
        return "requeued" if moved else None
    moved = transition(
        generation,
        Status.UNKNOWN,
        note="Worker stopped after sending the create call",
        fields=_unknown_fields(),
        lease_token=token,
    )
    return "unknown" if moved else None


def _poll_scale() -> float:
    return float(getattr(settings, "STUDIO_POLL_SCALE", 1.0))


def callback_url_for(spec: ModelSpec) -> tuple[str | None, bool]:
    """The callback URL to send, and whether we expect Kie to use it. Families that require a callback (Suno)
    always get one, even when callbacks are off and we poll."""
    from django.urls import reverse

    enabled = callbacks_reachable()[0]
    # Veo's 4K result comes only by callback (there is nothing to poll).
    required = bool(FAMILIES[spec.family].get("callback_required")) or spec.operation == "veo_4k"
    if not (enabled or required):
        return None, False
    url = public_url(reverse("kie-callback", args=[settings.KIE_CALLBACK_TOKEN]))
    return url, enabled


def first_poll_delay(spec: ModelSpec, *, callbacks: bool) -> float:
    # With callbacks on, the first read waits past the typical duration: the callback usually comes first.
    typical = max(spec.typical_seconds, 2)
    delay = typical * 1.5 if callbacks else max(2.0, typical * 0.5)
    return delay * _poll_scale()


def next_poll_delay(elapsed: float) -> float:
    """Every 2–3 s at first, about every 10 s after half a minute, up to 30 s after a few minutes (Kie's advice)."""
    return min(max(2.0, elapsed * 0.25), 30.0) * _poll_scale()


class _SlotBusy(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"No create slot free for {wait:.2f} s")
        self.wait = wait


MAX_SLOT_WAIT = 1.0


class _SubmitLimiter:
    """The shared limiter as one submit sees it. A worker never sleeps long for a create slot: if none frees up
    within MAX_SLOT_WAIT it raises _SlotBusy, and the job goes back to the queue due when a slot frees, leaving
    the worker free for status reads and storing. The moment a slot is granted the create is about to be sent,
    so that is recorded: a worker that dies after this point leaves an UNKNOWN outcome, never a resubmit."""

    def __init__(self, inner, generation: Generation) -> None:
        self.inner = inner
        self.generation = generation

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        if not bucket.startswith("create:"):
            self.inner.acquire(bucket, limit=limit, window=window)
            return
        give_up = time.monotonic() + MAX_SLOT_WAIT
        while True:
            # The slot and the record that the create is going out commit together, and the request follows at
            # once. Written one after the other, the second write waited for SQLite's lock behind other workers, and
            # a create reached Kie as much later than its slot as that wait (one in 500 refused, bench, issue 21).
            with transaction.atomic():
                wait = self.inner.try_acquire(bucket, limit=limit, window=window)
                if wait == 0:
                    Generation.objects.filter(pk=self.generation.pk).update(create_sent_at=timezone.now())
                    return
            if time.monotonic() + wait > give_up:
                raise _SlotBusy(wait)
            time.sleep(wait)


def _first_check(spec: ModelSpec, *, callbacks: bool) -> float:
    if spec.operation == "veo_4k":
        return float(spec.deadline_seconds)  # nothing to poll: wake only to give up if the callback never comes
    return first_poll_delay(spec, callbacks=callbacks)
