"""Reference images: checked by their content (JPEG, PNG or WebP, at most 10 MB) before anything is stored."""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile

from kiestudio.studio import media
from kiestudio.studio.models import ReferenceImage

MAX_REFERENCE_BYTES = 10 * 1024 * 1024


class UploadRejected(Exception):
    """The upload was refused before anything was stored or sent. The message is safe to show."""


def reference_create(*, workspace, user, upload: UploadedFile) -> ReferenceImage:
    if upload.size is not None and upload.size > MAX_REFERENCE_BYTES:
        raise UploadRejected(f"That image is {upload.size / 1_048_576:.1f} MB; the limit is 10 MB.")
    data = upload.read(MAX_REFERENCE_BYTES + 1)
    if len(data) > MAX_REFERENCE_BYTES:
        raise UploadRejected("That image is larger than the 10 MB limit.")
    return reference_from_bytes(workspace=workspace, user=user, data=data)


def reference_from_bytes(*, workspace, user, data: bytes) -> ReferenceImage:
    import io

    try:
        info = media.probe_image(io.BytesIO(data), allowed=media.REFERENCE_FORMATS)
    except media.MediaError as exc:
        raise UploadRejected(f"{exc} Reference images must be JPEG, PNG or WebP.") from exc
    reference = ReferenceImage(
        workspace=workspace,
        created_by=user,
        mime_type=info.mime_type,
        size=len(data),
        width=info.width or 0,
        height=info.height or 0,
    )
    reference.file.save(f"ref-{uuid.uuid4().hex[:12]}.{info.extension}", ContentFile(data), save=False)
    reference.save()
    return reference
