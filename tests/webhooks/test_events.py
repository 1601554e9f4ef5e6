"""The studio's events: a generation that succeeds or fails, and a batch whose last row ends, each emit exactly
once, with the data a receiver needs (absolute links into the studio)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from kiestudio.batches import services as batch_services
from kiestudio.batches.models import Batch
from kiestudio.batches.rows import rows_from_list
from kiestudio.batches.tasks import batch_sweep_task
from kiestudio.batches.webhooks import batch_check_finished, batch_webhooks_sweep
from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.studio.services import transition
from kiestudio.studio.services.webhooks import generation_webhook
from kiestudio.webhooks.models import Delivery, Endpoint
from kiestudio.webhooks.services import webhook_endpoint_create
from kiestudio.workspaces.models import Membership
from tests.studio.helpers import create, drain, workspace_of
from tests.webhooks.receiver import signature_ok, webhook_receiver

ALL = ["generation.succeeded", "generation.failed", "batch.finished"]


@pytest.fixture
def hooked(kie_sim, alice, settings):
    """Alice's workspace has an endpoint for every event, a receiver on loopback (allowed like the simulator)."""
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    with webhook_receiver() as receiver:
        settings.FETCH_ALLOWED_PRIVATE_HOSTS = [*settings.FETCH_ALLOWED_PRIVATE_HOSTS, receiver.hostport]
        _, secret = webhook_endpoint_create(workspace=workspace_of(alice), actor=alice, url=receiver.url, events=ALL)
        receiver.secret = secret  # type: ignore[attr-defined]
        yield receiver


def _bodies(receiver, event):
    return [json.loads(r.body) for r in receiver.requests if r.headers["X-Kiestudio-Event"] == event]


