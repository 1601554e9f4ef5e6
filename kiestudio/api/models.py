"""Workspace API tokens, what each one bought, and the idempotency keys of its creates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.workspaces.models import Role, Workspace


class Scope(models.TextChoices):
    READ = "read", "Read"
    GENERATE = "generate", "Generate"
    CHAT = "chat", "Chat"


# The role a token's creator must still hold for the token to use a scope.
SCOPE_ROLE = {Scope.READ: Role.VIEWER, Scope.GENERATE: Role.MEMBER, Scope.CHAT: Role.MEMBER}


class ApiToken(models.Model):
    """A workspace's API token. Only the sha256 of the whole token is kept; ``prefix`` finds the row."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    monthly_cap = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="apitoken_recent")]

    def __str__(self) -> str:
        return f"{self.name} (ks_{self.prefix}_…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def label(self) -> str:
        """How the ledger and the audit log name it."""
        return f"API token “{self.name}” (ks_{self.prefix})"


class ApiSpend(models.Model):
    """What a token bought: the usage ledger's source of each generation or chat reply ("generation:12"), so the
    token's monthly cap reads the same ledger and holds as the workspace's budget."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="spends")
    source = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["token", "created_at"], name="apispend_by_time")]


class IdempotencyKey(models.Model):
    """An ``Idempotency-Key`` a token sent with a create, and a digest of the body it came with."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=200)
    body_hash = models.CharField(max_length=64)
    generation_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_unique_key")]
