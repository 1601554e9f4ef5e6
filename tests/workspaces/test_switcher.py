from __future__ import annotations

import pytest

from kiestudio.accounts.models import User
from kiestudio.workspaces.models import Membership, Role, Workspace
from kiestudio.workspaces.services import workspace_create

pytestmark = pytest.mark.django_db


def test_header_lists_my_workspaces_and_switching_changes_current(client, alice):
    team = workspace_create(name="Night Shift Films", owner=alice)
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "Night Shift Films" in html and "alice&#x27;s studio" in html
    response = client.post("/workspaces/switch/", {"workspace": team.pk, "next": "/team/"})
    assert response.status_code == 302 and response["Location"] == "/team/"
    assert "<h1>Team</h1>" in client.get("/team/").content.decode()
    assert client.session["workspace_id"] == team.pk
    page = client.get("/").content.decode()
    assert "<h1>Night Shift Films</h1>" in page


def test_switching_to_a_workspace_you_are_not_in_is_404(client, alice, charlie):
    charlies = Workspace.objects.get(memberships__user=charlie)
    client.force_login(alice)
    assert client.post("/workspaces/switch/", {"workspace": charlies.pk}).status_code == 404
    for malformed in ("nope", "²", "١٢", str(2**70), "-1"):  # not an id at all: a 400, never a 500
        assert client.post("/workspaces/switch/", {"workspace": malformed}).status_code == 400
    assert client.session["workspace_id"] != charlies.pk


def test_switch_ignores_offsite_next(client, alice):
    client.force_login(alice)
    workspace = Workspace.objects.get(memberships__user=alice)
    response = client.post("/workspaces/switch/", {"workspace": workspace.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_switch_requires_post(client, alice):
    client.force_login(alice)
    assert client.get("/workspaces/switch/").status_code == 405


def test_removed_member_falls_back_to_own_workspace(client, alice, charlie):
    team = workspace_create(name="Shared", owner=alice)
    membership = Membership.objects.create(workspace=team, user=charlie, role=Role.MEMBER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    membership.delete()
    html = client.get("/").content.decode()
    assert "charlie&#x27;s studio" in html
    assert client.session["workspace_id"] != team.pk


def test_user_without_workspace_gets_a_personal_one(client):
    user = User.objects.create_user(email="bare@example.com", password="x" * 12)
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert Membership.objects.get(user=user).role == Role.OWNER


def test_team_page_lists_members(client, alice, charlie):
    team = workspace_create(name="Crew", owner=alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    client.force_login(alice)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    html = client.get("/team/").content.decode()
    assert "charlie@example.com" in html and "Viewer" in html and "2 members" in html


def test_pages_require_sign_in(client):
    for url in ["/", "/team/", "/settings/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
