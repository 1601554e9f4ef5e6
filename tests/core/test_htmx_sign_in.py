"""An htmx request without a session is sent to the sign-in page as a whole page (HX-Redirect), coming back to the
page it was made from; the sign-in page is never handed to htmx to swap into a fragment's target."""

from __future__ import annotations

import pytest
from django_htmx.http import HttpResponseClientRedirect

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/generate/?model=nano-banana"}


@pytest.mark.django_db
def test_a_fragment_without_a_session_sends_the_page_to_sign_in(client):
    response = client.get("/workspaces/balance/", headers=HTMX)
    assert isinstance(response, HttpResponseClientRedirect)
    assert response["HX-Redirect"] == "/accounts/login/?next=/generate/%3Fmodel%3Dnano-banana"
    assert response.content == b""


@pytest.mark.django_db
def test_a_post_without_a_session_too(client):
    response = client.post("/gallery/bulk/trash/", {"ids": "1"}, headers=HTMX)
    assert response["HX-Redirect"].startswith("/accounts/login/?next=/generate/")


@pytest.mark.django_db
def test_without_the_current_page_it_comes_back_home(client):
    response = client.get("/workspaces/balance/", headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == "/accounts/login/?next=/"


@pytest.mark.django_db
def test_another_site_is_not_a_page_to_come_back_to(client):
    response = client.get(
        "/workspaces/balance/", headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/"}
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=/"


@pytest.mark.django_db
def test_a_page_still_redirects(client):
    response = client.get("/generate/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/generate/"


def test_a_signed_in_fragment_is_untouched(client, alice):
    client.force_login(alice)
    response = client.get("/workspaces/balance/", headers=HTMX)
    assert response.status_code == 200 and "HX-Redirect" not in response
