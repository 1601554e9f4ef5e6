from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.workspaces.models import Workspace


class Conversation(models.Model):
    """A chat thread. Private to its owner unless shared with the workspace (shared ones are read-only to others).

    Messages form a tree: regenerating a reply or editing a question adds a sibling instead of overwriting, and
    ``current_leaf`` marks the branch on screen. The thread is the path from the root to that leaf.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")

    class TitleSource(models.TextChoices):
        AUTO = "auto", "The first message, cut short"
        MODEL = "model", "Written by a model"
        USER = "user", "Set by its owner"

    title = models.CharField(max_length=120, blank=True)
    # Who wrote the title. After the first reply a model may name the conversation (once: ``title_asked_at`` is
    # set before it is asked), only while the title is still the automatic one; a rename is never overwritten.
    title_source = models.CharField(max_length=8, choices=TitleSource.choices, default=TitleSource.AUTO)
    title_asked_at = models.DateTimeField(null=True, blank=True)
    model_key = models.CharField(max_length=60)
    system_prompt = models.TextField(blank=True)
    thinking = models.BooleanField(default=False)
    # The model may call the studio's tools (``toolbox``): generate, search and look at the gallery, propose a plan.
    # Nothing that spends runs without the creator's Run.
    studio_tools = models.BooleanField(default=False)
    is_shared = models.BooleanField(default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    current_leaf = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The composer token of the first message, for a conversation started with one: a resent "new conversation"
    # POST finds this conversation (only its owner's, in this workspace) instead of starting a second one.
    request_key = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "owner", "request_key"], name="conversation_unique_request"),
        ]
        indexes = [
            models.Index(fields=["workspace", "owner", "-updated_at"], name="conversation_mine"),
            models.Index(fields=["workspace", "is_shared", "-updated_at"], name="conversation_shared"),
        ]

    def __str__(self) -> str:
        return self.title or "New conversation"

    @property
    def display_title(self) -> str:
        return self.title or "New conversation"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "You"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming", "Streaming"
        COMPLETE = "complete", "Complete"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="chat_messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # One click, one reply: a resent POST with the same composer token finds the same rows. Unique per
    # conversation only: a token replayed anywhere else is a new request there, never this row.
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)
    role = models.CharField(max_length=10, choices=Role.choices)
    # Content blocks: [{"type": "text", "text": …}, {"type": "image", "reference": 12}, {"type": "thinking", …}];
    # a reply that calls tools adds {"type": "tool_use", "id", "name", "input"}; the message that carries their
    # results back (a user turn the studio writes) holds {"type": "tool_result", "tool_use_id", "content": [text
    # and image blocks as above], "is_error"}.
    content = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    model_key = models.CharField(max_length=60, blank=True)
    thinking_requested = models.BooleanField(default=False)
    stop_reason = models.CharField(max_length=30, blank=True)
    error_class = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    credits = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # True when Kie's answer carried no credits_consumed and the figure comes from the model's token price.
    credits_estimated = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    # The live reply: which process runs it, when it last showed signs of life, and the stream position of the
    # saved text (so a page rendered from the database can join the live stream exactly where it left off).
    runner = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stream_seq = models.PositiveIntegerField(default=0)
    stop_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "conversation", "request_key"], name="message_unique_request"),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_thread"),
            models.Index(fields=["status", "heartbeat_at"], name="message_live"),
        ]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk} ({self.status})"

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    @property
    def thinking_text(self) -> str:
        return "".join(b.get("thinking", "") for b in self.content if b.get("type") == "thinking")

    @property
    def image_ids(self) -> list[int]:
        """The attached images: the message's own, and those inside its tool results."""
        ids = []
        for block in self.content:
            inner = block.get("content") if block.get("type") == "tool_result" else [block]
            for part in inner if isinstance(inner, list) else ():
                if isinstance(part, dict) and part.get("type") == "image" and part.get("reference"):
                    ids.append(int(part["reference"]))
        return ids

    @property
    def tool_uses(self) -> list[dict]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    @property
    def is_tool_results(self) -> bool:
        """A turn the studio wrote to carry tool results back to the model (not something a person typed)."""
        return bool(self.content) and all(b.get("type") == "tool_result" for b in self.content)

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds()
        return None

    @property
    def ttft_seconds(self) -> float | None:
        if self.started_at and self.first_token_at:
            return (self.first_token_at - self.started_at).total_seconds()
        return None
