"""The worker cluster heals itself, and nothing outlives the studio.

- Why a cluster freezes, shown with the standard library alone: a process killed while it waits in
  ``multiprocessing.Queue.get()`` takes the queue's reader lock with it.
- Chaos: ``manage.py runworker`` (what the Procfile and ``runstudio`` run) survives SIGKILL of any of its
  cluster's processes (idle worker, busy worker, pusher, monitor, sentinel) at random moments, round after
  round; every generation ends with at most one Kie create (exactly one if it succeeded), and /healthz is 503
  while the cluster is frozen and 200 once it recovered.
- ``runstudio`` killed with SIGKILL leaves none of its processes alive.
- A frozen cluster asked to stop with SIGTERM is gone within the bound.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import timezone

from kiestudio.core.leases import heartbeat_beat
from kiestudio.core.processes import alive, children_of, descendants_of, stop_tree
from kiestudio.studio.health import DISPATCHER_HEARTBEAT, jobs_health
from kiestudio.studio.models import TERMINAL, Generation, Status
from tests.conftest import free_port
from tests.studio.helpers import create
from tests.studio.test_worker_crash import ROOT, wait_for, worker_env

QUEUE_LOCK_DEMO = """
import multiprocessing, os, queue, signal, sys, time

def wchan(pid):
    try:
        return open(f"/proc/{pid}/wchan").read()
    except OSError:
        return ""

