from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kiestudio.workspaces.models import Membership


@pytest.mark.django_db(transaction=True)
def test_sign_up_land_in_personal_workspace_sign_out_and_in(page: Page, asgi_live_server: str, tmp_path):
    page.goto(f"{asgi_live_server}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("link", name="sign up").click()

    page.get_by_label("Email").fill("maya@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password (again)").fill("short")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.locator("#id_password1_error")).to_contain_text("too short")
    expect(page.get_by_label("Email")).to_have_value("maya@example.com")

    page.get_by_label("Password", exact=True).fill("a-long-and-lovely-passphrase")
    page.get_by_label("Password (again)").fill("a-long-and-lovely-passphrase")
    page.get_by_role("button", name="Sign Up").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("maya's studio")
    membership = Membership.objects.get(user__email="maya@example.com")
    assert membership.workspace.is_personal and membership.role == "owner"
    page.screenshot(path=str(tmp_path / "home.png"))

    page.get_by_label(re.compile("Account menu")).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_label("Email").fill("maya@example.com")
    page.get_by_label("Password").fill("a-long-and-lovely-passphrase")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("maya's studio")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Team")).to_be_visible()
