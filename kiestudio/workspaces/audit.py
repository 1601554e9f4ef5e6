"""The audit log: who changed what in a workspace, in words. Every team change writes one event."""

from __future__ import annotations

from kiestudio.workspaces.models import AuditEvent, Workspace

A = AuditEvent.Action


def audit_record(*, workspace: Workspace, actor, action: str, target: str = "", **details: object) -> AuditEvent:
    return AuditEvent.objects.create(
        workspace=workspace,
        workspace_name=workspace.name,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target=target[:200],
        details=details,
    )


def who(user) -> str:
    """A person as the log names them: their name and email."""
    return f"{user.display_name} <{user.email}>" if user else "someone"
