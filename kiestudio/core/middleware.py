from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseClientRedirect

from kiestudio.core.http import HtmxHttpRequest

log = logging.getLogger("kiestudio.errors")


class HtmxSignInMiddleware:
    """An htmx request that finds no session goes to the sign-in page as a whole page, not into its target.

    ``login_required`` answers it with a redirect, which the browser's XHR follows without telling htmx, so htmx
    swapped the whole sign-in page into the fragment's target: a page whose session ended (signed out in another
    tab, expired) grew a sign-in form in its header, where the balance pill loads, pushing the page ~900 px down.
    Now the browser is sent to the sign-in page, with the page it was on (not the fragment) to come back to.
    """

    def __init__(self, get_response: Callable[[HtmxHttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HtmxHttpRequest) -> HttpResponse:
        response = self.get_response(request)
        location = response.get("Location")
        if request.htmx and location and urlsplit(location).path == resolve_url(settings.LOGIN_URL):
            back_to = request.htmx.current_url_abs_path or resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseClientRedirect(redirect_to_login(back_to)["Location"])
        return response


class ProductErrorPagesMiddleware:
    """With ``DEBUG`` on (``make run``), an unknown address or a failing page still shows the studio's own 404 and
    500 pages, not Django's debug pages listing every route and the settings. ``DEBUG_PAGES=true`` brings Django's
    pages back for a developer; the error is logged with its traceback either way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and not getattr(settings, "DEBUG_PAGES", False)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No view matched (the resolver's 404 never reaches process_exception).
        if self._active() and response.status_code == 404 and getattr(request, "resolver_match", None) is None:
            return render(request, "404.html", status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._active() or isinstance(exception, PermissionDenied | SuspiciousOperation):
            return None  # Django answers these with the product's 403 and 400 pages already
        if isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        log.error("Internal error on %s", request.path, exc_info=exception)
        return HttpResponseServerError(render_to_string("500.html"))
