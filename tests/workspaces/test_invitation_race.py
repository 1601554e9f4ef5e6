"""People accepting one invitation link at the same moment: exactly one joins, the others are told it was used,
and nobody gets a 500 (eight at once gave one). Real threads on a committed database, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django.test import Client

from kiestudio.workspaces import services
from kiestudio.workspaces.models import AuditEvent, Invitation, Membership, Role
from tests.studio.helpers import workspace_of

pytestmark = pytest.mark.django_db(transaction=True)
PEOPLE = 8


@pytest.fixture
def slow_join(monkeypatch):
    """Hold the winner inside its transaction for a moment, so every other request has passed the page's own
    check by the time the invitation is marked used: the window the 500 came through, made wide on purpose."""
    original = services.audit_record

    def audit_record(**kwargs):
        if kwargs.get("action") == AuditEvent.Action.MEMBER_JOINED:
            time.sleep(0.3)
        return original(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_record)


def _link(alice) -> str:
    workspace = workspace_of(alice)
    owner = Membership.objects.get(workspace=workspace, user=alice)
    return f"/invite/{services.invitation_create(workspace=workspace, actor_membership=owner, role=Role.MEMBER).token}/"


def _accept_together(link: str, users) -> list[int]:
    barrier = threading.Barrier(len(users))
    statuses: list[int] = []

    def accept(user) -> None:
        client = Client(raise_request_exception=False)
        client.force_login(user)
        barrier.wait()
        try:
            statuses.append(client.post(link).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(statuses)


def test_eight_people_accepting_one_link_at_once(alice, make_user, slow_join):
    link = _link(alice)
    people = [make_user(f"person{i}@example.com") for i in range(PEOPLE)]
    statuses = _accept_together(link, people)
    assert statuses == [302] + [410] * (PEOPLE - 1)
    workspace = workspace_of(alice)
    joined = Membership.objects.filter(workspace=workspace).exclude(user=alice)
    assert joined.count() == 1
    invitation = Invitation.objects.get()
    assert invitation.accepted_by_id == joined.get().user_id
    assert AuditEvent.objects.filter(workspace=workspace, action=AuditEvent.Action.MEMBER_JOINED).count() == 1


def test_one_person_clicking_accept_several_times_at_once(alice, make_user, slow_join):
    link = _link(alice)
    dana = make_user("dana@example.com")
    assert _accept_together(link, [dana] * 4) == [302] * 4
    assert Membership.objects.filter(workspace=workspace_of(alice), user=dana).count() == 1
