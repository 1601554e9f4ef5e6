"""Our stored files sent to Kie as Kie's own uploads: made once, and reused while Kie still keeps them."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from kiestudio.core.leases import lease_acquire, lease_release
from kiestudio.uploads.models import Reference

REFERENCE_MAX_BYTES = 10 * 1024 * 1024
REFERENCE_KIE_TTL = timedelta(hours=60)  # Kie keeps uploads 3 days; re-upload before that runs out


class _ReferenceError(Exception):
    pass


class ReferenceMissing(Exception):
    """A file a job was to send is gone (deleted before the job was sent); the message is safe to show."""


def reference_kie_url(*, reference_id: int, workspace_id: int, client) -> str:
    reference = Reference.objects.filter(pk=reference_id, workspace_id=workspace_id).first()
    if reference is None:
        raise ReferenceMissing("A file added to this job was deleted before the job was sent. Add it again.")
    return kie_copy(reference, client, folder="kiestudio/references")


def kie_copy(stored: Any, client, *, folder: str) -> str:
    """The Kie URL of one of our files: the last upload while Kie still keeps it (3 days), else a new upload.

    One upload per file: jobs that share a file and are sent at the same moment (variations, a retry, two tabs)
    take turns under a lease, and the one that waited finds the other's upload. If the upload it waits for seems
    stuck (a worker died holding the lease), it stops waiting and uploads the file itself."""

    wait_seconds, lease_seconds = 180.0, 900.0

    def current() -> str | None:
        found = type(stored).objects.filter(pk=stored.pk).values("kie_url", "kie_uploaded_at").first()
        row: dict[str, Any] = dict(found) if found else {}
        at = row.get("kie_uploaded_at")
        if row.get("kie_url") and at and timezone.now() - at < REFERENCE_KIE_TTL:
            stored.kie_url, stored.kie_uploaded_at = row["kie_url"], at
            return row["kie_url"]
        return None

    fresh = stored.kie_uploaded_at and timezone.now() - stored.kie_uploaded_at < REFERENCE_KIE_TTL
    if stored.kie_url and fresh:
        return stored.kie_url
    name = f"kie-upload:{stored._meta.model_name}:{stored.pk}"
    holder = uuid.uuid4().hex
    give_up = time.monotonic() + wait_seconds
    while not lease_acquire(name=name, holder=holder, seconds=lease_seconds):
        if url := current():
            return url
        if time.monotonic() > give_up:
            break
        time.sleep(0.5)
    try:
        if url := current():  # uploaded by another worker while this one waited for the lease
            return url
        file_name = stored.file.name or f"{stored._meta.model_name}-{stored.pk}"  # a stored row always has a name
        with stored.file.open("rb") as fh:
            uploaded = client.upload_file(
                fh, file_name=file_name.rsplit("/", 1)[-1], mime_type=stored.mime_type, upload_path=folder
            )
        now = timezone.now()
        type(stored).objects.filter(pk=stored.pk).update(kie_url=uploaded.url, kie_uploaded_at=now)
        stored.kie_url, stored.kie_uploaded_at = uploaded.url, now
        return uploaded.url
    finally:
        lease_release(name=name, holder=holder)
