"""The one way views reach workspace-owned rows: scoped to the current workspace, else 404.

Views never call ``Model.objects.get(pk=...)`` with an id from the URL. They call ``get_for_workspace`` (or a
resource helper built on it), so an object that belongs to another workspace is indistinguishable from one
that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views.decorators.http import require_POST

from kiestudio.workspaces.models import Membership, Role, Workspace

M = TypeVar("M", bound=Model)


def current_workspace(request: HttpRequest) -> Workspace:
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        raise Http404("No workspace")
    return workspace


def current_membership(request: HttpRequest) -> Membership:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise Http404("No workspace")
    return membership


def scoped[M: Model](request: HttpRequest, model_or_queryset: type[M] | QuerySet[M]) -> QuerySet[M]:
    """The rows of the current workspace only."""
    queryset = (
        model_or_queryset if isinstance(model_or_queryset, QuerySet) else model_or_queryset._default_manager.all()
    )
    return queryset.filter(workspace=current_workspace(request))


def get_for_workspace[M: Model](request: HttpRequest, model_or_queryset: type[M] | QuerySet[M], **lookup: object) -> M:
    """Fetch one row of the current workspace, or raise 404 (also for malformed ids)."""
    try:
        return scoped(request, model_or_queryset).get(**lookup)
    except (ObjectDoesNotExist, MultipleObjectsReturned, ValidationError, ValueError, TypeError) as exc:
        raise Http404("Not found") from exc


def require_role[R: HttpResponseBase](minimum: str | Role) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Allow the view only to members of the current workspace with at least ``minimum`` role (else 403)."""

    def decorator(view: Callable[..., R]) -> Callable[..., R]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> R:
            if not current_membership(request).has_role(minimum):
                raise PermissionDenied(
                    f"This needs the {Role(minimum).label.lower()} role or higher in this workspace."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def admin_change[R: HttpResponseBase](view: Callable[..., R]) -> Callable[..., R]:
    """A change only an admin or owner may make: POST only, signed in, and at least admin here."""
    return require_POST(login_required(require_role(Role.ADMIN)(view)))
