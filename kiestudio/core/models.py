from __future__ import annotations

from django.db import models


class RateBucket(models.Model):
    """One row per rate-limit bucket; locking it serialises reservations on PostgreSQL."""

    name = models.CharField(primary_key=True, max_length=120)


class RateSlot(models.Model):
    """A reservation in a sliding window: ``at`` is epoch seconds (every process on the host shares the clock)."""

    bucket = models.CharField(max_length=120)
    at = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["bucket", "at"], name="rateslot_bucket_at")]


class Lease(models.Model):
    """A named, expiring lock in the database (for example: only one dispatcher loop at a time)."""

    name = models.CharField(primary_key=True, max_length=80)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()


class Heartbeat(models.Model):
    """When a named loop last showed it was alive (the job dispatcher beats here; /healthz and the worker
    supervisor read it to tell a stuck cluster from a quiet one)."""

    name = models.CharField(primary_key=True, max_length=80)
    beat_at = models.DateTimeField()
