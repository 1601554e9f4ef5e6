"""django-q2 tasks: thin nudges that take ids. The database says what is due; these only hurry it along."""

from __future__ import annotations

import logging
import os
import time
import uuid

from django.conf import settings

from kiestudio.core.leases import heartbeat_beat, lease_acquire, lease_is_free, lease_release
from kiestudio.studio import services
from kiestudio.studio.health import DISPATCHER_HEARTBEAT

log = logging.getLogger("kiestudio.studio")

DISPATCHER_LEASE = "studio-dispatcher"


def generation_advance_task(generation_id: int, token: str | None = None) -> str:
    return services.generation_advance(generation_id=generation_id, token=token)


DISPATCHER_LEASE_SECONDS = 5.0


def run_dispatcher(
    *, seconds: float, interval: float = 0.25, holder: str | None = None, wait_for_lease: float = 0.0
) -> int | None:
    """Hand out due work for ``seconds``, a few times a second. Only one dispatcher runs at a time: it holds a
    short lease in the database and renews it every loop, so if its worker is killed another can take over
    within seconds. Returns how many steps it handed out, or None if it never got the lease."""
    holder = holder or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    give_up = time.monotonic() + wait_for_lease
    while not lease_acquire(name=DISPATCHER_LEASE, holder=holder, seconds=DISPATCHER_LEASE_SECONDS):
        if time.monotonic() >= give_up:
            return None
        time.sleep(0.5)
    handed = 0
    started = time.monotonic()
    last_sweep = last_beat = 0.0
    try:
        while time.monotonic() - started < seconds:
            if not lease_acquire(name=DISPATCHER_LEASE, holder=holder, seconds=DISPATCHER_LEASE_SECONDS):
                return handed
            if time.monotonic() - last_beat >= 1:
                # Proof that the queue reaches a worker: /healthz and the worker supervisor read it.
                heartbeat_beat(name=DISPATCHER_HEARTBEAT)
                last_beat = time.monotonic()
            if time.monotonic() - last_sweep > 5:
                services.sweep()
                last_sweep = time.monotonic()
            handed += services.dispatch_due()
            time.sleep(interval)
    finally:
        lease_release(name=DISPATCHER_LEASE, holder=holder)
    return handed


def studio_dispatch_task() -> int | None:
    """One stretch of the dispatcher, then the next stretch is queued, so the loop outlives any one worker. The
    minute schedule (``studio_sweep_task``) restarts the chain if a worker dies holding it."""
    from django_q.tasks import async_task

    handed = run_dispatcher(
        seconds=getattr(settings, "STUDIO_DISPATCH_SECONDS", 25),
        interval=0.1,
        wait_for_lease=DISPATCHER_LEASE_SECONDS + 1,
    )
    # Only the run that held the lease continues the chain, so there is never more than one.
    if handed is not None and not settings.Q_CLUSTER.get("sync"):
        async_task("kiestudio.studio.tasks.studio_dispatch_task", group="dispatcher")
    return handed


def studio_sweep_task() -> dict[str, int]:
    """Scheduled every minute: re-drive stalled work and make sure a dispatcher is running."""
    from django_q.tasks import async_task

    counts = services.sweep()
    if lease_is_free(name=DISPATCHER_LEASE) and not settings.Q_CLUSTER.get("sync"):
        async_task("kiestudio.studio.tasks.studio_dispatch_task", group="dispatcher")
    return counts


def ensure_dispatcher() -> None:
    """Queue a dispatcher stretch (called when a worker process starts). If another dispatcher holds the lease,
    this one waits a few seconds for it and then bows out, so a restarted worker takes over from a killed one
    without waiting for the minute schedule."""
    from django_q.tasks import async_task

    if settings.Q_CLUSTER.get("sync"):
        return
    # Every worker process of a cluster starts at once (all children of the cluster's sentinel); only the first
    # to take this cluster's starter lease queues a stretch, so the others stay free for real work.
    if lease_acquire(name=f"studio-dispatcher-starter-{os.getppid()}", holder=str(os.getpid()), seconds=60):
        async_task("kiestudio.studio.tasks.studio_dispatch_task", group="dispatcher")
