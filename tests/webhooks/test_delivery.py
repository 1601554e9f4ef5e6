"""Sending webhooks: signed, retried on a schedule until a 2xx, given up after the last retry, never to a private
address (checked when saved and again when sent), and re-driven by the sweeper when a worker dies."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from kiestudio.webhooks import services
from kiestudio.webhooks.models import Attempt, Delivery, Endpoint
from kiestudio.webhooks.services import WebhookError, webhook_emit, webhook_endpoint_create, webhook_sweep
from tests.studio.helpers import workspace_of
from tests.webhooks.receiver import signature_ok, webhook_receiver

ALL = ["generation.succeeded", "generation.failed", "batch.finished"]
DATA = {"generation_id": 7, "status": "succeeded"}


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WEBHOOK_RETRY_SCALE = 0.0
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []


@pytest.fixture
def receiver(settings):
    with webhook_receiver() as running:
        settings.FETCH_ALLOWED_PRIVATE_HOSTS = [running.hostport]
        yield running


def _endpoint(alice, url, events=ALL) -> tuple[Endpoint, str]:
    return webhook_endpoint_create(workspace=workspace_of(alice), actor=alice, url=url, events=events)


def _emit(alice, capture, event="generation.succeeded", data=DATA, key="") -> list[Delivery]:
    with capture(execute=True):
        return webhook_emit(workspace_id=workspace_of(alice).pk, event=event, data=data, key=key)


def _fake_dns(monkeypatch, table: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_receiver_that_fails_twice_gets_one_accepted_delivery_with_a_valid_signature(
    alice, receiver, django_capture_on_commit_callbacks
):
    receiver.script = [500, 503]
    endpoint, secret = _endpoint(alice, receiver.url)
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)  # the first attempt runs after commit
    assert len(receiver.requests) == 1
    for _ in range(4):  # the sweeper re-drives what is due (retry delays scaled to 0 here)
        webhook_sweep()
    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    [accepted] = receiver.accepted()
    assert signature_ok(secret, accepted)
    assert not signature_ok("whsec_wrong", accepted)
    assert accepted.headers["X-Kiestudio-Event"] == "generation.succeeded"
    # One event id across the retries, so a receiver can drop a repeat.
    assert {r.headers["X-Kiestudio-Delivery"] for r in receiver.requests} == {str(delivery.event_id)}
    body = json.loads(accepted.body)
    assert body["id"] == str(delivery.event_id) and body["type"] == "generation.succeeded" and body["data"] == DATA
    assert len({r.body for r in receiver.requests}) == 1  # every retry sends the same bytes
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 3
    assert delivery.last_status_code == 200 and delivery.delivered_at and delivery.next_attempt_at is None
    attempts = list(delivery.attempt_log.all())
    assert [(a.number, a.status_code) for a in attempts] == [(3, 200), (2, 503), (1, 500)]
    assert attempts[1].error == "The endpoint answered HTTP 503." and attempts[2].error.endswith("HTTP 500.")
    assert endpoint.secret == secret and secret not in Endpoint.objects.values_list("secret_encrypted", flat=True)[0]


def test_retries_follow_the_backoff_then_give_up(alice, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_SCALE = 1.0
    receiver.script = [500] * 20
    _endpoint(alice, receiver.url)
    before = timezone.now()
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 1
    assert timedelta(seconds=29) < delivery.next_attempt_at - before < timedelta(seconds=40)
    assert webhook_sweep() == 0  # not due yet
    for attempt, delay in enumerate(services.BACKOFF[1:], start=2):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhook_sweep()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt and delivery.status == Delivery.Status.FAILED
        assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=delay * 0.9)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.GIVEN_UP and delivery.attempts == len(services.BACKOFF) + 1
    assert delivery.next_attempt_at is None and webhook_sweep() == 0
    assert Attempt.objects.filter(delivery=delivery).count() == services.KEEP_ATTEMPTS  # only the last few kept
    assert len(receiver.requests) == len(services.BACKOFF) + 1


def test_a_timeout_is_a_failure_to_retry(alice, receiver, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "TIMEOUT", 0.3)
    receiver.delay = 1.0
    _endpoint(alice, receiver.url)
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.last_status_code is None
    assert delivery.last_error == "No answer within 0.3 s."


def test_a_closed_port_is_a_connection_error_to_retry(alice, receiver, settings, django_capture_on_commit_callbacks):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = [f"127.0.0.1:{port}"]
    _endpoint(alice, f"http://127.0.0.1:{port}/hook")
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.last_error.startswith("Could not connect")


def test_a_redirect_is_not_followed(alice, receiver, django_capture_on_commit_callbacks):
    receiver.script = [302]
    _endpoint(alice, receiver.url)
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.last_error == "The endpoint answered HTTP 302."
    assert len(receiver.requests) == 1


# --- Private addresses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/hook",
        "https://192.168.1.20/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://files.internal.example/hook",  # a name resolving to a private address
    ],
)
def test_a_private_url_is_refused_when_saved(alice, monkeypatch, url):
    _fake_dns(monkeypatch, {"files.internal.example": "10.20.30.40"})
    with pytest.raises(WebhookError, match="private address") as refused:
        _endpoint(alice, url)
    assert refused.value.field == "url"
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.test/in", "Only https"),  # plain http only for FETCH_ALLOWED_PRIVATE_HOSTS
        ("ftp://hooks.example.test/in", "https://"),
        ("hooks.example.test/in", "https://"),
        ("", "Enter the URL"),
        ("https://hooks.example.test/" + "x" * 600, "too long"),
        ("https://hooks.example.test/a b", "spaces"),
    ],
)
def test_other_bad_urls_are_refused_when_saved(alice, monkeypatch, url, reason):
    _fake_dns(monkeypatch, {"hooks.example.test": "93.184.215.14"})
    with pytest.raises(WebhookError, match=reason):
        _endpoint(alice, url)


def test_a_receiver_allowed_when_saved_but_not_when_sent_is_refused(
    alice, receiver, settings, django_capture_on_commit_callbacks
):
    _endpoint(alice, receiver.url)  # saved while its host was allowed
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert (
        delivery.last_error
        == "Refused to send: The host 127.0.0.1 resolves to a private address, which is not allowed."
    )
    assert receiver.requests == []


def test_a_name_that_resolves_elsewhere_since_it_was_saved_is_refused_when_sent(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    _fake_dns(monkeypatch, {"hooks.example.test": "93.184.215.14"})
    _endpoint(alice, "https://hooks.example.test/in")
    _fake_dns(monkeypatch, {"hooks.example.test": "169.254.169.254"})  # DNS rebinding to the metadata service
    connected = []
    monkeypatch.setattr(services, "guarded_post", _spy(services.guarded_post, connected))
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and "private address" in delivery.last_error
    assert delivery.last_status_code is None and connected == ["https://hooks.example.test/in"]
    assert delivery.attempt_log.get().error.startswith("Refused to send")


def _spy(real, calls):
    def spy(url, **kwargs):
        calls.append(url)
        return real(url, **kwargs)

    return spy


# --- Who gets what ----------------------------------------------------------------------------------------------


def test_only_subscribed_active_endpoints_get_an_event(alice, charlie, receiver, django_capture_on_commit_callbacks):
    failed_only, _ = _endpoint(alice, receiver.url + "?a", ["generation.failed"])
    batches_only, _ = _endpoint(alice, receiver.url + "?b", ["batch.finished"])
    paused, _ = _endpoint(alice, receiver.url + "?c")
    services.webhook_endpoint_set_active(endpoint=paused, actor=alice, active=False)
    webhook_endpoint_create(workspace=workspace_of(charlie), actor=charlie, url=receiver.url + "?d", events=ALL)
    made = _emit(alice, django_capture_on_commit_callbacks, event="generation.failed")
    assert [d.endpoint for d in made] == [failed_only]
    assert _emit(alice, django_capture_on_commit_callbacks, event="generation.succeeded") == []
    assert [r.headers["X-Kiestudio-Event"] for r in receiver.requests] == ["generation.failed"]
    assert Delivery.objects.count() == 1 and not batches_only.deliveries.exists()


def test_an_event_with_a_key_is_queued_once_per_endpoint(alice, receiver, django_capture_on_commit_callbacks):
    _endpoint(alice, receiver.url)
    assert len(_emit(alice, django_capture_on_commit_callbacks, event="batch.finished", key="batch.finished:3")) == 1
    assert _emit(alice, django_capture_on_commit_callbacks, event="batch.finished", key="batch.finished:3") == []
    assert Delivery.objects.count() == 1 and len(receiver.requests) == 1


def test_an_event_is_part_of_the_callers_transaction(alice, receiver, django_capture_on_commit_callbacks):
    _endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        webhook_emit(workspace_id=workspace_of(alice).pk, event="generation.succeeded", data=DATA)
        transaction.set_rollback(True)
    assert not Delivery.objects.exists() and receiver.requests == []


def test_a_paused_endpoint_keeps_what_waits_until_it_resumes(alice, receiver, django_capture_on_commit_callbacks):
    endpoint, _ = _endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=False):  # queued, but the nudge is lost
        webhook_emit(workspace_id=workspace_of(alice).pk, event="generation.succeeded", data=DATA)
    services.webhook_endpoint_set_active(endpoint=endpoint, actor=alice, active=False)
    assert webhook_sweep() == 0 and receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_set_active(endpoint=endpoint, actor=alice, active=True)
    assert len(receiver.accepted()) == 1


# --- Workers ------------------------------------------------------------------------------------------------------


def test_a_delivery_claimed_by_a_killed_worker_is_re_driven_by_the_sweeper(
    alice, receiver, django_capture_on_commit_callbacks
):
    _endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=False):  # the nudge never reaches a worker
        [delivery] = webhook_emit(workspace_id=workspace_of(alice).pk, event="generation.succeeded", data=DATA)
    assert services._claim(delivery.pk) is not None  # a worker takes it ... and is killed before sending
    assert services.webhook_deliver(delivery_id=delivery.pk) == "not-due"  # a second worker can't send it
    assert webhook_sweep() == 0 and receiver.requests == []  # its lease is still live
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert webhook_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 1
    assert len(receiver.requests) == 1
    assert webhook_sweep() == 0 and services.webhook_deliver(delivery_id=delivery.pk) == "not-due"
    assert len(receiver.requests) == 1


def test_retry_now_sends_a_given_up_delivery_again(alice, receiver, django_capture_on_commit_callbacks):
    receiver.script = [500]
    _endpoint(alice, receiver.url)
    [delivery] = _emit(alice, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.GIVEN_UP, next_attempt_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_delivery_retry(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 2
    assert not services.webhook_delivery_retry(delivery=delivery)  # delivered: nothing to retry


def test_the_sweeper_is_scheduled_every_minute(db):
    from django.utils.module_loading import import_string
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="webhooks-sweep")
    assert schedule.minutes == 1 and schedule.repeats == -1
    assert import_string(schedule.func) is import_string("kiestudio.webhooks.tasks.webhook_sweep_task")
