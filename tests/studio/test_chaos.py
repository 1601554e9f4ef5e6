"""Chaos: the studio as separate processes, the way production runs it (a web process and two workers; on the
PostgreSQL + Redis leg, with Redis as broker, cache and limiter). Generations are bought through the web
process over HTTP; mid-run one worker is killed with SIGKILL and restarted, and Redis is flushed. Every
generation still reaches a terminal state, with exactly one Kie task each."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import settings as django_settings

from kiestudio.studio.models import TERMINAL, Generation, Status
from tests.conftest import free_port
from tests.studio.test_worker_crash import ROOT, wait_for, worker_env

COUNT = 8


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.mark.django_db(transaction=True)
def test_separate_processes_survive_a_killed_worker_and_a_flushed_redis(kie_sim, alice, client, tmp_path):
    kie_sim.sim.config.time_scale = 0.5  # Nano Banana takes several seconds: the chaos lands mid-run
    env = worker_env(kie_sim, tmp_path / "media")
    port = free_port()
    web = spawn([sys.executable, "-m", "uvicorn", "kiestudio.asgi:application", "--port", str(port)], env)
    workers = [spawn([sys.executable, "manage.py", "qcluster"], env) for _ in range(2)]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), 30, "the web process")
        client.force_login(alice)  # a real session row, used by the separate web process
        cookies = {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as http:
            http.get("/generate/")
            csrf = http.cookies.get("csrftoken")
            for n in range(COUNT):
                response = http.post(
                    "/generate/submit/",
                    data={
                        "model": "google/nano-banana",
                        "prompt": f"Chaos {n}",
                        "aspect_ratio": "1:1",
                        "variations": "1",
                        "form_token": str(uuid.uuid4()),
                    },
                    headers={"X-CSRFToken": csrf, "HX-Request": "true", "Referer": base + "/generate/"},
                )
                assert response.status_code == 200, response.text[:300]
        assert Generation.objects.count() == COUNT

        wait_for(lambda: Generation.objects.filter(status=Status.SUBMITTED).exists(), 60, "work under way")
        kill(workers[0])  # SIGKILL, mid-run
        if django_settings.REDIS_URL:
            import redis

            redis.Redis.from_url(django_settings.REDIS_URL).flushdb()  # broker queue, cache and limiter gone
        workers[0] = spawn([sys.executable, "manage.py", "qcluster"], env)

        wait_for(
            lambda: not Generation.objects.exclude(status__in=TERMINAL).exists(), 180, "every generation to finish"
        )
    finally:
        for process in (web, *workers):
            kill(process)
    generations = list(Generation.objects.all())
    assert all(g.status in TERMINAL for g in generations)
    # A worker killed in the instant between sending a create and recording it leaves that one UNKNOWN (never
    # resent); anything else must succeed. Either way Kie saw exactly one create per generation.
    assert all(g.status in (Status.SUCCEEDED, Status.UNKNOWN) for g in generations), [
        (g.pk, g.status, g.failure_message) for g in generations
    ]
    creates = [e.task_id for e in kie_sim.log.of_kind("create") if e.status == 200 and e.code in (None, 200)]
    assert len(creates) == COUNT and len(set(creates)) == COUNT
    succeeded = [g for g in generations if g.status == Status.SUCCEEDED]
    assert {g.kie_task_id for g in succeeded} <= set(creates) and len(succeeded) >= COUNT - 1
    assert all(g.assets.count() == 1 for g in succeeded)


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
