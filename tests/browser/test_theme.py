"""The theme switch in real Chromium: an account set to dark is dark on a light system, and light on a dark one;
"the system's" follows the system."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_team import sign_in

DARK_BG, LIGHT_BG = "rgb(15, 14, 21)", "rgb(246, 246, 251)"


def background(page) -> str:
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


@pytest.mark.django_db(transaction=True)
def test_the_accounts_theme_wins_over_the_system_and_system_follows_it(
    browser: Browser, asgi_live_server: str, alice, tmp_path
):
    server = asgi_live_server
    light_system = browser.new_context(color_scheme="light").new_page()
    sign_in(light_system, server, alice.email)
    light_system.goto(f"{server}/settings/")
    assert background(light_system) == LIGHT_BG
    light_system.get_by_label("Theme").select_option(label="Dark")
    light_system.get_by_role("button", name="Save theme").click()
    expect(light_system.get_by_text("The studio now follows dark.")).to_be_visible()
    assert background(light_system) == DARK_BG
    light_system.goto(f"{server}/gallery/")
    assert background(light_system) == DARK_BG
    light_system.screenshot(path=str(tmp_path / "dark-on-light-system.png"))

    dark_system = browser.new_context(color_scheme="dark").new_page()
    sign_in(dark_system, server, alice.email)
    dark_system.goto(f"{server}/settings/")
    dark_system.get_by_label("Theme").select_option(label="Light")
    dark_system.get_by_role("button", name="Save theme").click()
    expect(dark_system.get_by_text("The studio now follows light.")).to_be_visible()
    assert background(dark_system) == LIGHT_BG
    dark_system.get_by_label("Theme").select_option(label="Same as the system")
    dark_system.get_by_role("button", name="Save theme").click()
    expect(dark_system.get_by_text("the system's setting")).to_be_visible()
    assert background(dark_system) == DARK_BG
