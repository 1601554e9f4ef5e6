"""Outgoing webhooks: endpoints, emitting events into the delivery ledger, and sending them.

* ``webhook_emit`` writes one ``Delivery`` per active endpoint subscribed to the event, in the caller's
  transaction, and nudges delivery after commit. The caller builds the event's data (this app sits below the
  studio and must not read its rows).
* ``webhook_deliver`` makes one attempt under a lease (a conditional UPDATE only one worker wins), POSTs the
  signed body through the SSRF guard (``core/fetch.py`` ``guarded_post``: https only, public addresses only,
  the checked address is the one connected to, no redirects) and records the answer. Anything but a 2xx is
  retried on ``BACKOFF`` (scaled by ``WEBHOOK_RETRY_SCALE``), then given up.
* ``webhook_sweep`` (scheduled every minute) re-drives what is due, including a delivery whose worker died
  holding its lease: the database is the source of truth.

Signature: ``X-Kiestudio-Signature = base64(HMAC-SHA256(secret, timestamp + "." + body))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from kiestudio.core import crypto
from kiestudio.core.fetch import BlockedURL, FetchError, check_url, guarded_post
from kiestudio.webhooks.models import SUBSCRIBABLE, Attempt, Delivery, Endpoint, Event
from kiestudio.workspaces.audit import audit_record
from kiestudio.workspaces.models import Workspace

log = logging.getLogger("kiestudio.webhooks")

# Seconds before each retry: 30 s, 2 min, 10 min, 1 h, 6 h, 24 h; after the last, the delivery is given up.
BACKOFF = (30, 120, 600, 3600, 6 * 3600, 24 * 3600)
TIMEOUT = 10.0  # seconds for one attempt
LEASE_SECONDS = 60  # how long an attempt may hold a delivery before the sweeper may send it again
KEEP_ATTEMPTS = 5  # attempts kept per delivery, for the settings page
SWEEP_LIMIT = 200
KEEP_DAYS = 30  # finished deliveries older than this are removed by the sweeper
MAX_URL = 500

S = Delivery.Status
DUE = (S.PENDING, S.FAILED)


class WebhookError(Exception):
    """A change refused, with a message to show; ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# --- Endpoints -------------------------------------------------------------------------------------------------