def reader(q, out):
    while True:
        out.put((os.getpid(), q.get()))

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    tasks, out = ctx.Queue(), ctx.Queue()
    readers = [ctx.Process(target=reader, args=(tasks, out), daemon=True) for _ in range(2)]
    for r in readers:
        r.start()
    tasks.put("first")
    assert out.get(timeout=10)[1] == "first"
    deadline = time.monotonic() + 10
    holder = None
    while holder is None and time.monotonic() < deadline:
        holder = next((r for r in readers if wchan(r.pid) == "anon_pipe_read"), None)
        time.sleep(0.05)
    assert holder is not None, "no reader waiting on the pipe"
    other = next(r for r in readers if r is not holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(5)
    tasks.put("second")
    try:
        print("delivered", out.get(timeout=2))
    except queue.Empty:
        print("frozen", wchan(other.pid))
"""


def wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


def test_a_process_killed_inside_queue_get_takes_the_reader_lock_with_it():
    """The root of the frozen cluster is multiprocessing.Queue's design, which django-q2's workers share: of two
    readers, one holds the reader lock while it waits on the pipe; killed there, the survivor never gets the next
    item and waits on the lock for ever. (Run in a fresh interpreter: forking this multi-threaded test process
    could deadlock for other reasons.)"""
    result = subprocess.run([sys.executable, "-c", QUEUE_LOCK_DEMO], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["frozen", "futex_do_wait"]


# --- Health --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_is_503_with_the_reason_when_the_dispatcher_goes_quiet(client, settings):
    settings.STUDIO_STUCK_SECONDS = 30
    assert client.get("/healthz").status_code == 200  # no cluster has run yet: nothing to judge
    heartbeat_beat(name=DISPATCHER_HEARTBEAT)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["jobs"]["ok"] is True
    from kiestudio.core.models import Heartbeat

    Heartbeat.objects.filter(name=DISPATCHER_HEARTBEAT).update(beat_at=timezone.now() - timezone.timedelta(seconds=45))
    response = client.get("/healthz")
    assert response.status_code == 503
    jobs = response.json()["jobs"]
    assert jobs["ok"] is False and 44 <= jobs["dispatcher_seen_seconds_ago"] <= 60
    assert "dispatcher was last seen 45 s ago" in jobs["reason"]


@pytest.mark.django_db
def test_a_due_job_waiting_past_the_bound_is_reported_with_its_age_but_a_queued_batch_is_not(alice, settings):
    settings.STUDIO_STUCK_SECONDS = 30
    [polling, queued] = [create(alice, prompt=p)[0] for p in ("Waiting for a poll", "Waiting for a slot")]
    long_ago = timezone.now() - timezone.timedelta(seconds=100)
    Generation.objects.filter(pk=polling.pk).update(
        status=Status.SUBMITTED, kie_task_id="t1", next_check_at=long_ago, lease_until=None
    )
    Generation.objects.filter(pk=queued.pk).update(status=Status.QUEUED, next_check_at=long_ago, lease_until=None)
    health = jobs_health()
    assert not health.ok and 99 <= health.oldest_due_seconds <= 110
    assert "a due job has waited 100 s for a worker" in health.reason
    Generation.objects.filter(pk=polling.pk).update(status=Status.SUCCEEDED, next_check_at=None)
    assert jobs_health().ok  # a queued job waits for Kie's rate limit, not for a worker


# --- Every lease ends -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_submit_whose_worker_died_after_sending_becomes_unknown_at_the_next_dispatch(alice):
    from kiestudio.studio import services

    [generation] = create(alice, prompt="Sent, then the worker died")
    expired = timezone.now() - timezone.timedelta(seconds=5)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTING, create_sent_at=expired, lease_until=expired, next_check_at=expired
    )
    services.dispatch_due()  # the dispatcher looks first (before the sweeper): it must settle the row, not spin
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN
    assert generation.lease_until is None and generation.next_check_at is None


@pytest.mark.django_db
def test_a_submit_whose_worker_died_before_sending_is_sent_once(alice, kie_sim):
    from kiestudio.studio import services

    [generation] = create(alice, prompt="The worker died before sending")
    expired = timezone.now() - timezone.timedelta(seconds=5)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTING, create_sent_at=None, lease_until=expired, next_check_at=expired
    )
    for _ in range(3):
        services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    assert [t.prompt for t in kie_sim.sim.tasks.values()] == ["The worker died before sending"]


# --- Real processes -------------------------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def cluster_roles(supervisor_pid: int) -> dict[str, list[int]]:
    """The processes of the cluster under ``runworker``, by role (django-q2 names them through setproctitle)."""
    roles: dict[str, list[int]] = {"sentinel": [], "idle": [], "busy": [], "pusher": [], "monitor": []}
    for runcluster in children_of(supervisor_pid):
        for sentinel in children_of(runcluster):
            roles["sentinel"].append(sentinel)
            for pid in children_of(sentinel):
                name = title(pid)
                if name.endswith(" pusher"):
                    roles["pusher"].append(pid)
                elif name.endswith(" monitor"):
                    roles["monitor"].append(pid)
                elif name.endswith(" idle"):
                    roles["idle"].append(pid)
                elif name.startswith("qcluster"):
                    roles["busy"].append(pid)
    return roles


def cluster_is_whole(supervisor_pid: int, workers: int) -> bool:
    roles = cluster_roles(supervisor_pid)
    return (
        len(roles["sentinel"]) == 1
        and bool(roles["pusher"])
        and bool(roles["monitor"])
        and len(roles["idle"]) + len(roles["busy"]) == workers
    )


def pick_victim(supervisor_pid: int, role: str) -> tuple[int, bool] | None:
    """A process of that role, and whether killing it should freeze the cluster (an idle worker holding the
    task queue's reader lock)."""
    roles = cluster_roles(supervisor_pid)
    if role == "idle":
        holders = [pid for pid in roles["idle"] if wchan(pid) == "anon_pipe_read"]
        if holders:
            return holders[0], True
    return (roles[role][0], False) if roles[role] else None


def healthz_status(client) -> int:
    return client.get("/healthz").status_code


@pytest.mark.django_db(transaction=True)
def test_killing_any_cluster_process_at_random_loses_nothing(kie_sim, alice, client, settings, monkeypatch, tmp_path):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # nudges go through the broker to the real cluster
    kie_sim.sim.config.time_scale = 0.1  # Nano Banana takes ~1.5 s
    settings.STUDIO_STUCK_SECONDS = 5
    workers = 3
    env = {
        **worker_env(kie_sim, tmp_path / "media"),
        "WORKER_CONCURRENCY": str(workers),
        "WORKER_BULK": "1",
        "STUDIO_STUCK_SECONDS": "5",
        "STUDIO_DISPATCH_SECONDS": "2",
        "WORKER_STOP_SECONDS": "3",
    }
    seed = int(os.environ.get("CHAOS_SEED", time.time()))
    rng = random.Random(seed)
    victims = ["idle", "busy", "pusher", "monitor", "sentinel"] * 2
    rng.shuffle(victims)
    supervisor = spawn([sys.executable, "manage.py", "runworker"], env)
    prompts: list[str] = []
    freezes = 0
    try:
        wait_for(lambda: cluster_is_whole(supervisor.pid, workers), 60, "the cluster to start")
        for round_no, role in enumerate(victims):
            for n in range(2):
                prompts.append(f"Chaos seed {seed} round {round_no} job {n}")
                create(alice, prompt=prompts[-1])
            time.sleep(rng.uniform(0.0, 1.5))
            victim = wait_for(lambda role=role: pick_victim(supervisor.pid, role), 20, f"a {role} process")
            pid, freezes_cluster = victim
            os.kill(pid, signal.SIGKILL)
            if freezes_cluster:
                freezes += 1
                wait_for(lambda: healthz_status(client) == 503, 40, f"/healthz to see the frozen cluster (seed {seed})")
                wait_for(lambda: healthz_status(client) == 200, 60, f"the cluster to recover (seed {seed})")
            wait_for(lambda: cluster_is_whole(supervisor.pid, workers), 60, f"the cluster whole again after {role}")
        wait_for(
            lambda: not Generation.objects.exclude(status__in=TERMINAL).exists(), 180, f"every job to end (seed {seed})"
        )
    finally:
        stop_tree(supervisor.pid, bound=10, reap=lambda t: supervisor.wait(t))
    assert freezes >= 1, "no idle worker held the queue's lock when killed: the freeze was never exercised"
    generations = list(Generation.objects.all())
    assert len(generations) == len(prompts) == 20
    sent: dict[str, int] = {}
    for task in kie_sim.sim.tasks.values():
        sent[task.prompt] = sent.get(task.prompt, 0) + 1
    for generation in generations:
        prompt = generation.prompt_text
        assert generation.status in (Status.SUCCEEDED, Status.UNKNOWN), (seed, prompt, generation.failure_message)
        assert sent.get(prompt, 0) == (1 if generation.status == Status.SUCCEEDED else sent.get(prompt, 0)) <= 1
    assert sum(g.status == Status.SUCCEEDED for g in generations) >= len(generations) - 2
    assert healthz_status(client) == 200


def test_runstudio_killed_outright_leaves_no_process_behind(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "DJANGO_", "DATABASE_", "REDIS_"))},
        "KIESTUDIO_TESTING": "false",
        "DEBUG": "true",
        "KIESTUDIO_VAR_DIR": str(tmp_path / "var"),
        "KIE_SIMULATOR_PORT": str(sim_port),
        "PORT": str(port),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    studio = spawn([sys.executable, "manage.py", "runstudio", "--port", str(port)], env)
    try:
        # web, simulator, runworker, runcluster, sentinel, workers, pusher, monitor
        tree = wait_for(
            lambda: (found := descendants_of(studio.pid)) and len(found) >= 8 and found, 60, "the whole studio to start"
        )
        os.kill(studio.pid, signal.SIGKILL)
        studio.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in tree):
            time.sleep(0.2)
        left = [(pid, title(pid)) for pid in tree if alive(pid)]
        assert left == [], f"still alive 10 s after runstudio died: {left}"
    finally:
        for pid in [studio.pid, *descendants_of(studio.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)
def test_a_frozen_cluster_stops_within_the_bound_on_sigterm(kie_sim, tmp_path):
    env = {**worker_env(kie_sim, tmp_path / "media"), "WORKER_CONCURRENCY": "2", "WORKER_STOP_SECONDS": "3"}
    cluster = spawn([sys.executable, "manage.py", "runcluster"], env)
    try:

        def lock_holder():
            for sentinel in children_of(cluster.pid):
                for pid in children_of(sentinel):
                    if title(pid).endswith(" idle") and wchan(pid) == "anon_pipe_read":
                        return pid
            return None

        holder = wait_for(lock_holder, 60, "an idle worker waiting on the task queue")
        tree = [cluster.pid, *descendants_of(cluster.pid)]
        os.kill(holder, signal.SIGKILL)  # the cluster is now frozen
        time.sleep(1)
        started = time.monotonic()
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(10)
        took = time.monotonic() - started
        time.sleep(0.5)
        assert took < 3 + 2, took
        assert not [pid for pid in tree if alive(pid)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            stop_tree(cluster.pid, bound=1, reap=lambda t: cluster.wait(t))
