from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from kiestudio.studio.prompt_templates import Variable, template_variables
from kiestudio.workspaces.models import Workspace


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    SUBMITTED = "submitted", "Generating"
    STORING = "storing", "Saving"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    UNKNOWN = "unknown", "Unknown"


# Files the studio makes itself (no Kie task): their "model" and the name it goes by.
ASSEMBLED = "studio/assemble"
STUDIO_MADE = {ASSEMBLED: "Assembled video"}

PENDING = (Status.QUEUED, Status.SUBMITTING, Status.SUBMITTED, Status.STORING)
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.UNKNOWN)

# The guarded state machine: a transition not listed here is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.SUBMITTING, Status.CANCELED, Status.FAILED}),
    # back to QUEUED only when Kie provably created nothing (429 before send, limiter wait, connection refused)
    Status.SUBMITTING: frozenset({Status.SUBMITTED, Status.QUEUED, Status.FAILED, Status.UNKNOWN}),
    Status.SUBMITTED: frozenset({Status.STORING, Status.FAILED, Status.CANCELED}),
    Status.STORING: frozenset({Status.SUCCEEDED, Status.FAILED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELED: frozenset(),
    # a callback for a task we marked unknown proves Kie accepted it after all
    Status.UNKNOWN: frozenset({Status.SUBMITTED}),
}


class Prompt(models.Model):
    """Every prompt typed in a workspace, de-duplicated. A name puts it in the shared prompt library."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    use_count = models.PositiveIntegerField(default=0)
    saved_name = models.CharField(max_length=80, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "text_hash"], name="prompt_unique_text")]
        indexes = [
            models.Index(fields=["workspace", "-last_used_at"], name="prompt_recent"),
            models.Index(fields=["workspace", "saved_name"], name="prompt_library"),
        ]

    def __str__(self) -> str:
        return self.saved_name or self.text[:60]

    @cached_property
    def variables(self) -> list[Variable]:
        """Its ``{variables}``, if it is a template: a batch fills them, one row per generation."""
        return template_variables(self.text)

    @staticmethod
    def normalise(text: str) -> str:
        return " ".join(text.split())

    @classmethod
    def hash_text(cls, text: str) -> str:
        return hashlib.sha256(cls.normalise(text).encode()).hexdigest()


class Generation(models.Model):
    """One Kie task, from the click that bought it to the files we stored. The database is the source of truth:
    workers only advance a row whose ``next_check_at`` is due, under a lease."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="generations")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # One click, one task: the form's token plus the variation index; a resent POST finds the same row. Unique
    # per workspace only: a token replayed in another workspace is a new request there, never this row.
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)
    model_key = models.CharField(max_length=120)
    family = models.CharField(max_length=20)
    kind = models.CharField(max_length=30)
    output = models.CharField(max_length=10)
    inputs = models.JSONField(default=dict)
    prompt = models.ForeignKey(Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations")
    prompt_text = models.TextField(blank=True)
    variation = models.PositiveSmallIntegerField(default=1)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    # Lineage: a follow-up (upscale, extend, stems, …) records the generation and the file it was made from.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    parent_asset = models.ForeignKey("Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived")
    action = models.CharField(max_length=40, blank=True)  # the follow-up that made it ("upscale", "extend", …)
    # The input that carries the parent's file (uploaded to Kie when the job is sent), if the follow-up takes it.
    parent_media_field = models.CharField(max_length=80, blank=True)
    # Ancestor ids from the original down, each followed by "/" ("" for an original). Everything derived from X
    # shares the prefix "<X.lineage><X.pk>/": one index range, at any depth, even after a parent is purged.
    lineage = models.CharField(max_length=600, blank=True, default="")
    # What a studio-made file (a plan's assembled video) was made from: every part, beside the one-parent lineage.
    parts = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="used_in")
    # Fields whose values are our uploaded reference images: {"image_urls": [12, 13]}. At submit time the worker
    # sends Kie's copies of them (uploaded then, because Kie deletes uploads after 3 days).
    references = models.JSONField(default=dict, blank=True)
    # What Kie returned on success: [{"url", "kind", "metadata"}], kept so storing never needs another read.
    results = models.JSONField(default=list, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    kie_state = models.CharField(max_length=20, blank=True)
    kie_stage = models.CharField(max_length=40, blank=True)
    kie_task_id = models.CharField(max_length=120, blank=True)
    failure_class = models.CharField(max_length=40, blank=True)
    failure_message = models.TextField(blank=True)
    failure_field = models.CharField(max_length=80, blank=True)

    credits_estimated = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    credits_charged = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    # Scheduling: when this row next needs a worker, and which worker holds it until when.
    next_check_at = models.DateTimeField(null=True, blank=True)
    # Queued but held back (its batch is paused): the dispatcher sends it only once this is cleared. The queue's
    # order is next_check_at (when each queued row became due); moving a row up swaps it with the one above.
    held_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    create_sent_at = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    poll_count = models.PositiveIntegerField(default=0)
    store_attempts = models.PositiveSmallIntegerField(default=0)
    deadline_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    # Trash: deleted rows are hidden and purged, files included, after 30 days.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "request_key"], name="generation_unique_request"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="generation_feed"),
            # The gallery's keyset pages, per filter, stay index-only walks at 100k rows.
            models.Index(fields=["workspace", "output", "-created_at", "-id"], name="generation_by_output"),
            models.Index(fields=["workspace", "model_key", "-created_at", "-id"], name="generation_by_model"),
            models.Index(fields=["workspace", "status", "-created_at", "-id"], name="generation_by_status"),
            models.Index(fields=["workspace", "created_by", "-created_at", "-id"], name="generation_by_member"),
            models.Index(fields=["workspace", "deleted_at"], name="generation_trash"),
            models.Index(fields=["next_check_at"], name="generation_due"),
            models.Index(fields=["kie_task_id"], name="generation_task"),
            # "Everything derived from X" is a prefix search on lineage: a LIKE 'prefix%' on PostgreSQL (the
            # pattern opclass makes it an index range whatever the collation), a range on SQLite (bytewise).
            models.Index(fields=["lineage"], opclasses=["varchar_pattern_ops"], name="generation_lineage"),
            models.Index(
                fields=["workspace", "-created_at", "-id"],
                condition=models.Q(lineage=""),
                name="generation_originals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_key} #{self.pk} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING

    @property
    def usage_source(self) -> str:
        """Its key in the usage ledger: its hold until Kie charges it, then its charge."""
        return f"generation:{self.pk}"

    @property
    def descendant_prefix(self) -> str:
        """The ``lineage`` prefix every generation derived from this one starts with."""
        return f"{self.lineage}{self.pk}/"

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.lineage.split("/") if part.isdigit()]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class GenerationEvent(models.Model):
    """The timeline of a generation's transitions, for the card and for support."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]


def asset_path(instance: Asset, filename: str) -> str:
    return f"ws{instance.workspace_id}/gen{instance.generation_id}/{filename}"


class Asset(models.Model):
    """A file of a generation, copied into our storage (Kie deletes its copy within 14 days)."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        FILE = "file", "File"  # e.g. a MIDI file: downloaded, not played

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="assets")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="assets")
    index = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to=asset_path, max_length=300)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    thumbnail = models.FileField(upload_to=asset_path, max_length=300, blank=True)
    source_url = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Our copy uploaded to Kie for a follow-up that takes the file (Kie keeps uploads 3 days; reused meanwhile).
    kie_url = models.TextField(blank=True)
    kie_uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["generation", "index"]
        constraints = [models.UniqueConstraint(fields=["generation", "index"], name="asset_unique_index")]

    def __str__(self) -> str:
        return f"{self.kind} {self.index} of generation {self.generation_id}"

    @property
    def display_label(self) -> str:
        """What a reference copied from this result is called: its title, else the start of its prompt."""
        title = str((self.metadata or {}).get("title") or "")
        if title:
            return title[:120]
        prompt = self.generation.prompt_text if self.generation_id else ""
        return (prompt[:57] + "…" if len(prompt) > 60 else prompt) if prompt else ""


class CallbackReceipt(models.Model):
    """Kie called back for this task. Kept because a callback can arrive before the worker that sent the create
    has recorded the task id; the submit then finds the receipt and reads the status at once."""

    task_id = models.CharField(max_length=120, primary_key=True)
    received_at = models.DateTimeField(default=timezone.now)
    # A Veo 4K answer (its only delivery) that came before its job recorded the task; the submit applies it.
    result = models.JSONField(null=True, blank=True)


class SunoPersona(models.Model):
    """A voice and style Kie saved from one of the workspace's Suno tracks (``generate-persona``). New songs reuse
    it by Kie's ``persona_id`` (Suno V5 and V5.5 take one); Kie makes one persona per track."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="suno_personas")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    persona_id = models.CharField(max_length=120)
    name = models.CharField(max_length=80)
    description = models.TextField()
    # The track it was made from (kept when that file is deleted: the persona lives on at Kie).
    source_asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="personas")
    audio_id = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "persona_id"], name="persona_unique_id"),
            models.UniqueConstraint(fields=["workspace", "audio_id"], name="persona_one_per_track"),
        ]

    def __str__(self) -> str:
        return self.name
