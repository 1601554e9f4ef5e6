"""The webhooks settings page: admins and owners only, the secret shown once, every change audited, another
workspace's endpoint a 404, and a private URL refused beside the field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kiestudio.webhooks.models import Delivery, Endpoint
from kiestudio.webhooks.services import webhook_endpoint_create
from kiestudio.workspaces.models import AuditEvent, Membership, Role
from tests.studio.helpers import workspace_of
from tests.webhooks.receiver import webhook_receiver

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks/in"  # a public address, no DNS needed


@pytest.fixture
def endpoint(alice) -> Endpoint:
    return webhook_endpoint_create(
        workspace=workspace_of(alice), actor=alice, url=PUBLIC, events=["generation.succeeded"]
    )[0]


def _add(client, url=PUBLIC, events=("generation.succeeded", "batch.finished")):
    return client.post(reverse("webhook-create"), {"url": url, "events": list(events)})


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_are_refused(client, alice, make_user, endpoint, role):
    bob = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=bob, role=role)
    client.force_login(bob)
    assert client.get(reverse("webhooks")).status_code == 403
    assert client.get(reverse("webhook-deliveries", args=[endpoint.pk])).status_code == 403
    assert _add(client).status_code == 403
    for name in ("webhook-roll", "webhook-delete", "webhook-ping"):
        assert client.post(reverse(name, args=[endpoint.pk])).status_code == 403
    assert Endpoint.objects.count() == 1 and not Delivery.objects.exists()


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(client, alice, make_user):
    bob = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=bob, role=Role.ADMIN)
    client.force_login(bob)
    response = _add(client)
    assert response.status_code == 302 and response["Location"] == reverse("webhooks")
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["generation.succeeded", "batch.finished"] and endpoint.created_by == bob
    page = client.get(reverse("webhooks"))
    assert page["Cache-Control"] == "no-store"
    assert endpoint.secret in page.content.decode() and "Copy secret" in page.content.decode()
    again = client.get(reverse("webhooks")).content.decode()
    assert endpoint.secret not in again and f"••••{endpoint.secret[-4:]}" in again
    assert endpoint.secret not in endpoint.secret_encrypted
    event = AuditEvent.objects.get(action="webhook.added")
    assert event.target == PUBLIC and event.actor == bob and endpoint.secret not in str(event.details)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254/latest/meta-data/", "resolves to a private address"),
        ("https://127.0.0.1:8000/hook", "resolves to a private address"),
        ("http://93.184.215.14/hook", "Only https URLs are allowed."),
    ],
)
def test_a_private_or_plain_http_url_is_refused_beside_the_field(client, alice, url, message):
    client.force_login(alice)
    response = _add(client, url=url)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_url_error"' in html and message in html
    assert not Endpoint.objects.exists()


def test_no_events_is_refused_beside_the_checkboxes(client, alice):
    client.force_login(alice)
    response = _add(client, events=())
    assert response.status_code == 422 and "Choose at least one event." in response.content.decode()
    assert _add(client, events=("ping",)).status_code == 422
    assert not Endpoint.objects.exists()


def test_roll_pause_resume_and_delete_are_audited(client, alice, endpoint):
    client.force_login(alice)
    old = endpoint.secret
    client.post(reverse("webhook-roll", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in client.get(reverse("webhooks")).content.decode()
    client.post(reverse("webhook-active", args=[endpoint.pk]), {"action": "pause"})
    assert not Endpoint.objects.get().is_active
    assert "Resume" in client.get(reverse("webhooks")).content.decode()
    client.post(reverse("webhook-active", args=[endpoint.pk]), {"action": "resume"})
    assert Endpoint.objects.get().is_active
    client.post(reverse("webhook-delete", args=[endpoint.pk]))
    assert not Endpoint.objects.exists()
    actions = set(AuditEvent.objects.filter(action__startswith="webhook.").values_list("action", flat=True))
    assert actions == {"webhook.added", "webhook.secret_rolled", "webhook.paused", "webhook.resumed", "webhook.deleted"}


def test_another_workspaces_endpoint_and_delivery_are_404(client, alice, charlie, endpoint):
    delivery = Delivery.objects.create(
        workspace=endpoint.workspace, endpoint=endpoint, event="ping", payload={}, status=Delivery.Status.FAILED
    )
    client.force_login(charlie)
    assert client.get(reverse("webhook-deliveries", args=[endpoint.pk])).status_code == 404
    for name in ("webhook-roll", "webhook-delete", "webhook-ping", "webhook-active"):
        assert client.post(reverse(name, args=[endpoint.pk]), {"action": "pause"}).status_code == 404
    assert client.post(reverse("webhook-delivery-retry", args=[delivery.pk])).status_code == 404
    assert endpoint.url not in client.get(reverse("webhooks")).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active and Delivery.objects.get().status == Delivery.Status.FAILED


def test_a_test_event_and_its_attempts_are_listed(client, alice, settings, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with webhook_receiver([500]) as receiver:
        settings.FETCH_ALLOWED_PRIVATE_HOSTS = [receiver.hostport]
        settings.WEBHOOK_RETRY_SCALE = 0.0
        endpoint, _ = webhook_endpoint_create(
            workspace=workspace_of(alice), actor=alice, url=receiver.url, events=["batch.finished"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("webhook-ping", args=[endpoint.pk])).status_code == 302
        delivery = Delivery.objects.get()
        assert delivery.event == "ping" and delivery.status == Delivery.Status.FAILED
        html = client.get(reverse("webhook-deliveries", args=[endpoint.pk])).content.decode()
        assert "The endpoint answered HTTP 500." in html and "Retry now" in html
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("webhook-delivery-retry", args=[delivery.pk]))
        html = client.get(reverse("webhooks")).content.decode()
        assert "Delivered" in html and "Retry now" not in html
        assert [r.answered for r in receiver.requests] == [500, 200]
