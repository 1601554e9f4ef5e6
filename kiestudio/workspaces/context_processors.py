from __future__ import annotations

from django.http import HttpRequest

from kiestudio.workspaces.models import Membership


def workspace(request: HttpRequest) -> dict[str, object]:
    current = getattr(request, "workspace", None)
    if current is None:
        return {"current_workspace": None, "current_membership": None, "my_memberships": [], "can_admin": False}
    return {
        "current_workspace": current,
        "current_membership": request.membership,
        "can_admin": request.membership.has_role("admin"),
        "my_memberships": lambda: list(
            Membership.objects.filter(user=request.user).select_related("workspace").order_by("workspace__name")
        ),
    }