def test_a_generation_that_succeeds_emits_once(alice, hooked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [generation] = create(alice, prompt="A lighthouse at dusk")
        drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    [body] = _bodies(hooked, "generation.succeeded")
    assert signature_ok(hooked.secret, hooked.requests[0])
    data = body["data"]
    asset = Asset.objects.get(generation=generation)
    assert data["generation_id"] == generation.pk and data["status"] == "succeeded"
    assert data["model_key"] == "google/nano-banana" and data["model_name"] == "Nano Banana"
    assert data["prompt"] == "A lighthouse at dusk" and data["credits"] == str(generation.credits_charged)
    assert data["created_at"] == generation.created_at.isoformat()
    assert data["finished_at"] == generation.completed_at.isoformat()
    assert data["files"] == [
        {"url": f"https://studio.example.com/files/assets/{asset.pk}/", "kind": "image", "mime_type": asset.mime_type}
    ]
    assert data["url"] == f"https://studio.example.com/gallery/{generation.pk}/" and data["failure_message"] == ""
    # A second worker that read the row before it ended runs the same terminal transition: it loses, nothing sent.
    stale = Generation.objects.get(pk=generation.pk)
    stale.status = Status.STORING
    with django_capture_on_commit_callbacks(execute=True):
        assert not transition(stale, Status.SUCCEEDED, fields={"next_check_at": None})
        generation_webhook(generation)  # and even emitted again, the event's key keeps it to one delivery
    assert Delivery.objects.filter(event="generation.succeeded").count() == 1
    assert len(hooked.requests) == 1


def test_a_generation_that_fails_emits_once(alice, hooked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [generation] = create(alice, prompt="Oops [sim:fail 500 Internal server error]")
        drain()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    [body] = _bodies(hooked, "generation.failed")
    assert body["data"]["status"] == "failed" and body["data"]["files"] == []
    assert body["data"]["failure_message"] == generation.failure_message != ""
    assert _bodies(hooked, "generation.succeeded") == []
    with django_capture_on_commit_callbacks(execute=True):
        assert not transition(generation, Status.FAILED, allowed_from=(Status.STORING,))
        generation_webhook(generation)
    assert Delivery.objects.count() == 1 and len(hooked.requests) == 1


def test_a_batch_emits_finished_once_when_its_last_row_ends(alice, hooked, django_capture_on_commit_callbacks):
    workspace = workspace_of(alice)
    membership = Membership.objects.get(workspace=workspace, user=alice)
    preview = batch_services.batch_preview(
        workspace=workspace,
        rows=rows_from_list("a fox\na cat\nOops [sim:fail 500 Broken]"),
        model_keys=["google/nano-banana"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_services.batch_create(
            workspace=workspace,
            membership=membership,
            preview=preview,
            name="Animals",
            source=Batch.Source.LIST,
            model_keys=["google/nano-banana"],
            request_key=uuid.uuid4(),
        )
        drain()
    [body] = _bodies(hooked, "batch.finished")
    data = body["data"]
    ids = sorted(batch.items.values_list("generation_id", flat=True))
    assert data["batch_id"] == batch.pk and data["name"] == "Animals" and data["generation_ids"] == ids
    assert data["counts"] == {"succeeded": 2, "failed": 1}
    assert data["url"] == f"https://studio.example.com/batches/{batch.pk}/"
    assert len(_bodies(hooked, "generation.succeeded")) == 2 and len(_bodies(hooked, "generation.failed")) == 1
    # Every row's end asks again (and two rows can end at once): still one event for the batch.
    with django_capture_on_commit_callbacks(execute=True):
        for generation_id in ids:
            assert not batch_check_finished(generation_id=generation_id)
    assert Delivery.objects.filter(event="batch.finished").count() == 1
    assert len(_bodies(hooked, "batch.finished")) == 1


def test_a_batch_with_rows_still_running_has_not_finished(alice, hooked, django_capture_on_commit_callbacks):
    workspace = workspace_of(alice)
    batch = Batch.objects.create(workspace=workspace, created_by=alice, name="Boats", source=Batch.Source.LIST)
    first, second = create(alice, prompt="a boat", variations=2)
    batch.items.create(generation=first, line=1)
    batch.items.create(generation=second, line=1)
    Generation.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    assert not batch_check_finished(generation_id=first.pk)
    Generation.objects.filter(pk=second.pk).update(status=Status.CANCELED)
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_check_finished(generation_id=second.pk)
    assert len(_bodies(hooked, "batch.finished")) == 1


def test_a_batch_whose_ending_check_was_lost_is_emitted_by_the_sweeper(
    alice, hooked, django_capture_on_commit_callbacks
):
    """The rows end without their after-commit check (a process killed between the commit and the signal): the
    minute sweeper emits "batch.finished" once, only to endpoints that existed when the batch ended, and not for
    a batch that ended before its window."""
    workspace = workspace_of(alice)
    ended = timezone.now() - timedelta(minutes=5)
    Endpoint.objects.update(created_at=ended - timedelta(days=1))  # the receiver was there before the batch
    batch = Batch.objects.create(workspace=workspace, created_by=alice, name="Boats", source=Batch.Source.LIST)
    old = Batch.objects.create(workspace=workspace, created_by=alice, name="Old", source=Batch.Source.LIST)
    first, second, third = create(alice, prompt="a boat", variations=3)
    batch.items.create(generation=first, line=1)
    batch.items.create(generation=second, line=2)
    old.items.create(generation=third, line=1)
    Generation.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED, completed_at=ended)
    assert batch_webhooks_sweep() == 0  # a row still waits: not ended
    Generation.objects.filter(pk=second.pk).update(status=Status.FAILED, completed_at=ended)
    Generation.objects.filter(pk=third.pk).update(status=Status.SUCCEEDED, completed_at=ended - timedelta(hours=2))
    # An endpoint added after the batch ended doesn't get it.
    webhook_endpoint_create(workspace=workspace, actor=alice, url=f"{hooked.url}late", events=["batch.finished"])
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_sweep_task() == 1
    [body] = _bodies(hooked, "batch.finished")
    assert body["data"]["batch_id"] == batch.pk and body["data"]["counts"] == {"succeeded": 1, "failed": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_sweep_task() == 0  # once, however often it runs
        assert not batch_check_finished(generation_id=second.pk)  # and the signal's late check agrees
    assert Delivery.objects.filter(event="batch.finished").count() == 1
    schedule = Schedule.objects.get(name="batches-sweep")
    assert schedule.minutes == 1 and schedule.repeats == -1
    assert import_string(schedule.func) is batch_sweep_task
