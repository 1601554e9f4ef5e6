from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.kie.catalog import get_model
from kiestudio.kie.catalog.specs import URL_LIST_TYPES, URL_TYPES
from kiestudio.workspaces.models import Workspace

MEDIA_TYPES = URL_TYPES | URL_LIST_TYPES


class AutoRun(models.Model):
    """A member's standing consent: generate calls priced at most ``limit`` credits run without asking.
    No row (the default) means always ask."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    limit = models.DecimalField(max_digits=12, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="autorun_unique_member")]


AUTORUN_CHOICES = ((None, "Always ask"), (5, "Up to 5 credits"), (20, "Up to 20 credits"), (50, "Up to 50 credits"))


class ToolCall(models.Model):
    """One tool call a chat reply made, and what became of it. Its result goes back to the model."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for you"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        REFUSED = "refused", "Refused"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tool_calls")
    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="tool_calls")
    call_id = models.CharField(max_length=100)  # the model's id for the call (Anthropic's toolu_…)
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=60)
    input = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    # For generate: the catalog model, the validated inputs (references by id), the takes and the quoted price.
    model_key = models.CharField(max_length=60, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    references = models.JSONField(default=dict, blank=True)
    takes = models.PositiveSmallIntegerField(default=1)
    quote = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # For follow_up: the action (upscale, animate, …) and the file it works on.
    action = models.CharField(max_length=40, blank=True)
    source = models.ForeignKey("studio.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    edited = models.BooleanField(default=False)  # the creator changed the settings before Run (the model is told)
    reason = models.TextField(blank=True)  # why it was refused, skipped or failed, as the model and creator read it
    result = models.JSONField(default=list, blank=True)  # the tool_result content: text and image blocks
    generations = models.ManyToManyField("studio.Generation", blank=True, related_name="tool_calls")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    auto = models.BooleanField(default=False)  # run by the member's auto-run limit, not a click
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["message", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["message", "call_id"], name="toolcall_unique_call")]

    def __str__(self) -> str:
        return f"{self.name} call {self.call_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PROPOSED, self.Status.RUNNING)

    @property
    def prompt(self) -> str:
        """The prompt that runs: the validated one (as edited), else what the model wrote."""
        if self.model_key:
            field = get_model(self.model_key).prompt_field
            if field and self.inputs.get(field):
                return str(self.inputs[field])
        return str(self.input.get("prompt") or "")

    def settings_shown(self) -> list[tuple[str, object]]:
        """The validated settings as the card lists them (label, value), the prompt and files left out."""
        if not self.model_key:
            return []
        spec = get_model(self.model_key)
        return [
            (f.label, self.inputs[f.name])
            for f in spec.fields
            if f.name in self.inputs and f.name != spec.prompt_field and f.type not in MEDIA_TYPES
        ]

    def summary(self) -> str:
        """One line for a call that only reads."""
        match self.name:
            case "search_gallery":
                query = str(self.input.get("query") or "").strip()
                return f"Searched the gallery for “{query}”" if query else "Looked through the newest gallery items"
            case "view_item":
                return f"Looked at gallery item {self.input.get('item')}"
            case "describe_model":
                return f"Read the settings of {self.input.get('model')}"
            case "follow_up":
                return f"Follow-up on gallery item {self.input.get('item')}"
            case "propose_plan":
                return f"Proposed a plan: {str(self.input.get('title') or '')[:120]}"
        return f"Called {self.name}"


class Plan(models.Model):
    """A multi-step brief the model proposed (``propose_plan``): steps with their models and prices, approved once.
    Steps run through the job ledger as their inputs become ready; the plan survives the tab and a restart."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for you"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "A step failed"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    call = models.OneToOneField(ToolCall, on_delete=models.CASCADE, related_name="plan")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"plan {self.title!r} ({self.status})"


class PlanStep(models.Model):
    """One step: a generation with one catalog model (its media inputs taken from earlier steps), or the assembly
    that joins earlier clips and a track into one MP4."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        BLOCKED = "blocked", "Blocked"  # a step it needs failed
        SKIPPED = "skipped", "Left out"

    GENERATE, ASSEMBLE = "generate", "assemble"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=40)  # the model's id for the step, which other steps name
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, default=GENERATE)
    model_key = models.CharField(max_length=60, blank=True)
    prompt = models.TextField(blank=True)
    settings = models.JSONField(default=dict, blank=True)  # the model's other inputs, as the model asked
    # generate: {media kind: step key} ("image": "shot1"); assemble: {"clips": [keys], "track": key or None}
    sources = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=dict, blank=True)  # validated (media as stand-ins until launch)
    quote = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    generation = models.ForeignKey(
        "studio.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="plan_steps"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="planstep_unique_key")]

    def __str__(self) -> str:
        return f"step {self.key} of plan {self.plan_id} ({self.status})"

    @property
    def needs(self) -> list[str]:
        """The keys of the steps this one takes its inputs from."""
        if self.kind == self.ASSEMBLE:
            return [*self.sources.get("clips", []), *([self.sources["track"]] if self.sources.get("track") else [])]
        return list(dict.fromkeys(self.sources.values()))

    @property
    def prompt_editable(self) -> bool:
        """A generate step whose model takes a prompt (the plan card offers it for editing before approval)."""
        return self.kind == self.GENERATE and bool(get_model(self.model_key).prompt_field)
