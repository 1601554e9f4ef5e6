"""``manage.py runcluster``: django-q2's cluster (what ``qcluster`` runs), made safe to supervise.

- Every process of the cluster (sentinel, workers, pusher, monitor, and any they fork) dies with its parent,
  so killing this process, even with SIGKILL, leaves nothing behind.
- SIGTERM or SIGINT stops the cluster gracefully, within ``WORKER_STOP_SECONDS``; after that, whatever is left
  is killed. (django-q2's own handler waits for its sentinel without a bound, and a frozen sentinel never
  answers.)
- If the sentinel dies, this process exits with code 1 instead of lingering without children, so its
  supervisor (``manage.py runworker``) starts a fresh cluster.

Run it under ``manage.py runworker``, which also restarts a cluster that stops moving.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from kiestudio.core.processes import (
    alive,
    descendants_of,
    die_with_parent,
    pass_death_signal_to_forks,
    signal_all,
)

log = logging.getLogger("kiestudio.worker")


class Command(BaseCommand):
    help = "Run the django-q2 worker cluster so that it dies with its parent and always stops within a bound."

    def handle(self, *args, **options) -> None:
        from django_q.cluster import Cluster

        parent = os.getppid()
        die_with_parent(signal.SIGKILL, parent=parent)
        pass_death_signal_to_forks(signal.SIGKILL)
        stopping = threading.Event()
        cluster = Cluster()
        # Replace django-q2's handlers (installed by Cluster()): ours only note the request; the loop below acts.
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
        signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
        cluster.start()
        code = 0
        while not stopping.wait(0.5):
            if not cluster.sentinel.is_alive():
                log.error(
                    "The worker cluster's sentinel died (exit code %s); ending the cluster.", cluster.sentinel.exitcode
                )
                code = 1
                break
            if os.getppid() != parent:  # the parent died where no parent-death signal exists
                break
        if code == 0:
            # django-q2's stop, in a thread: it can block for ever (for example on the stop event's lock, if
            # the sentinel was killed holding it), so it gets a bound and is abandoned if the sentinel dies.
            stopper = threading.Thread(target=cluster.stop, daemon=True)
            stopper.start()
            deadline = time.monotonic() + settings.WORKER_STOP_SECONDS
            while stopper.is_alive() and alive(cluster.sentinel.pid):
                if time.monotonic() > deadline:
                    log.error(
                        "The worker cluster did not stop within %.0f s; killing it.", settings.WORKER_STOP_SECONDS
                    )
                    code = 1
                    break
                stopper.join(0.1)
        signal_all(descendants_of(os.getpid()), signal.SIGKILL)  # anything left behind
        sys.stdout.flush()
        os._exit(code)  # multiprocessing's exit handler would wait for children without a bound
