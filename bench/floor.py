"""The floor for in-process page timings: a minimal signed-in page through the same middleware.

A URL configuration of the studio's own routes plus ``/bench/floor/``: a login-required view that renders the
shared layout (``base.html``: header, navigation, workspace switcher, account menu, toasts) around an empty
``main``. Everything a gallery page costs beyond this is the gallery's own work. The bench points
``ROOT_URLCONF`` here in its own process; nothing in the studio imports it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.http import require_GET

from kiestudio import urls as studio_urls

FLOOR_URL = "/bench/floor/"
_TEMPLATE = engines["django"].from_string(
    '{% extends "base.html" %}{% block title %}Floor{% endblock %}{% block content %}<h1>Floor</h1>{% endblock %}'
)


@require_GET
@login_required
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_TEMPLATE.render({}, request))


urlpatterns = [path(FLOOR_URL.strip("/") + "/", floor, name="bench-floor"), *studio_urls.urlpatterns]
handler400 = studio_urls.handler400
handler403 = studio_urls.handler403
handler404 = studio_urls.handler404
