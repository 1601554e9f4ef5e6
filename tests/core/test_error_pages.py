from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from kiestudio import urls as project_urls


def explode(request):
    raise RuntimeError("secret detail: KIE key sk-should-not-leak")


urlpatterns = [*project_urls.urlpatterns, path("explode/", explode)]
handler403 = project_urls.handler403
handler404 = project_urls.handler404


@pytest.mark.django_db
def test_unknown_url_gets_styled_404(client, alice):
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We couldn't find that page" in html
    assert 'href="/static/css/app.css"' in html
    assert 'lang="en"' in html


@pytest.mark.django_db
def test_server_error_gets_styled_500_that_leaks_nothing(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/explode/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "sk-should-not-leak" not in html
    assert "RuntimeError" not in html and "Traceback" not in html


@pytest.mark.django_db
def test_a_stale_form_gets_a_friendly_page_and_changes_nothing(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/settings/workspace/name/", {"name": "Hijacked"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "That form had expired" in html and "Nothing was changed" in html
    assert "Hijacked" not in str(alice.memberships.get().workspace.name)
