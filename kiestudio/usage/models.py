"""The ledger (one entry per charge) and the holds (credits bought but not yet charged)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.workspaces.models import Workspace


class UsageEntry(models.Model):
    """The ledger: one row per charge, generations and chat alike. Budgets and the usage dashboard read it."""

    class Kind(models.TextChoices):
        GENERATION = "generation", "Generation"
        CHAT = "chat", "Chat"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    model_key = models.CharField(max_length=120)
    credits = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    # What was charged: "generation:12" or "message:34" (one entry each: the key is unique).
    source = models.CharField(max_length=40, unique=True)
    estimated = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "workspaces_usageentry"  # the table it had when the ledger lived in workspaces
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="usage_by_time"),
            models.Index(fields=["workspace", "user", "created_at"], name="usage_by_member"),
        ]

    def __str__(self) -> str:
        return f"{self.credits} credits for {self.source}"


class Hold(models.Model):
    """Credits set aside for work bought but not yet charged: a generation waiting to be sent to Kie.

    Written with the generation, in the same transaction as the budget check; gone when the charge is recorded
    under the same ``source`` or the work ends without one. Budgets count holds beside the ledger, so a burst of
    clicks can't overspend before the first charge lands."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="holds")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    credits = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    source = models.CharField(max_length=40, unique=True)  # the ledger entry it becomes: "generation:12"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="hold_by_time")]

    def __str__(self) -> str:
        return f"{self.credits} credits held for {self.source}"
