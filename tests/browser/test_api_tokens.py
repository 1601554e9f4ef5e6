from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from kiestudio.api.models import ApiToken


@pytest.mark.django_db(transaction=True)
def test_an_admin_makes_a_token_sees_it_once_uses_it_and_revokes_it(
    signed_in_page: Page, asgi_live_server: str, tmp_path
):
    page, server = signed_in_page, asgi_live_server
    page.goto(f"{server}/settings/")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("Build server")
    page.get_by_label("Generate").check()
    page.get_by_label("Monthly cap in credits").fill("100")
    page.get_by_label("Expires").select_option(label="In 90 days")
    page.get_by_role("button", name="Make token").click()

    expect(page.get_by_role("heading", name="Your new token “Build server”")).to_be_visible()
    raw = page.get_by_role("textbox", name="New API token").input_value()
    token = ApiToken.objects.get()
    assert raw.startswith(f"ks_{token.prefix}_") and token.scopes == ["read", "generate"]
    row = page.locator(f"#token-{token.pk}")
    expect(row).to_contain_text("Build server")
    expect(row).to_contain_text("0 of 100 cr")
    page.screenshot(path=str(tmp_path / "api-tokens-new.png"), full_page=True)

    # Shown once: a reload no longer has it.
    page.reload()
    expect(page.get_by_role("heading", name="Tokens", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="New API token")).to_have_count(0)
    assert raw not in page.content()

    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=f"{server}/api/v1", headers=headers, timeout=20) as api:
        models = api.get("/models")
        assert models.status_code == 200
        assert any(model["key"] == "google/nano-banana" for model in models.json()["models"])

        page.reload()
        expect(row).not_to_contain_text("Never")  # last used: just now
        row.get_by_role("button", name="Revoke Build server").click()
        expect(page.get_by_text("Token “Build server” revoked")).to_be_visible()
        expect(row).to_contain_text("Revoked")

        refused = api.get("/models")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.json()["error"]["code"] == "invalid_token"
