"""Sharing a collection in Chromium: a one-day link with a password, opened signed out in a fresh browser, a wrong
password refused, then revoked (a 404 within a second), with every step in the audit log."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, expect

from kiestudio.sharing.models import Share
from tests.sharing.helpers import make_collection, make_item


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.django_db(transaction=True)
def test_share_a_collection_with_a_password_then_revoke_it(
    signed_in_page: Page, asgi_live_server: str, browser: Browser, alice
):
    items = [make_item(alice, "A quiet harbour at dawn", colour="navy"), make_item(alice, "Cherries", colour="red")]
    collection = make_collection(alice, items, name="Client picks")
    page = signed_in_page

    # The collection's Share button opens the dialog; a password and one day.
    page.goto(f"{asgi_live_server}/collections/{collection.pk}/")
    page.get_by_role("link", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Share the collection “Client picks”")).to_be_visible()
    expect(dialog.get_by_label("Show the prompt")).not_to_be_checked()
    dialog.get_by_label("Only people who know a password").check()
    dialog.get_by_label("Password", exact=True).fill("tangerine")
    dialog.get_by_label("Link stops working").select_option("1")
    dialog.get_by_role("button", name="Create link").click()
    link_box = dialog.get_by_label("Share link")
    expect(link_box).to_be_visible()
    link = link_box.input_value()
    assert link.startswith(f"{asgi_live_server}/s/")
    share = Share.objects.get()
    assert share.has_password and share.expires_at is not None and not share.show_prompt

    # A visitor with no account, in a browser of their own.
    visitor_context = browser.new_context()
    violations: list[str] = []
    visitor_context.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    visitor = visitor_context.new_page()
    scripts: list[str] = []
    visitor.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    visitor.goto(link)
    expect(visitor.get_by_role("heading", name="Enter the password")).to_be_visible()
    visitor.get_by_label("Password").fill("lemon")
    visitor.get_by_role("button", name="Open").click()
    expect(visitor.get_by_role("alert")).to_have_text("That password isn't right.")
    visitor.get_by_label("Password").fill("tangerine")
    visitor.get_by_role("button", name="Open").click()
    expect(visitor.get_by_role("heading", name="Client picks")).to_be_visible()
    expect(visitor.locator(".share-asset img")).to_have_count(2)
    visitor.wait_for_function(
        "() => [...document.querySelectorAll('.share-asset img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(visitor.get_by_text("A quiet harbour at dawn")).to_have_count(0)  # the prompt stays hidden
    assert not scripts, scripts  # no application JavaScript on the public page

    # Revoke it from the workspace's list of links: the visitor's next load is a 404 at once.
    page.goto(f"{asgi_live_server}/shares/")
    row = page.get_by_role("row", name="Collection “Client picks”")
    expect(row.get_by_role("cell", name="Yes").first).to_be_visible()
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("No links are open.")).to_be_visible()
    revoked_at = time.monotonic()
    response = visitor.goto(link)
    assert response is not None and response.status == 404
    assert time.monotonic() - revoked_at < 1.0
    expect(visitor.get_by_role("heading", name="This link doesn't open anything")).to_be_visible()
    assert not violations, violations
    visitor_context.close()

    # Every step is in the audit log, in words.
    page.goto(f"{asgi_live_server}/audit/")
    log = page.locator("table tbody")
    expect(log.get_by_role("row").filter(has_text="Shared a link: collection “Client picks”")).to_contain_text(
        "access: password"
    )
    expect(log.get_by_role("row").filter(has_text="Opened a share link: collection “Client picks”")).to_contain_text(
        "views: 1"
    )
    expect(log.get_by_role("row").filter(has_text="Revoked a share link: collection “Client picks”")).to_be_visible()
