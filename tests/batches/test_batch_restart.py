"""A restart of every process in the middle of a 50-row batch: the web process and both workers are killed with
SIGKILL while part of the batch has been sent and part still waits (and, on the PostgreSQL + Redis leg, Redis is
flushed: broker, cache and limiter), then started again. No row is lost, and none is bought twice: Kie sees one
create per row (one fewer for a row whose worker died mid-send, which stays UNKNOWN and is never resent)."""

from __future__ import annotations

import sys
import uuid

import httpx
import pytest
from django.conf import settings as django_settings

from kiestudio.batches.models import Batch
from kiestudio.studio.models import TERMINAL, Generation, Status
from tests.conftest import free_port
from tests.studio.test_chaos import _up, kill, spawn
from tests.studio.test_worker_crash import wait_for, worker_env

ROWS = 50


@pytest.mark.django_db(transaction=True)
def test_restarting_every_process_mid_batch_loses_no_row_and_buys_none_twice(kie_sim, alice, client, tmp_path):
    kie_sim.sim.config.time_scale = 0.5  # tasks take a few seconds, and Kie's create window paces the rest
    env = worker_env(kie_sim, tmp_path / "media")
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start() -> list:
        web = spawn([sys.executable, "-m", "uvicorn", "kiestudio.asgi:application", "--port", str(port)], env)
        return [web, *(spawn([sys.executable, "manage.py", "qcluster"], env) for _ in range(2))]

    processes = start()
    try:
        wait_for(lambda: _up(base), 30, "the web process")
        client.force_login(alice)
        cookies = {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as http:
            http.get("/batches/new/")
            response = http.post(
                "/batches/new/start/",
                data={
                    "name": "Restart",
                    "template": "A paper boat no. {n}",
                    "prompts": "\n".join(str(n) for n in range(1, ROWS + 1)),
                    "models": "google/nano-banana",
                    "request_key": str(uuid.uuid4()),
                },
                headers={"X-CSRFToken": http.cookies.get("csrftoken") or "", "Referer": base + "/batches/new/"},
            )
            assert response.status_code == 302, response.text[:500]
        batch = Batch.objects.get()
        assert batch.items.count() == ROWS

        def midway() -> bool:
            sent = Generation.objects.exclude(status=Status.QUEUED).count()
            return sent >= 5 and Generation.objects.filter(status=Status.QUEUED).count() >= 10

        wait_for(midway, 60, "part of the batch sent and part still waiting")
        for process in processes:  # every process, at once, mid-batch
            kill(process)
        if django_settings.REDIS_URL:
            import redis

            redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
        waiting = Generation.objects.filter(status=Status.QUEUED).count()
        assert waiting >= 10
        processes = start()
        wait_for(lambda: not Generation.objects.exclude(status__in=TERMINAL).exists(), 240, "the whole batch")
    finally:
        for process in processes:
            kill(process)
    generations = list(Generation.objects.filter(batch_item__batch=batch))
    assert len(generations) == ROWS and Generation.objects.count() == ROWS
    # A worker killed between sending a create and recording it leaves that row UNKNOWN (never resent).
    assert all(g.status in (Status.SUCCEEDED, Status.UNKNOWN) for g in generations), [
        (g.pk, g.status, g.failure_message) for g in generations if g.status not in (Status.SUCCEEDED, Status.UNKNOWN)
    ]
    # None bought twice. A row whose worker was killed as it sent is UNKNOWN whether or not the create reached Kie
    # (so Kie may have one create fewer than there are rows), and it is never sent again.
    creates = [e.task_id for e in kie_sim.log.of_kind("create") if e.status == 200 and e.code in (None, 200)]
    assert len(creates) == len(set(creates)) <= ROWS
    succeeded = [g for g in generations if g.status == Status.SUCCEEDED]
    assert {g.kie_task_id for g in succeeded} <= set(creates) and len(succeeded) >= ROWS - 2
    assert len(creates) >= len(succeeded)  # every success is one of Kie's creates; an unknown may be too
    prompts = sorted(g.prompt_text for g in generations)
    assert prompts == sorted(f"A paper boat no. {n}" for n in range(1, ROWS + 1))
