"""Batches: many generations from one template, list or CSV, and comparisons of models on one prompt.

A batch is a record of what was asked (template, models, the rows refused and why) and a link to each generation
it bought. The generations themselves are ordinary rows of the studio: they queue, run, charge and land in the
gallery like any other, so a batch survives a restart of every process with nothing of its own to recover."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace


class Batch(models.Model):
    class Source(models.TextChoices):
        LIST = "list", "A list of prompts"
        CSV = "csv", "A CSV file"
        COMPARE = "compare", "A comparison of models"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=Source.choices)
    template = models.TextField(blank=True)  # the prompt with {variables}; empty: each row is its own prompt
    model_keys = models.JSONField(default=list)  # the models every row runs on (a CSV "model" column overrides)
    # The form's token: the same submit twice is the same batch (one click buys each row once).
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)
    refused = models.JSONField(default=list, blank=True)  # [{"line": 4, "reason": "…"}] rows not run, and why
    credits_estimated = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    paused_at = models.DateTimeField(null=True, blank=True)
    # A comparison judged blind: each member sees "A", "B", … until they have voted.
    blind = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["workspace", "request_key"], name="batch_unique_request")]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="batch_recent")]

    def __str__(self) -> str:
        return self.name


class BatchItem(models.Model):
    """One generation of a batch: which row (its line in the CSV or list) and model made it."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    generation = models.OneToOneField(Generation, on_delete=models.CASCADE, related_name="batch_item")
    line = models.PositiveIntegerField()

    class Meta:
        ordering = ["line", "pk"]
        indexes = [models.Index(fields=["batch", "line"], name="batch_item_line")]


class Judgement(models.Model):
    """A member's verdict on a comparison: the best result, and optionally 1–5 stars for each. One per member (a
    second vote replaces the first); votes build the workspace's leaderboard (``judging.leaderboard``)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="judgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    winner = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    stars = models.JSONField(default=dict, blank=True)  # {"<generation id>": 1..5}
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["batch", "user"], name="judgement_one_per_member")]
