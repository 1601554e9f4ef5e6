"""How a team page answers a change: a friendly 403 above one's role, else a message and back to the page.

Shared by the pages of tenancy and of the apps above it (usage's budget and cap forms)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from kiestudio.workspaces.services import NotAllowed, WorkspaceError


def change_done(request: HttpRequest, to: str, error: WorkspaceError | None = None, success: str = "") -> HttpResponse:
    if isinstance(error, NotAllowed):
        raise PermissionDenied(str(error))
    if error is not None:
        messages.error(request, str(error))
    elif success:
        messages.success(request, success)
    return redirect(to)
