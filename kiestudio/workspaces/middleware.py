from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kiestudio.core.http import AuthedHttpRequest
from kiestudio.workspaces.models import Membership, Workspace
from kiestudio.workspaces.services import workspace_ensure_for_user

SESSION_KEY = "workspace_id"


class WorkspaceHttpRequest(AuthedHttpRequest):
    """A request as ``CurrentWorkspaceMiddleware`` leaves it (for the type checker)."""

    workspace: Workspace | None
    membership: Membership | None


class CurrentWorkspaceMiddleware:
    """Sets ``request.workspace`` and ``request.membership`` for signed-in users.

    The workspace chosen in the switcher is kept in the session; a new session (signing in again) opens the one
    switched to last; if it is gone (deleted, or the user was removed), the user falls back to their first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: WorkspaceHttpRequest) -> HttpResponse:
        request.workspace = None
        request.membership = None
        if request.user.is_authenticated:
            membership = None
            workspace_id = request.session.get(SESSION_KEY)
            if workspace_id is not None:
                membership = (
                    Membership.objects.select_related("workspace")
                    .filter(user=request.user, workspace_id=workspace_id)
                    .first()
                )
            if membership is None:  # a new session: the workspace used last, else the first
                membership = (
                    Membership.objects.select_related("workspace")
                    .filter(user=request.user, last_used_at__isnull=False)
                    .order_by("-last_used_at")
                    .first()
                ) or workspace_ensure_for_user(user=request.user)
                request.session[SESSION_KEY] = membership.workspace_id
            request.membership = membership
            request.workspace = membership.workspace
        return self.get_response(request)
