from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from kiestudio.workspaces.access import get_for_workspace, require_role, scoped
from kiestudio.workspaces.models import Membership, Role, Workspace
from kiestudio.workspaces.services import workspace_create

pytestmark = pytest.mark.django_db


def request_for(user, workspace):
    request = RequestFactory().get("/")
    request.user = user
    request.workspace = workspace
    request.membership = Membership.objects.get(user=user, workspace=workspace)
    return request


def test_fetch_helper_returns_own_workspace_object(alice):
    workspace = Workspace.objects.get(memberships__user=alice)
    own = Membership.objects.get(user=alice)
    assert get_for_workspace(request_for(alice, workspace), Membership, pk=own.pk) == own


def test_object_of_another_workspace_is_404(alice, charlie):
    alice_ws = Workspace.objects.get(memberships__user=alice)
    charlies = Membership.objects.get(user=charlie)
    with pytest.raises(Http404):
        get_for_workspace(request_for(alice, alice_ws), Membership, pk=charlies.pk)


@pytest.mark.parametrize("bad_id", ["abc", "", "9999999", "-1"])
def test_malformed_or_missing_ids_are_404(alice, bad_id):
    workspace = Workspace.objects.get(memberships__user=alice)
    with pytest.raises(Http404):
        get_for_workspace(request_for(alice, workspace), Membership, pk=bad_id)


def test_scoped_filters_to_current_workspace(alice, charlie):
    workspace = Workspace.objects.get(memberships__user=alice)
    rows = list(scoped(request_for(alice, workspace), Membership))
    assert [m.user for m in rows] == [alice]


def test_require_role_allows_higher_and_refuses_lower(alice, charlie):
    team = workspace_create(name="Team", owner=alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)

    @require_role(Role.MEMBER)
    def view(request):
        return "ok"

    assert view(request_for(alice, team)) == "ok"
    with pytest.raises(PermissionDenied, match="member role or higher"):
        view(request_for(charlie, team))


def test_role_ranking():
    m = Membership(role=Role.ADMIN)
    assert m.has_role(Role.MEMBER) and m.has_role(Role.ADMIN) and not m.has_role(Role.OWNER)
