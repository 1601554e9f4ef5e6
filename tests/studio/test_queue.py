"""The queue service against the simulator: pause and resume, held rows, the order rows are sent in, canceling
what waits (free) and the estimated start and finish times."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from kiestudio.kie.catalog import get_model
from kiestudio.studio import services
from kiestudio.studio.models import PENDING, Generation, Status
from kiestudio.studio.services.queue import generations_hold, generations_release, queued
from kiestudio.usage.models import Hold, UsageEntry
from kiestudio.workspaces.models import AuditEvent, Workspace
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db


def paused(user) -> Workspace:
    workspace = workspace_of(user)
    assert services.queue_pause(workspace=workspace, user=user)
    return workspace


def sent(kie_sim) -> list[int]:
    """The generations the simulator received creates for, in the order they arrived."""
    by_task = dict(Generation.objects.exclude(kie_task_id="").values_list("kie_task_id", "pk"))
    return [by_task[entry.task_id] for entry in kie_sim.log.of_kind("create")]


def run_until(done, timeout: float = 10.0) -> None:
    """Run the dispatcher (work runs inline in tests) until ``done()``: for queues that never empty."""
    deadline = time.monotonic() + timeout
    while not done():
        services.sweep()
        services.dispatch_due()
        assert time.monotonic() < deadline, "the queue did not move"
        time.sleep(0.01)


def test_a_paused_queue_sends_nothing_and_resuming_sends_it(kie_sim, alice, django_capture_on_commit_callbacks):
    workspace = paused(alice)
    assert not services.queue_pause(workspace=workspace, user=alice)  # already paused
    first, second = create(alice, variations=2, prompt="Two foxes")
    for _ in range(3):
        services.sweep()
        assert services.dispatch_due() == 0
    assert kie_sim.log.of_kind("create") == []
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.QUEUED}

    with django_capture_on_commit_callbacks(execute=True):
        assert services.queue_resume(workspace=workspace, user=alice)
    assert sent(kie_sim) == [first.pk, second.pk]  # resuming hands them out at once
    drain()
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert not services.queue_resume(workspace=workspace, user=alice)
    actions = list(AuditEvent.objects.filter(workspace=workspace).order_by("pk").values_list("action", flat=True))
    assert actions == [AuditEvent.Action.QUEUE_PAUSED, AuditEvent.Action.QUEUE_RESUMED]


def test_a_job_handed_out_just_before_the_pause_goes_back_unsent(kie_sim, alice):
    [generation] = create(alice)
    token = services.generation_claim(generation_id=generation.pk)
    assert token is not None
    paused(alice)
    assert services.generation_advance(generation_id=generation.pk, token=str(token)) == "held"
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.lease_until is None
    assert kie_sim.log.of_kind("create") == []


def test_a_paused_workspace_does_not_stop_another_workspaces_queue(kie_sim, alice, charlie):
    paused(alice)
    [hers] = create(alice, prompt="Hers")
    [his] = create(charlie, prompt="His")
    run_until(lambda: Generation.objects.filter(pk=his.pk, status=Status.SUCCEEDED).exists())
    assert sent(kie_sim) == [his.pk]
    assert Generation.objects.get(pk=hers.pk).status == Status.QUEUED


def test_a_held_row_is_not_sent_until_released(kie_sim, alice):
    [held] = create(alice, prompt="Held back")
    [free] = create(alice, prompt="Goes ahead")
    assert generations_hold(generations=Generation.objects.filter(pk=held.pk)) == 1
    run_until(lambda: Generation.objects.filter(pk=free.pk, status=Status.SUCCEEDED).exists())
    for _ in range(3):
        services.dispatch_due()
    assert sent(kie_sim) == [free.pk]
    assert Generation.objects.get(pk=held.pk).status == Status.QUEUED

    assert generations_release(generations=Generation.objects.filter(pk=held.pk)) == 1
    drain()
    assert sent(kie_sim) == [free.pk, held.pk]


def test_rows_of_one_click_are_spaced_apart_before_a_move(alice):
    workspace = paused(alice)
    a, b, c = create(alice, variations=3, prompt="Three foxes")
    assert len({g.next_check_at for g in (a, b, c)}) == 1  # one click, one time: ordered by id alone

    assert services.generation_move(generation=c, direction="up")
    line = list(queued(workspace))
    assert [g.pk for g in line] == [a.pk, c.pk, b.pk]
    times = [g.next_check_at for g in line]
    assert times == sorted(times) and len(set(times)) == 3  # distinct now: the order no longer rests on ids
    assert times[0] == a.next_check_at and times[-1] - times[0] == timedelta(microseconds=2)


def test_moving_up_and_down_changes_the_order_rows_are_sent_in(kie_sim, alice):
    workspace = paused(alice)
    a, b, c = create(alice, variations=3, prompt="Three foxes")
    [d] = create(alice, prompt="A later click")
    assert services.generation_move(generation=c, direction="up")  # a c b d
    assert services.generation_move(generation=a, direction="down")  # c a b d
    assert services.generation_move(generation=d, direction="up")  # c a d b
    assert not services.generation_move(generation=c, direction="up")  # already first
    assert not services.generation_move(generation=b, direction="down")  # already last
    assert [g.pk for g in queued(workspace)] == [c.pk, a.pk, d.pk, b.pk]

    services.queue_resume(workspace=workspace, user=alice)
    drain()
    assert sent(kie_sim) == [c.pk, a.pk, d.pk, b.pk]


def test_only_a_waiting_row_can_be_moved(kie_sim, alice):
    [done] = create(alice)
    drain()
    with pytest.raises(services.QueueError, match="no longer waiting"):
        services.generation_move(generation=done, direction="up")
    [waiting] = create(alice)
    with pytest.raises(services.QueueError, match="up or down"):
        services.generation_move(generation=waiting, direction="sideways")


def test_canceling_a_waiting_row_sends_nothing_and_charges_nothing(kie_sim, alice):
    workspace = paused(alice)
    [generation] = create(alice, prompt="Never mind")
    assert Hold.objects.filter(source=generation.usage_source).exists()  # its price set aside while it waits

    assert services.generations_cancel_queued(generations=[generation]) == 1
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED and generation.next_check_at is None
    assert not Hold.objects.filter(source=generation.usage_source).exists()  # the hold is let go

    services.queue_resume(workspace=workspace, user=alice)
    for _ in range(3):
        services.sweep()
        services.dispatch_due()
    assert kie_sim.log.of_kind("create") == []
    assert not UsageEntry.objects.filter(workspace=workspace).exists()
    assert services.generations_cancel_queued(generations=[generation]) == 0


def test_the_queues_cancel_leaves_a_job_already_sent_alone(kie_sim, alice):
    [generation] = create(alice)
    Generation.objects.filter(pk=generation.pk).update(status=Status.SUBMITTED)  # a worker sent it meanwhile
    assert services.generations_cancel_queued(generations=[generation]) == 0  # the page's copy said "queued"
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED


def test_estimates_grow_with_position_and_keep_to_the_create_limit(alice, settings):
    settings.KIE_CREATE_LIMIT, settings.KIE_CREATE_WINDOW, settings.KIE_RATE_MARGIN = 2, 10, 0.0
    workspace = workspace_of(alice)
    rows = create(alice, variations=3, prompt="Three") + create(alice, variations=2, prompt="Two more")
    entries = services.queue_entries(workspace=workspace)
    assert [(e.generation.pk, e.position) for e in entries] == [(g.pk, n) for n, g in enumerate(rows, start=1)]
    starts = [e.starts_at for e in entries]
    assert None not in starts and abs((starts[0] - timezone.now()).total_seconds()) < 5
    # Two creates per 10 s: the first two start now, the next two one window later, the fifth two windows later.
    assert [(s - starts[0]).total_seconds() for s in starts] == [0, 0, 10, 10, 20]
    typical = get_model("google/nano-banana").typical_seconds
    assert {(e.finishes_at - e.starts_at).total_seconds() for e in entries} == {typical}

    # A held row takes no slot (those after it move up) and has no estimate; a paused queue has none at all.
    generations_hold(generations=Generation.objects.filter(pk=rows[0].pk))
    entries = services.queue_entries(workspace=workspace)
    assert entries[0].held and entries[0].starts_at is None and entries[0].position == 1
    assert [(e.starts_at - entries[1].starts_at).total_seconds() for e in entries[1:]] == [0, 0, 10, 10]
    services.queue_pause(workspace=workspace, user=alice)
    assert all(e.starts_at is None and e.finishes_at is None for e in services.queue_entries(workspace=workspace))


def test_running_jobs_come_first_with_their_estimated_finish(alice):
    workspace = workspace_of(alice)
    started = timezone.now() - timedelta(seconds=5)
    [running] = create(alice, prompt="At Kie")
    Generation.objects.filter(pk=running.pk).update(status=Status.SUBMITTED, submitted_at=started)
    [waiting] = create(alice, prompt="Waits")
    entries = services.queue_entries(workspace=workspace)
    assert [(e.generation.pk, e.position) for e in entries] == [(running.pk, None), (waiting.pk, 1)]
    assert entries[0].starts_at == started and entries[0].finishes_at > started
    assert services.queue_size(workspace) == 2
    Generation.objects.filter(pk=waiting.pk).update(status=Status.CANCELED)
    assert services.queue_size(workspace) == 1 == Generation.objects.filter(status__in=PENDING).count()


def test_the_navs_count_is_fetched_again_when_the_page_starts_or_finishes_a_job(client, kie_sim, alice):
    # The badge asks again on the page's own "generated" and "settled" events, and every 15 s only while some job
    # waits or runs (a quiet workspace polls nothing).
    client.force_login(alice)
    quiet = client.get("/queue/badge/").content.decode()
    assert 'id="queue-badge"' in quiet and " hidden>" in quiet and "every 15s" not in quiet
    assert 'hx-trigger="kie:generated from:body, kie:settled from:body"' in quiet
    paused(alice)
    create(alice, variations=3, prompt="Three foxes")
    busy = client.get("/queue/badge/").content.decode()
    assert ">3<" in busy and " hidden" not in busy and "kie:settled from:body, every 15s" in busy
    page = client.get("/generate/").content.decode()
    assert 'hx-get="/queue/badge/"' in page  # the nav's badge is the same fragment
