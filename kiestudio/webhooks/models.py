"""Outgoing webhooks: the URLs a workspace registers for its events, and the durable ledger of what was sent.

One ``Delivery`` per event per endpoint, written in the transaction that caused the event; the database says
what is due, and django-q2 tasks only hurry it along (``tasks.py``). Each delivery keeps its last few
``Attempt`` rows for the settings page."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kiestudio.core.crypto import decrypt
from kiestudio.workspaces.models import Workspace


class Event(models.TextChoices):
    GENERATION_SUCCEEDED = "generation.succeeded", "Generation finished"
    GENERATION_FAILED = "generation.failed", "Generation failed"
    BATCH_FINISHED = "batch.finished", "Batch finished"
    PING = "ping", "Test event"


# What an endpoint can subscribe to (a test event goes to the one endpoint it was sent from).
SUBSCRIBABLE = (Event.GENERATION_SUCCEEDED, Event.GENERATION_FAILED, Event.BATCH_FINISHED)


class Endpoint(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=500)
    events = models.JSONField(default=list)  # values of Event, subscribed
    # The signing secret, encrypted at rest (kiestudio.core.crypto); shown once, when made or rolled.
    secret_encrypted = models.TextField()
    secret_last4 = models.CharField(max_length=4, blank=True)
    secret_rolled_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["workspace", "is_active"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)

    def event_labels(self) -> list[str]:
        return [Event(value).label for value in SUBSCRIBABLE if value in self.events]


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed, will retry"
        GIVEN_UP = "given_up", "Given up"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the same for every endpoint it went to and across retries (receivers dedupe on it).
    event_id = models.UUIDField(default=uuid.uuid4)
    event = models.CharField(max_length=40, choices=Event.choices)
    # Makes an event idempotent per endpoint ("batch.finished:12"); empty for events that can't repeat (a ping).
    dedupe_key = models.CharField(max_length=120, blank=True)
    payload = models.JSONField()  # the whole body sent, so every retry sends the same bytes
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"], condition=~Q(dedupe_key=""), name="webhook_delivery_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"

    @property
    def retryable(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.GIVEN_UP)


class Attempt(models.Model):
    """One try at sending a delivery: only the last few are kept."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-number", "-pk"]
        indexes = [models.Index(fields=["delivery", "-number"], name="webhook_attempt_recent")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
