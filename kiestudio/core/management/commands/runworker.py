"""``manage.py runworker``: the background worker, supervised. This is what the Procfile's ``worker`` and
``runstudio`` run.

It starts ``manage.py runcluster`` (the django-q2 cluster) and watches two things:

- the cluster process: if it exits, a new one is started (with a growing pause if it keeps failing);
- whether background work moves (``kiestudio.studio.health``): when the job dispatcher's heartbeat goes stale
  or a due job waits past ``STUDIO_STUCK_SECONDS``, twice in a row, the cluster is stopped (SIGTERM, then
  SIGKILL after ``WORKER_STOP_SECONDS``) and started again.

Why a cluster can freeze: django-q2's workers share one ``multiprocessing.Queue``. An idle worker waits inside
``Queue.get()`` holding the queue's reader lock; killed there (SIGKILL, the OOM killer), it never releases it,
so every worker it restarts, and the other workers, wait on that lock for ever while the pusher fills the
queue. ``tests/core/test_cluster_supervision.py`` shows this with the standard library alone. Only a new
cluster (a new queue) recovers, and that is what this supervisor does.

SIGTERM or SIGINT stops the cluster gracefully (within ``WORKER_STOP_SECONDS``) and exits. The death of this
process's parent (``runstudio``) stops it within a few seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from kiestudio.core.health import health_run
from kiestudio.core.processes import die_with_parent, preexec_dying_with_us, stop_tree

log = logging.getLogger("kiestudio.worker")

CHECK_EVERY = 2.0
#: How long a cluster whose supervisor lost its own parent gets to stop before it is killed.
ORPHAN_STOP_SECONDS = 3.0
#: How long a cluster found stuck gets to stop before it is killed and replaced.
STUCK_STOP_SECONDS = 5.0


class Command(BaseCommand):
    help = "Run the background worker cluster, and restart it when it dies or stops moving."

    def handle(self, *args, **options) -> None:
        parent = os.getppid()
        # The parent's death arrives as SIGHUP (or is seen as a new parent pid): then there is no one to wait
        # for, and the cluster gets only a short grace. SIGTERM and SIGINT stop it gracefully.
        die_with_parent(signal.SIGHUP, parent=parent)
        self.stopping = threading.Event()
        self.orphaned = False
        signal.signal(signal.SIGTERM, lambda signum, frame: self.stopping.set())
        signal.signal(signal.SIGINT, lambda signum, frame: self.stopping.set())
        signal.signal(signal.SIGHUP, lambda signum, frame: self._orphan())
        cluster, started = self._start(), time.monotonic()
        failures = 0
        unhealthy = 0
        last_check = time.monotonic()
        try:
            while not self.stopping.wait(0.5):
                if os.getppid() != parent:
                    self._orphan()
                    break
                code = cluster.poll()
                if code is not None:
                    failures = failures + 1 if time.monotonic() - started < 30 else 1
                    pause = min(2 ** (failures - 1), 30)
                    log.warning("The worker cluster exited (code %s); starting a new one in %s s.", code, pause)
                    if self.stopping.wait(pause):
                        break
                    cluster, started, unhealthy = self._start(), time.monotonic(), 0
                    continue
                if time.monotonic() - last_check < CHECK_EVERY:
                    continue
                last_check = time.monotonic()
                # A new cluster gets STUDIO_STUCK_SECONDS to show it works before it is judged.
                if time.monotonic() - started < settings.STUDIO_STUCK_SECONDS:
                    continue
                reason = self._stuck_reason()
                unhealthy = unhealthy + 1 if reason else 0
                if unhealthy >= 2:
                    log.error("%s Restarting the worker cluster.", reason)
                    # A frozen cluster can't stop gracefully (its workers never take the stop message): short bound.
                    stop_tree(
                        cluster.pid, bound=min(settings.WORKER_STOP_SECONDS, STUCK_STOP_SECONDS), reap=cluster.wait
                    )
                    cluster, started, unhealthy = self._start(), time.monotonic(), 0
        finally:
            bound = ORPHAN_STOP_SECONDS if self.orphaned else settings.WORKER_STOP_SECONDS + 2
            stop_tree(cluster.pid, bound=bound, reap=cluster.wait)

    def _orphan(self) -> None:
        self.orphaned = True
        self.stopping.set()

    def _start(self) -> subprocess.Popen[bytes]:
        # Its own process group, so a terminal's Ctrl-C reaches this supervisor first and it stops the cluster.
        return subprocess.Popen(
            [sys.executable, "manage.py", "runcluster"],
            cwd=settings.BASE_DIR,
            start_new_session=True,
            preexec_fn=preexec_dying_with_us(signal.SIGKILL),
        )

    def _stuck_reason(self) -> str:
        try:
            health = health_run("jobs")  # registered by kiestudio.studio (kiestudio/studio/health.py)
        except Exception as exc:  # the database is away: not the cluster's fault, nothing to restart
            log.warning("Could not check background work: %s", exc.__class__.__name__)
            return ""
        finally:
            connection.close()
        return "" if health is None or health["ok"] else str(health["reason"])