def webhook_url_check(url: str) -> str:
    """The URL, stripped, if events may be sent to it: https (http only for a host in
    FETCH_ALLOWED_PRIVATE_HOSTS) to a host whose every address is public. Checked again at each send."""
    url = (url or "").strip()
    if not url:
        raise WebhookError("Enter the URL to send events to.", field="url")
    if len(url) > MAX_URL:
        raise WebhookError(f"That URL is too long ({MAX_URL} characters at most).", field="url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookError("A URL can't contain spaces or control characters.", field="url")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise WebhookError("That isn't a valid URL.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError("Enter a full https:// URL.", field="url")
    try:
        check_url(url, https_only=True)
    except BlockedURL as exc:
        raise WebhookError(f"Refused: {exc}", field="url") from None
    return url


def _events(values: Iterable[str]) -> list[str]:
    chosen = set(values)
    if chosen - set(SUBSCRIBABLE):
        raise WebhookError("Choose events from the list.", field="events")
    if not chosen:
        raise WebhookError("Choose at least one event.", field="events")
    return [str(value) for value in SUBSCRIBABLE if value in chosen]


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def webhook_endpoint_create(*, workspace: Workspace, actor, url: str, events: Iterable[str]) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (returned once: only its encrypted form is kept)."""
    url = webhook_url_check(url)
    chosen = _events(events)
    secret = _new_secret()
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            workspace=workspace,
            url=url,
            events=chosen,
            secret_encrypted=crypto.encrypt(secret),
            secret_last4=secret[-4:],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(workspace=workspace, actor=actor, action="webhook.added", target=url, events=", ".join(chosen))
    return endpoint, secret


def webhook_endpoint_roll_secret(*, endpoint: Endpoint, actor) -> str:
    """A new signing secret, in use at once (the old one stops working); returned once."""
    secret = _new_secret()
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=crypto.encrypt(secret), secret_last4=secret[-4:], secret_rolled_at=timezone.now()
        )
        audit_record(workspace=endpoint.workspace, actor=actor, action="webhook.secret_rolled", target=endpoint.url)
    endpoint.refresh_from_db()
    return secret


def webhook_endpoint_set_active(*, endpoint: Endpoint, actor, active: bool) -> bool:
    """Pause or resume; False when it already was. While paused nothing new is queued for it and what waits
    stays waiting (sent after it resumes)."""
    with transaction.atomic():
        changed = Endpoint.objects.filter(pk=endpoint.pk, is_active=not active).update(is_active=active)
        if changed:
            action = "webhook.resumed" if active else "webhook.paused"
            audit_record(workspace=endpoint.workspace, actor=actor, action=action, target=endpoint.url)
            if active:
                _nudge_on_commit(list(_due(timezone.now()).filter(endpoint=endpoint).values_list("pk", flat=True)))
    endpoint.is_active = active
    return bool(changed)


def webhook_endpoint_delete(*, endpoint: Endpoint, actor) -> None:
    with transaction.atomic():
        audit_record(workspace=endpoint.workspace, actor=actor, action="webhook.deleted", target=endpoint.url)
        endpoint.delete()


def webhook_ping(*, endpoint: Endpoint, actor) -> Delivery:
    """Send the ``ping`` test event to this one endpoint."""
    if not endpoint.is_active:
        raise WebhookError("This endpoint is paused: resume it to send a test event.")
    data = {"message": "A test event from Kie Studio.", "endpoint_id": endpoint.pk}
    if getattr(actor, "email", ""):
        data["sent_by"] = actor.email
    with transaction.atomic():
        [delivery] = _deliveries([endpoint], event=Event.PING, data=data, key="")
    return delivery


# --- Emitting --------------------------------------------------------------------------------------------------


def webhook_wanted(*, workspace_id: int, event: str) -> bool:
    """Whether any active endpoint of the workspace takes ``event`` (so a caller can skip building its data)."""
    return any(event in events for events in _active(workspace_id).values_list("events", flat=True))


def _active(workspace_id: int) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(workspace_id=workspace_id, is_active=True)


def webhook_emit(
    *, workspace_id: int, event: str, data: dict[str, Any], key: str = "", made_before: datetime | None = None
) -> list[Delivery]:
    """Queue ``event`` with ``data`` for every active endpoint of the workspace subscribed to it, in the
    caller's transaction; sent after commit. ``key`` makes the event idempotent: an event with a key already
    queued for an endpoint is not queued again (e.g. ``"batch.finished:12"``). ``made_before`` leaves out
    endpoints added after that moment (an event emitted late goes only where it would have gone on time)."""
    event = Event(event)
    endpoints = [
        endpoint
        for endpoint in _active(workspace_id)
        if event.value in endpoint.events and (made_before is None or endpoint.created_at <= made_before)
    ]
    if not endpoints:
        return []
    with transaction.atomic():
        return _deliveries(endpoints, event=event, data=data, key=key)


def _deliveries(endpoints: list[Endpoint], *, event: Event, data: dict[str, Any], key: str) -> list[Delivery]:
    event_id = uuid.uuid4()
    now = timezone.now()
    envelope = {
        "id": str(event_id),
        "type": event.value,
        "created_at": now.isoformat(),
        "workspace_id": endpoints[0].workspace_id,
        "data": data,
    }
    made = []
    for endpoint in endpoints:
        delivery = Delivery(
            workspace_id=endpoint.workspace_id,
            endpoint=endpoint,
            event_id=event_id,
            event=event.value,
            dedupe_key=key[:120],
            payload=envelope,
            next_attempt_at=now,
            created_at=now,
        )
        try:
            with transaction.atomic():
                delivery.save()
        except IntegrityError:
            continue  # already queued for this endpoint (the same key)
        made.append(delivery)
    _nudge_on_commit([delivery.pk for delivery in made])
    return made


def _nudge_on_commit(ids: list[int]) -> None:
    if ids:
        transaction.on_commit(lambda: _nudge(ids))


def _nudge(ids: Iterable[int]) -> None:
    """Hand deliveries to workers now. Only a nudge: a lost one is found by the sweeper."""
    from django_q.tasks import async_task

    for pk in ids:
        async_task("kiestudio.webhooks.tasks.webhook_deliver_task", pk, group="webhooks")


# --- Sending ---------------------------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + "." + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_body(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":")).encode()


def _due(now) -> QuerySet[Delivery]:
    """Deliveries whose next attempt has come, to an active endpoint, that no worker holds a live lease on."""
    return Delivery.objects.filter(status__in=DUE, next_attempt_at__lte=now, endpoint__is_active=True).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def _claim(delivery_id: int) -> uuid.UUID | None:
    now = timezone.now()
    token = uuid.uuid4()
    pks = list(_due(now).filter(pk=delivery_id).values_list("pk", flat=True))
    if not pks:
        return None
    lease = now + timedelta(seconds=LEASE_SECONDS)
    # The conditional UPDATE is the claim: of two workers, only one still finds the row free.
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=DUE, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease, lease_token=token)
    )
    return token if claimed else None


def _retry_scale() -> float:
    return float(getattr(settings, "WEBHOOK_RETRY_SCALE", 1.0))


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt at a due delivery; safe to run twice (the second finds it claimed or no longer due)."""
    token = _claim(delivery_id)
    if token is None:
        return "not-due"
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        headers = {
            "Content-Type": "application/json",
            "X-Kiestudio-Event": delivery.event,
            "X-Kiestudio-Delivery": str(delivery.event_id),
            "X-Kiestudio-Timestamp": timestamp,
            "X-Kiestudio-Signature": webhook_signature(endpoint.secret, timestamp, body),
        }
        status_code = guarded_post(endpoint.url, content=body, headers=headers, timeout=TIMEOUT)
        if not 200 <= status_code < 300:
            error = f"The endpoint answered HTTP {status_code}."
    except BlockedURL as exc:
        error = f"Refused to send: {exc}"
    except (FetchError, crypto.SecretUnreadable) as exc:
        error = str(exc)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, token, status_code=status_code, error=error, duration_ms=duration_ms)


