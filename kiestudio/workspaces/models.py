from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.core.crypto import decrypt


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# Higher ranks can do everything lower ranks can.
ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Workspace(models.Model):
    """A team: one Kie key, one gallery and one budget. Every other row in the studio belongs to one."""

    name = models.CharField(max_length=80)
    is_personal = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    # The team's Kie key and webhook key, encrypted at rest (kiestudio.core.crypto); only the key's last four
    # characters are ever shown again. Empty: the studio's own KIE_API_KEY (or the simulator).
    kie_key_encrypted = models.TextField(blank=True)
    kie_key_last4 = models.CharField(max_length=4, blank=True)
    kie_key_changed_at = models.DateTimeField(null=True, blank=True)
    webhook_key_encrypted = models.TextField(blank=True)
    default_generate_model = models.CharField(max_length=120, blank=True)
    default_chat_model = models.CharField(max_length=60, blank=True)
    # Credits a calendar month may spend, generations and chat together; empty means no limit.
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # After a conversation's first reply, the cheapest chat model names it (charged like a reply).
    chat_ai_titles = models.BooleanField(default=True)
    # The queue is paused: nothing queued is sent to Kie until an admin or member resumes it (running jobs go on).
    queue_paused_at = models.DateTimeField(null=True, blank=True)

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces")

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_own_key(self) -> bool:
        return bool(self.kie_key_encrypted)


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    # Credits this member may spend in a calendar month; empty means no cap of their own.
    monthly_cap = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # When the member last switched to this workspace: a new sign-in opens the one they used last.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]


INVITATION_DAYS = 7


def invitation_expiry():
    return timezone.now() + timedelta(days=INVITATION_DAYS)


class Invitation(models.Model):
    """An invitation to join a workspace with a role: sent by email (works once), or a link to share with a team
    channel, used by up to ``max_uses`` people (None: any number) until it expires or an admin revokes it.

    A hash of the token finds it; a link's token is also kept encrypted, so admins can copy the link again."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)  # empty: a link invitation, for whoever opens it first
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True, default=1)  # None: no limit (a link only)
    uses = models.PositiveIntegerField(default=0)
    token_encrypted = models.TextField(blank=True)  # a link's token, to copy it again; never an email's

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="invitation_recent")]

    def __str__(self) -> str:
        return f"Invitation to {self.workspace} as {self.role}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def link_token(self) -> str:
        """A link invitation's token, for its Copy button ("" for an email invitation or one made before links
        were kept)."""
        return decrypt(self.token_encrypted) if self.token_encrypted else ""

    @property
    def state(self) -> str:
        if self.accepted_at:  # used (by its one person, or by as many as it allows)
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class AuditEvent(models.Model):
    """Who did what to the team: members, roles, keys, budgets and deletions. Admins read it."""

    class Action(models.TextChoices):
        WORKSPACE_CREATED = "workspace.created", "Created the workspace"
        WORKSPACE_RENAMED = "workspace.renamed", "Renamed the workspace"
        WORKSPACE_DELETED = "workspace.deleted", "Deleted the workspace"
        OWNERSHIP_TRANSFERRED = "workspace.transferred", "Transferred ownership"
        MEMBER_INVITED = "member.invited", "Invited someone"
        INVITATION_REVOKED = "member.invitation_revoked", "Revoked an invitation"
        MEMBER_JOINED = "member.joined", "Joined"
        MEMBER_LEFT = "member.left", "Left"
        MEMBER_REMOVED = "member.removed", "Removed a member"
        ROLE_CHANGED = "member.role_changed", "Changed a role"
        CAP_CHANGED = "member.cap_changed", "Changed a member's monthly cap"
        KEY_CHANGED = "settings.key_changed", "Changed the Kie API key"
        WEBHOOK_KEY_CHANGED = "settings.webhook_key_changed", "Changed the webhook key"
        DEFAULTS_CHANGED = "settings.defaults_changed", "Changed the default models"
        CHAT_TITLES_CHANGED = "settings.chat_titles_changed", "Changed naming chats with AI"
        BUDGET_CHANGED = "settings.budget_changed", "Changed the monthly budget"
        GENERATION_DELETED = "content.generation_deleted", "Moved to the trash"
        GENERATION_RESTORED = "content.generation_restored", "Restored from the trash"
        GENERATION_PURGED = "content.generation_purged", "Emptied from the trash"
        CONVERSATION_DELETED = "content.conversation_deleted", "Deleted a conversation"
        COLLECTION_DELETED = "content.collection_deleted", "Deleted a collection"
        QUEUE_PAUSED = "queue.paused", "Paused the queue"
        QUEUE_RESUMED = "queue.resumed", "Resumed the queue"
        BATCH_STARTED = "batch.started", "Started a batch"
        BATCH_PAUSED = "batch.paused", "Paused a batch"
        BATCH_RESUMED = "batch.resumed", "Resumed a batch"
        SHARE_CREATED = "share.created", "Shared a link"
        SHARE_REVOKED = "share.revoked", "Revoked a share link"
        SHARE_VIEWED = "share.viewed", "Opened a share link"
        WEBHOOK_ADDED = "webhook.added", "Added a webhook"
        WEBHOOK_SECRET_ROLLED = "webhook.secret_rolled", "Made a new secret for a webhook"
        WEBHOOK_PAUSED = "webhook.paused", "Paused a webhook"
        WEBHOOK_RESUMED = "webhook.resumed", "Resumed a webhook"
        WEBHOOK_DELETED = "webhook.deleted", "Deleted a webhook"
        API_TOKEN_CREATED = "api.token_created", "Made an API token"
        API_TOKEN_REVOKED = "api.token_revoked", "Revoked an API token"
        API_GENERATION_CREATED = "api.generation_created", "Started a generation through the API"
        API_MESSAGE_SENT = "api.message_sent", "Sent a chat message through the API"
        MCP_TOOL_CALLED = "mcp.tool_called", "Called an MCP tool"

    # Kept (with the name) when the workspace itself is deleted.
    workspace = models.ForeignKey(Workspace, null=True, on_delete=models.SET_NULL, related_name="audit_events")
    workspace_name = models.CharField(max_length=80)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.EmailField(blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)  # whom or what it was done to, in words
    details = models.JSONField(default=dict, blank=True)  # e.g. {"from": "member", "to": "admin"}; never secrets
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_recent")]

    def __str__(self) -> str:
        return f"{self.actor_email or 'someone'}: {self.get_action_display()} {self.target}".strip()
