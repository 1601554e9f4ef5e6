"""References: the pictures, clips and sounds a creator gives a model, uploaded or copied from a result."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models

from kiestudio.workspaces.models import Workspace

REFERENCE_PLACEHOLDER = "https://studio.local/files/references/{pk}/"
_PLACEHOLDER = re.compile(r"https://studio\.local/files/references/([0-9]{1,18})/", re.ASCII)


def reference_path(instance: Reference, filename: str) -> str:
    return f"ws{instance.workspace_id}/refs/{filename}"


class Reference(models.Model):
    """A picture, video clip or sound a creator gave to guide a generation: uploaded (checked by its content) or
    copied from one of the workspace's results. At submit time the worker sends Kie its own upload of the file."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="references")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMAGE)
    file = models.FileField(upload_to=reference_path, max_length=300)
    # A video's first frame (WebP), for its chip and the picker.
    poster = models.FileField(upload_to=reference_path, max_length=300, blank=True)
    label = models.CharField(max_length=120, blank=True)  # the file's own name, or the result's title
    mime_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)  # seconds, for video and audio
    # The result it was copied from: picking that result again reuses this copy (and its Kie upload).
    # Named by its app label, not imported: studio sits above uploads (an app-registry edge, not an import).
    source_asset = models.ForeignKey(
        "studio.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="references"
    )
    kie_url = models.TextField(blank=True)
    kie_uploaded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "studio_reference"  # the table it had when references lived in studio
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "kind", "-created_at"], name="reference_by_kind")]

    def __str__(self) -> str:
        return f"{self.kind} reference {self.pk}"

    @property
    def display_label(self) -> str:
        return self.label

    @property
    def placeholder(self) -> str:
        """What a job's inputs hold in place of this file until the worker sends Kie its upload of it."""
        return REFERENCE_PLACEHOLDER.format(pk=self.pk)

    @staticmethod
    def id_in_placeholder(value: object) -> int | None:
        match = _PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
        return int(match[1]) if match else None