def _record(delivery: Delivery, token: uuid.UUID, *, status_code: int | None, error: str, duration_ms: int) -> str:
    now = timezone.now()
    number = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": number,
        "last_status_code": status_code,
        "last_error": error[:1000],
        "lease_until": None,
        "lease_token": None,
        "updated_at": now,
    }
    if not error:
        fields.update(status=S.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif number > len(BACKOFF):
        fields.update(status=S.GIVEN_UP, next_attempt_at=None)
    else:
        delay = BACKOFF[number - 1] * _retry_scale()
        fields.update(status=S.FAILED, next_attempt_at=now + timedelta(seconds=delay))
    with transaction.atomic():
        if not Delivery.objects.filter(pk=delivery.pk, lease_token=token).update(**fields):
            log.warning("webhook delivery %s: lease lost before the attempt was recorded", delivery.pk)
            return "lease-lost"
        Attempt.objects.create(
            delivery=delivery,
            number=number,
            at=now,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error[:300],
        )
        Attempt.objects.filter(delivery=delivery, number__lte=number - KEEP_ATTEMPTS).delete()
    log.info(
        "webhook delivery %s: attempt %s %s",
        delivery.pk,
        number,
        fields["status"],
        extra={"event": delivery.event, "status_code": status_code},
    )
    return str(fields["status"])


def webhook_delivery_retry(*, delivery: Delivery) -> bool:
    """Send a failed (or given-up) delivery again now; False when it isn't failed or an attempt is under way."""
    now = timezone.now()
    changed = (
        Delivery.objects.filter(pk=delivery.pk, status__in=(S.FAILED, S.GIVEN_UP))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(status=S.PENDING, next_attempt_at=now, lease_until=None, lease_token=None)
    )
    if changed:
        _nudge_on_commit([delivery.pk])
    return bool(changed)


def webhook_sweep(*, limit: int = SWEEP_LIMIT) -> int:
    """Scheduled every minute: hand every due delivery to a worker (a retry whose time has come, a nudge that
    was lost, a lease a killed worker left), and forget finished deliveries older than KEEP_DAYS."""
    now = timezone.now()
    ids = list(_due(now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    _nudge(ids)
    old = Delivery.objects.filter(status__in=(S.SUCCEEDED, S.GIVEN_UP), created_at__lt=now - timedelta(days=KEEP_DAYS))
    stale = list(old.values_list("pk", flat=True)[:1000])
    if stale:
        Delivery.objects.filter(pk__in=stale).delete()
    return len(ids)
