from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from kiestudio.studio.models import Generation
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import Membership, Role
from tests.conftest import PASSWORD
from tests.studio.helpers import create, drain, workspace_of

NEW_PASSWORD = "a-long-and-lovely-passphrase"


def invite_link(page: Page, server: str, role: str) -> str:
    page.goto(f"{server}/team/")
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_role("heading", name="Invitation link")).to_be_visible()
    link = page.get_by_role("textbox", name="Invitation link").input_value()
    assert link.startswith(f"{server}/invite/")
    return link


def sign_in(page: Page, server: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def generate(page: Page, server: str, prompt: str) -> None:
    page.goto(f"{server}/generate/?model=google/nano-banana")
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Generate").click()


@pytest.mark.django_db(transaction=True)
def test_a_team_shares_a_gallery_roles_hold_and_a_cap_refuses(
    signed_in_page: Page, browser: Browser, asgi_live_server: str, kie_sim, studio_worker, make_user, alice, tmp_path
):
    server, owner = asgi_live_server, signed_in_page
    workspace = workspace_of(alice)
    create(alice, prompt="Alice's lighthouse at dusk")
    drain()

    # The owner makes a link for a member; someone new signs up through it and joins.
    link = invite_link(owner, server, "Member")
    owner.screenshot(path=str(tmp_path / "team-link.png"))
    bob_context = browser.new_context(viewport={"width": 1280, "height": 900})
    bob = bob_context.new_page()
    bob.goto(link)
    expect(bob.get_by_role("heading", name=f"Join {workspace.name}")).to_be_visible()
    bob.get_by_role("link", name="Create an account").click()
    bob.get_by_label("Email").fill("bob@example.com")
    bob.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    bob.get_by_label("Password (again)").fill(NEW_PASSWORD)
    bob.get_by_role("button", name="Sign Up").click()
    expect(bob).to_have_url(link)  # back to the invitation once signed up
    bob.get_by_role("button", name=f"Join {workspace.name}").click()
    expect(bob.locator(".toast")).to_contain_text(f"Welcome to {workspace.name}")
    assert Membership.objects.get(user__email="bob@example.com", workspace=workspace).role == Role.MEMBER

    # Bob sees the team's gallery, and generates on the team's key.
    bob.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    expect(bob.get_by_role("link", name=re.compile("Alice's lighthouse"))).to_be_visible()
    generate(bob, server, "Bob's paper boat")
    card = bob.locator(".gen-card").first
    expect(card).to_contain_text("Bob's paper boat")
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=20_000)
    bob_generation = Generation.objects.get(prompt__text="Bob's paper boat")
    assert bob_generation.workspace == workspace and bob_generation.created_by.email == "bob@example.com"
    owner.goto(f"{server}/gallery/")
    expect(owner.get_by_role("link", name=re.compile("Bob's paper boat"))).to_be_visible()

    # A viewer, invited the same way (already has an account, signs in), can browse but not generate.
    make_user("vic@example.com")
    viewer_link = invite_link(owner, server, "Viewer")
    vic = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    vic.goto(viewer_link)
    vic.get_by_role("link", name="Sign in").click()
    vic.get_by_label("Email").fill("vic@example.com")
    vic.get_by_label("Password").fill(PASSWORD)
    vic.get_by_role("button", name="Sign In").click()
    vic.get_by_role("button", name=f"Join {workspace.name}").click()
    vic.goto(f"{server}/generate/")
    expect(vic.get_by_text("You're a viewer here")).to_be_visible()
    expect(vic.get_by_role("button", name="Generate")).to_be_disabled()
    vic.goto(f"{server}/gallery/")
    expect(vic.locator(".gallery-tile")).to_have_count(2)
    vic.screenshot(path=str(tmp_path / "viewer-gallery.png"))

    # An admin sets Bob's monthly cap at what he has spent plus one credit; his next image (4) is refused.
    ada = make_user("ada@example.com", personal=False)
    Membership.objects.create(workspace=workspace, user=ada, role=Role.ADMIN)
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, server, "ada@example.com")
    admin.goto(f"{server}/team/")
    spent = UsageEntry.objects.get(source=f"generation:{bob_generation.pk}").credits
    admin.get_by_label("Monthly credit cap for bob").fill(str(spent + 1))
    admin.get_by_label("Monthly credit cap for bob").locator("xpath=..").get_by_role("button", name="Set cap").click()
    expect(admin.locator(".toast")).to_contain_text("bob now has")
    admin.screenshot(path=str(tmp_path / "team-cap.png"))

    generate(bob, server, "Bob's second boat")
    error = bob.locator("#model-form .form-error, #model-form .alert").first
    expect(error).to_contain_text("over your monthly cap")
    expect(error).to_contain_text("1 of your")
    bob.screenshot(path=str(tmp_path / "cap-refused.png"))
    assert not Generation.objects.filter(prompt__text="Bob's second boat").exists()
    assert len(kie_sim.log.of_kind("create")) == 2  # Alice's and Bob's first: the refused one cost nothing
    expect(bob.get_by_label("Prompt")).to_have_value(re.compile("Bob's second boat"))  # nothing typed is lost
    bob_context.close()

    # On a phone the team, usage and audit pages fit the screen (wide tables and the chart scroll inside).
    owner.set_viewport_size({"width": 390, "height": 844})
    for path in ("/team/", "/usage/", "/audit/", "/settings/"):
        owner.goto(f"{server}{path}")
        assert owner.evaluate("document.documentElement.scrollWidth") <= 390, path
    owner.goto(f"{server}/team/")
    owner.screenshot(path=str(tmp_path / "team-phone.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_a_link_for_several_people_is_used_by_two_and_copied_again_from_the_list(
    page: Page, browser: Browser, asgi_live_server: str, alice, make_user
):
    server = asgi_live_server
    sign_in(page, server, alice.email)
    page.goto(f"{server}/team/")
    page.get_by_label("People who can use a link").select_option(label="5 people")
    page.get_by_label("Expires after").select_option(label="30 days")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_role("heading", name="Invitation link")).to_be_visible()
    link = page.get_by_role("textbox", name="Invitation link").input_value()

    for email in ("kai@example.com", "lou@example.com"):
        make_user(email, personal=False)
        context = browser.new_context()
        other = context.new_page()
        sign_in(other, server, email)
        other.goto(link)
        other.get_by_role("button", name=re.compile("^Join")).click()
        expect(other.get_by_text(f"Welcome to {workspace_of(alice).name}!")).to_be_visible()
        context.close()

    team = workspace_of(alice)
    joined = Membership.objects.filter(workspace=team, user__email__in=["kai@example.com", "lou@example.com"])
    assert joined.count() == 2 and {m.role for m in joined} == {Role.MEMBER}
    # Back on the team page: the link is still open, counted, and can be copied again.
    page.goto(f"{server}/team/")
    row = page.locator(".invitation-list li", has_text="Link")
    expect(row).to_contain_text("2 of 5 used")
    expect(row.get_by_role("textbox", name="Link for this invitation")).to_have_value(link)
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".invitation-list li", has_text="Link")).to_have_count(0)
