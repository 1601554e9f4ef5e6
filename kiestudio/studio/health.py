"""Is background work moving? Read by ``/healthz`` and by the worker supervisor (``manage.py runworker``).

Two signs, both from the database (the only thing every process shares):

- the job dispatcher's heartbeat: the dispatcher runs as a chain of django-q2 tasks and beats every second, so
  a stale beat means tasks no longer reach a worker (a frozen or dead cluster);
- the oldest due job: a poll or a store whose time has come and that no worker holds. Queued jobs waiting for
  a free create slot (Kie's rate limit) are left out: a large batch legitimately waits for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from kiestudio.core.leases import heartbeat_age
from kiestudio.studio.models import PENDING, Generation, Status

DISPATCHER_HEARTBEAT = "studio-dispatcher"


@dataclass(frozen=True)
class JobsHealth:
    ok: bool
    reason: str
    dispatcher_seen_seconds_ago: float | None
    oldest_due_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def jobs_health(*, now=None, bound: float | None = None) -> JobsHealth:
    now = now or timezone.now()
    bound = float(bound if bound is not None else settings.STUDIO_STUCK_SECONDS)
    seen = heartbeat_age(name=DISPATCHER_HEARTBEAT, now=now)
    oldest = (
        Generation.objects.filter(status__in=PENDING, next_check_at__lte=now)
        .exclude(status=Status.QUEUED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_check_at")
        .values_list("next_check_at", flat=True)
        .first()
    )
    oldest_due = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    reasons = []
    if seen is not None and seen > bound:
        reasons.append(f"the job dispatcher was last seen {seen:.0f} s ago")
    if oldest_due > bound:
        reasons.append(f"a due job has waited {oldest_due:.0f} s for a worker")
    reason = "Background work has stopped moving: " + " and ".join(reasons) + "." if reasons else ""
    return JobsHealth(
        ok=not reasons,
        reason=reason,
        dispatcher_seen_seconds_ago=None if seen is None else round(seen, 1),
        oldest_due_seconds=oldest_due,
    )
