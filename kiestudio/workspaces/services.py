from __future__ import annotations

from django.db import transaction

from kiestudio.workspaces.models import Membership, Role, Workspace


@transaction.atomic
def workspace_create(*, name: str, owner, is_personal: bool = False) -> Workspace:
    workspace = Workspace(name=name.strip(), is_personal=is_personal, created_by=owner)
    workspace.full_clean()
    workspace.save()
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace


def workspace_create_personal(*, user) -> Workspace:
    return workspace_create(name=f"{user.display_name}'s studio"[:80], owner=user, is_personal=True)


def workspace_ensure_for_user(*, user) -> Membership:
    """The user's first membership, creating a personal workspace for a user who has none."""
    membership = Membership.objects.filter(user=user).select_related("workspace").order_by("created_at", "pk").first()
    if membership is None:
        workspace = workspace_create_personal(user=user)
        membership = Membership.objects.select_related("workspace").get(workspace=workspace, user=user)
    return membership
