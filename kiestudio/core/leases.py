from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kiestudio.core.models import Heartbeat, Lease


def lease_acquire(*, name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease; False when another holder has it and it has not expired."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    updated = Lease.objects.filter(Q(expires_at__lt=now) | Q(holder=holder), name=name).update(
        holder=holder, expires_at=until
    )
    if updated:
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=until)
    except IntegrityError:
        return False
    return True


def lease_release(*, name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).delete()


def lease_is_free(*, name: str) -> bool:
    return not Lease.objects.filter(name=name, expires_at__gte=timezone.now()).exists()


def heartbeat_beat(*, name: str) -> None:
    """Record that the loop called ``name`` is alive now."""
    now = timezone.now()
    if not Heartbeat.objects.filter(name=name).update(beat_at=now):
        try:
            with transaction.atomic():
                Heartbeat.objects.create(name=name, beat_at=now)
        except IntegrityError:  # another process beat first
            Heartbeat.objects.filter(name=name).update(beat_at=now)


def heartbeat_age(*, name: str, now=None) -> float | None:
    """Seconds since ``name`` last beat, or None if it never has."""
    beat_at = Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    if beat_at is None:
        return None
    return max(0.0, ((now or timezone.now()) - beat_at).total_seconds())
