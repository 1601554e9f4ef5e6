from __future__ import annotations

from typing import TYPE_CHECKING

from kiestudio.workspaces.models import Membership

if TYPE_CHECKING:
    from kiestudio.workspaces.middleware import WorkspaceHttpRequest


def workspace(request: WorkspaceHttpRequest) -> dict[str, object]:
    current = getattr(request, "workspace", None)
    if current is None or request.membership is None:
        return {"current_workspace": None, "current_membership": None, "my_memberships": [], "can_admin": False}
    return {
        "current_workspace": current,
        "current_membership": request.membership,
        "can_admin": request.membership.has_role("admin"),
        "my_memberships": lambda: list(
            Membership.objects.filter(user=request.user).select_related("workspace").order_by("workspace__name")
        ),
    }
