"""A worker killed with SIGKILL mid-poll loses nothing: after a restart the generation completes, and the
simulator's log shows exactly one Kie task for it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from kiestudio.studio.models import Generation, Status
from tests.studio.helpers import create

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(kie_sim, media_root: Path) -> dict[str, str]:
    """The environment of a studio process started apart from the test: this test database, the simulator,
    fast polls and short leases."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "DJANGO_"))},
        "DEBUG": "true",
        "KIESTUDIO_TESTING": "false",
        "DATABASE_URL": database_url(),
        "KIE_API_KEY": "test-key",
        "KIE_BASE_URL": kie_sim.base_url,
        "KIE_UPLOAD_BASE_URL": kie_sim.base_url,
        "FETCH_ALLOWED_PRIVATE_HOSTS": kie_sim.base_url.removeprefix("http://"),
        "KIE_CALLBACKS": "false",
        "STUDIO_POLL_SCALE": "0.1",
        "STUDIO_LEASE_SECONDS": "3",
        "STUDIO_DISPATCH_SECONDS": "3",
        "WORKER_CONCURRENCY": "2",
        "MEDIA_ROOT": str(media_root),
        "SECRET_KEY": django_settings.SECRET_KEY,
    }
    if django_settings.REDIS_URL:
        env["REDIS_URL"] = django_settings.REDIS_URL
    return env


def start_worker(kie_sim, media_root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=worker_env(kie_sim, media_root),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_poll_resumes_with_exactly_one_kie_task(kie_sim, alice, tmp_path):
    kie_sim.sim.config.time_scale = 0.6  # Nano Banana (~15 s typical) takes ~9 s: plenty of polls to interrupt
    [generation] = create(alice, prompt="Survive a crash")
    worker = start_worker(kie_sim, tmp_path / "media")
    try:

        def polled() -> bool:
            g = Generation.objects.get(pk=generation.pk)
            return g.status == Status.SUBMITTED and g.poll_count >= 1

        wait_for(polled, 40, "the worker to submit and start polling")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        generation.refresh_from_db()
        assert generation.status == Status.SUBMITTED
        task_id = generation.kie_task_id

        worker = start_worker(kie_sim, tmp_path / "media")

        def finished() -> bool:
            return Generation.objects.get(pk=generation.pk).status not in (Status.SUBMITTED, Status.STORING)

        wait_for(finished, 60, "the restarted worker to finish the generation")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, (generation.failure_class, generation.failure_message)
    assert generation.kie_task_id == task_id
    assert generation.assets.count() == 1
    creates = [e for e in kie_sim.log.of_kind("create") if e.status == 200]
    assert [e.task_id for e in creates] == [task_id]
