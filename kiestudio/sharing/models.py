"""Share links: a gallery item, a collection or a comparison, opened by people without an account.

A link's token is 192 random bits. Only its sha256 finds the share, so the database alone opens nothing; the token
is also kept encrypted (``core.crypto``, like a workspace's invitation links) so the sharer can copy it again."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.batches.models import Batch
from kiestudio.core.crypto import SecretUnreadable, decrypt
from kiestudio.gallery.models import Collection
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace


class Share(models.Model):
    class Kind(models.TextChoices):
        ITEM = "item", "Item"
        COLLECTION = "collection", "Collection"
        COMPARISON = "comparison", "Comparison"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="shares")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Exactly one of these, by kind. Deleting what was shared deletes its links.
    generation = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    collection = models.ForeignKey(Collection, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    token_encrypted = models.TextField()
    password_hash = models.CharField(max_length=128, blank=True)  # empty: anyone with the link
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    allow_download = models.BooleanField(default=False)
    show_prompt = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="share_recent")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="item", generation__isnull=False, collection__isnull=True, batch__isnull=True)
                    | models.Q(kind="collection", generation__isnull=True, collection__isnull=False, batch__isnull=True)
                    | models.Q(kind="comparison", generation__isnull=True, collection__isnull=True, batch__isnull=False)
                ),
                name="share_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"Share of {self.target_label}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def token(self) -> str:
        """The link's token, for its Copy button ("" when FIELD_ENCRYPTION_KEY can no longer read it)."""
        try:
            return decrypt(self.token_encrypted)
        except SecretUnreadable:
            return ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def target(self) -> Generation | Collection | Batch | None:
        return self.generation or self.collection or self.batch

    @property
    def target_label(self) -> str:
        """What was shared, in words, for the list of links and the audit log."""
        if self.kind == self.Kind.COLLECTION and self.collection:
            return f"collection “{self.collection.name}”"
        if self.kind == self.Kind.COMPARISON and self.batch:
            return f"comparison “{self.batch.name[:80]}”"
        return f"item #{self.generation_id}"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
