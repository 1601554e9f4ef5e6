"""Request types for the type checker: Django's ``HttpRequest`` as the middleware leaves it.

Nothing here exists at run time beyond two empty subclasses; views annotate ``request`` with them so that
``request.htmx`` (django-htmx's ``HtmxMiddleware``) type-checks, as django-htmx and django-stubs document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that passed ``HtmxMiddleware``."""

    htmx: HtmxDetails


class AuthedHttpRequest(HtmxHttpRequest):
    """A request behind ``login_required``: ``user`` is the signed-in user.

    Typed loosely, like every service's ``user`` parameter, so that the layers below accounts need not import
    the user model (accounts sits above workspaces: it makes a personal workspace at sign-up).
    """

    user: Any
