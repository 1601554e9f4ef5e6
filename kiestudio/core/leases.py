from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kiestudio.core.models import Lease


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
