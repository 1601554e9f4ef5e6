from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from kiestudio.core.http import HtmxHttpRequest


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
