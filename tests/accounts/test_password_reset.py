"""Password reset answers the same for a known and an unknown address (sign-up may still say an email is taken)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def _page(response) -> str:
    """The page without what differs on every request (CSRF tokens, CSP nonces)."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html)


def _reset(email: str) -> tuple:
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": email})
    followed = client.get(response["Location"]) if response.status_code == 302 else response
    return response, followed


def test_known_and_unknown_addresses_get_the_same_answer(alice, mailoutbox):
    known, known_page = _reset("alice@example.com")
    unknown, unknown_page = _reset("nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert known_page.status_code == unknown_page.status_code == 200
    assert _page(known_page) == _page(unknown_page)
    html = _page(unknown_page)
    assert "not assigned to any user account" not in html
    # Only the owner of the address learns which it was: a reset link, or a note that it has no account.
    assert [m.to for m in mailoutbox] == [["alice@example.com"], ["nobody@example.com"]]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body
    assert "/accounts/password/reset/key/" not in mailoutbox[1].body


def test_a_malformed_address_is_still_a_form_error():
    response, _ = _reset("not-an-email")
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
