"""An account's theme: light, dark or the system's, on every page it opens."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_theme_is_saved_on_the_account_and_every_page_follows_it(client, alice):
    client.force_login(alice)
    page = client.get("/gallery/").content.decode()
    assert "data-theme" not in page and '<meta name="color-scheme" content="light dark">' in page  # the system's
    response = client.post("/accounts/theme/", {"theme": "dark"}, follow=True)
    assert "The studio now follows dark." in response.content.decode()
    alice.refresh_from_db()
    assert alice.theme == "dark"
    for path in ("/generate/", "/gallery/", "/chat/", "/settings/"):
        html = client.get(path).content.decode()
        assert '<html lang="en" data-theme="dark">' in html and 'content="dark"' in html, path
    assert '<option value="dark" selected>Dark</option>' in client.get("/settings/").content.decode()


def test_a_theme_not_offered_is_refused_and_the_old_one_kept(client, alice):
    client.force_login(alice)
    client.post("/accounts/theme/", {"theme": "light"})
    response = client.post("/accounts/theme/", {"theme": "sepia"}, follow=True)
    assert "Choose light, dark or the system" in response.content.decode()
    alice.refresh_from_db()
    assert alice.theme == "light"


def test_signed_out_pages_follow_the_system(client):
    assert "data-theme" not in client.get("/accounts/login/").content.decode()


def test_a_name_teammates_see_and_initials_from_it(client, alice, make_user):
    assert alice.initials == "A"  # alice@example.com: the address's own part, never the domain
    assert make_user("ada.lovelace@example.com").initials == "AL"
    client.force_login(alice)
    response = client.post("/accounts/name/", {"name": "  Alice   Moreau "}, follow=True)
    assert "Teammates now see you as Alice Moreau." in response.content.decode()
    alice.refresh_from_db()
    assert alice.name == "Alice Moreau" and alice.display_name == "Alice Moreau" and alice.initials == "AM"
    assert ">AM<" in client.get("/gallery/").content.decode()
    response = client.post("/accounts/name/", {"name": "x" * 151}, follow=True)
    assert "under 150 characters" in response.content.decode()
    alice.refresh_from_db()
    assert alice.name == "Alice Moreau"
