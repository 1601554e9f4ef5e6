"""Roles, invitations, members, budgets, the ledger and the audit log, through the pages people use."""

from __future__ import annotations

import html as htmllib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.utils import timezone

from kiestudio.chat.models import Conversation, Message
from kiestudio.studio.models import Asset, Generation
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces import services
from kiestudio.workspaces.models import AuditEvent, Invitation, Membership, Role, Workspace
from kiestudio.workspaces.services import invitation_create, workspace_create
from tests.chat.helpers import wait_until_done
from tests.conftest import PASSWORD
from tests.studio.helpers import drain, workspace_of

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def team(make_user, alice):
    """Alice's workspace with one person in each role (their only workspace, so it is their current one)."""
    workspace = workspace_of(alice)
    people = {"owner": alice}
    for role in ("admin", "member", "viewer"):
        user = make_user(f"{role}@example.com", personal=False)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        people[role] = user
    return people


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return htmllib.unescape(response.content.decode())


def as_user(client, user):
    client.force_login(user)
    return client


def generate(client, **fields):
    data = {
        "model": "google/nano-banana",
        "prompt": "A paper boat",
        "aspect_ratio": "1:1",
        "variations": "1",
        "form_token": str(uuid.uuid4()),
        **fields,
    }
    return client.post("/generate/submit/", data, **HTMX)


def chat(client, text="Hello there"):
    return client.post("/chat/new/", {"text": text, "token": str(uuid.uuid4())}, **HTMX)


# --- The permission matrix (the README's table) ----------------------------------------------------------------

RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}

# (what, minimum role, method, url, data)
ACTIONS = [
    ("browse the gallery", "viewer", "get", "/gallery/", {}),
    ("see the team", "viewer", "get", "/team/", {}),
    ("generate", "member", "post", "/generate/submit/", None),
    ("chat", "member", "post", "/chat/new/", None),
    ("make a collection", "member", "post", "/collections/new/", {"name": "Picks"}),
    ("invite people", "admin", "post", "/team/invitations/", {"role": "member"}),
    ("set the budget", "admin", "post", "/settings/workspace/budget/", {"budget": "100"}),
    ("change the key", "admin", "post", "/settings/workspace/key/", {"key": "sim-good-key-1234"}),
    ("set defaults", "admin", "post", "/settings/workspace/defaults/", {"generate_model": "", "chat_model": ""}),
    ("name chats with AI", "admin", "post", "/settings/workspace/chat-titles/", {"chat_titles": "on"}),
    ("rename the workspace", "admin", "post", "/settings/workspace/name/", {"name": "Studio B"}),
    ("see usage", "admin", "get", "/usage/", {}),
    ("export usage", "admin", "get", "/usage/export.csv", {}),
    ("see the audit log", "admin", "get", "/audit/", {}),
    ("delete the workspace", "owner", "post", "/settings/workspace/delete/", {"confirm": "wrong name"}),
    ("transfer ownership", "owner", "post", "/settings/workspace/transfer/", {"member": "0"}),
]


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner"])
@pytest.mark.parametrize(("what", "minimum", "method", "url", "data"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_permission_matrix(client, kie_sim, team, role, what, minimum, method, url, data):
    as_user(client, team[role])
    if what == "generate":
        response = generate(client)
    elif what == "chat":
        response = chat(client)
    else:
        response = getattr(client, method)(url, data)
    if RANK[role] >= RANK[minimum]:
        assert response.status_code != 403, f"a {role} should be able to {what}"
    else:
        assert response.status_code == 403, f"a {role} must not be able to {what}"
        html = text(response)
        assert "That's not something you can do here" in html
        assert f"needs the {minimum} role or higher" in html


def test_a_viewer_spends_nothing(client, kie_sim, team):
    as_user(client, team["viewer"])
    assert generate(client).status_code == 403
    assert chat(client).status_code == 403
    assert not Generation.objects.exists() and not Conversation.objects.exists()
    page = text(client.get("/generate/"))
    assert "You're a viewer here" in page and "disabled" in page


def test_an_admin_cannot_touch_an_owner_but_an_owner_can_promote(client, team):
    owner_membership = Membership.objects.get(user=team["owner"])
    member_membership = Membership.objects.get(user=team["member"])
    as_user(client, team["admin"])
    assert client.post(f"/team/members/{owner_membership.pk}/role/", {"role": "viewer"}).status_code == 403
    assert client.post(f"/team/members/{member_membership.pk}/role/", {"role": "owner"}).status_code == 403
    assert client.post(f"/team/members/{owner_membership.pk}/remove/").status_code == 403
    assert client.post("/team/invitations/", {"role": "owner"}).status_code == 403
    as_user(client, team["owner"])
    client.post(f"/team/members/{member_membership.pk}/role/", {"role": "admin"})
    member_membership.refresh_from_db()
    assert member_membership.role == Role.ADMIN
    event = AuditEvent.objects.get(action=Action.ROLE_CHANGED)
    assert (event.actor, event.target, event.details) == (
        team["owner"],
        "member <member@example.com>",
        {"previous": "member", "role": "admin"},
    )


def test_the_last_owner_cannot_leave_or_be_demoted(client, team):
    as_user(client, team["owner"])
    response = client.post("/team/leave/", follow=True)
    assert "You're the last owner, so you can't leave" in text(response)
    own = Membership.objects.get(user=team["owner"])
    response = client.post(f"/team/members/{own.pk}/role/", {"role": "admin"}, follow=True)
    assert "A workspace needs an owner" in text(response)
    assert Membership.objects.get(user=team["owner"]).role == Role.OWNER


def test_members_leave_and_are_removed_with_an_audit_trail(client, team):
    as_user(client, team["viewer"])
    response = client.post("/team/leave/", follow=True)
    assert "You left" in text(response)
    assert not Membership.objects.filter(user=team["viewer"], workspace=workspace_of(team["owner"])).exists()
    # Leaving the only workspace one had leaves one with a personal workspace, not an error page.
    assert client.get("/gallery/").status_code == 200
    as_user(client, team["admin"])
    member = Membership.objects.get(user=team["member"])
    client.post(f"/team/members/{member.pk}/remove/")
    assert not Membership.objects.filter(pk=member.pk).exists()
    actions = list(AuditEvent.objects.filter(workspace=workspace_of(team["owner"])).values_list("action", "target"))
    assert (Action.MEMBER_LEFT, "viewer <viewer@example.com>") in actions
    assert (Action.MEMBER_REMOVED, "member <member@example.com>") in actions


def test_ownership_transfer_keeps_the_old_owner_as_admin(client, team):
    as_user(client, team["owner"])
    to = Membership.objects.get(user=team["member"])
    client.post("/settings/workspace/transfer/", {"member": to.pk})
    assert Membership.objects.get(pk=to.pk).role == Role.OWNER
    assert Membership.objects.get(user=team["owner"]).role == Role.ADMIN
    assert AuditEvent.objects.filter(action=Action.OWNERSHIP_TRANSFERRED, target="member <member@example.com>").exists()


def test_deleting_needs_the_exact_name_and_takes_everything(client, kie_sim, team, django_capture_on_commit_callbacks):
    as_user(client, team["member"])
    generate(client)
    drain()
    files = [name for asset in Asset.objects.all() for name in (asset.file.name, asset.thumbnail.name) if name]
    assert files and all(default_storage.exists(name) for name in files)
    workspace = workspace_of(team["owner"])
    as_user(client, team["owner"])
    response = client.post("/settings/workspace/delete/", {"confirm": "nope"}, follow=True)
    assert "exactly, to delete it" in text(response) and Workspace.objects.filter(pk=workspace.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settings/workspace/delete/", {"confirm": workspace.name}, follow=True)
    assert f"Deleted {workspace.name}" in text(response)
    assert not any(default_storage.exists(name) for name in files)  # the files went too
    assert not Workspace.objects.filter(pk=workspace.pk).exists() and not Generation.objects.exists()
    event = AuditEvent.objects.get(action=Action.WORKSPACE_DELETED)
    assert event.workspace is None and event.workspace_name == workspace.name and event.actor == team["owner"]


# --- Invitations -----------------------------------------------------------------------------------------------


def _link_from(html: str) -> str:
    start = html.index("/invite/")
    return html[start : html.index("/", start + len("/invite/")) + 1]


def test_invitation_by_email_is_sent_and_accepted(client, make_user, alice):
    as_user(client, alice)
    html = text(client.post("/team/invitations/", {"email": "Dana@Example.com", "role": "viewer"}, follow=True))
    link = _link_from(html)
    assert "Sent to dana@example.com" in html
    [message] = mail.outbox
    assert message.to == ["dana@example.com"] and link in message.body and "as viewer" in message.body
    assert link in message.alternatives[0][0]
    dana = make_user("dana@example.com")
    as_user(client, dana)
    page = text(client.get(link))
    assert f"Join {workspace_of(alice).name}" in page
    client.post(link)
    assert Membership.objects.get(user=dana, workspace=workspace_of(alice)).role == Role.VIEWER
    assert AuditEvent.objects.filter(action=Action.MEMBER_JOINED, target="dana <dana@example.com>", actor=dana).exists()


def test_a_link_is_stored_hashed_and_encrypted_and_only_admins_see_it_again(client, alice, make_user):
    as_user(client, alice)
    response = client.post("/team/invitations/", {"role": "member"}, follow=True)
    link = _link_from(text(response))
    token = link.removeprefix("/invite/").rstrip("/")
    assert response.redirect_chain == [("/team/", 302)] and response["Cache-Control"] == "no-store"
    assert Invitation.objects.get().token_hash != token and token not in str(Invitation.objects.values().get())
    # An admin copies it again from the list (to post it in the team's channel); the page is never cached.
    again = client.get("/team/")
    assert token in text(again) and again["Cache-Control"] == "no-store"
    member = make_user("member@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=member, role=Role.MEMBER)
    as_user(client, member)
    client.post("/workspaces/switch/", {"workspace": workspace_of(alice).pk})
    assert token not in text(client.get("/team/"))
    # An email invitation keeps no token at all.
    as_user(client, alice)
    client.post("/team/invitations/", {"role": "member", "email": "erin@example.com"})
    assert Invitation.objects.get(email="erin@example.com").token_encrypted == ""


def test_a_link_for_several_people_lets_that_many_in_and_counts_them(client, alice, make_user):
    as_user(client, alice)
    client.post("/team/invitations/", {"role": "member", "uses": "5", "days": "1"})
    invitation = Invitation.objects.get()
    assert invitation.max_uses == 5 and invitation.expires_at <= timezone.now() + timedelta(days=1)
    link = f"/invite/{invitation.link_token}/"
    for name in ("fay", "gus"):
        as_user(client, make_user(f"{name}@example.com"))
        client.post(link)
    invitation.refresh_from_db()
    assert invitation.uses == 2 and invitation.state == "open"
    assert (
        Membership.objects.filter(
            workspace=workspace_of(alice), user__email__in=["fay@example.com", "gus@example.com"]
        ).count()
        == 2
    )
    as_user(client, alice)
    assert "2 of 5 used" in text(client.get("/team/"))
    client.post(f"/team/invitations/{invitation.pk}/revoke/")
    as_user(client, make_user("hal@example.com"))
    assert client.post(link).status_code == 410  # revoked: nobody else gets in
    assert not Membership.objects.filter(user__email="hal@example.com", workspace=workspace_of(alice)).exists()


def test_a_link_stops_at_its_number_of_people(client, alice, make_user):
    workspace = workspace_of(alice)
    made = services.invitation_create(
        workspace=workspace, actor_membership=workspace.memberships.get(user=alice), role="member", max_uses=1
    )
    services.invitation_accept(invitation=made.invitation, user=make_user("ida@example.com"))
    with pytest.raises(services.InvitationUnusable, match="already been used"):
        services.invitation_accept(invitation=Invitation.objects.get(), user=make_user("jo@example.com"))
    made.invitation.refresh_from_db()
    assert made.invitation.uses == 1 and made.invitation.state == "accepted"


@pytest.mark.parametrize(
    ("field", "value", "reason"), [("uses", "3", "how many people"), ("days", "2", "1, 7 or 30 days")]
)
def test_an_invitation_with_values_not_offered_is_refused(client, alice, field, value, reason):
    as_user(client, alice)
    response = client.post("/team/invitations/", {"role": "member", field: value}, follow=True)
    assert reason in text(response) and not Invitation.objects.exists()


def test_signed_out_visitors_sign_up_then_join(client, alice):
    link = f"/invite/{_token_for(alice, role='member')}/"
    page = text(client.get(link))
    assert "Create an account" in page and f"next={link}" in page
    signup = client.post(
        f"/accounts/signup/?next={link}",
        {"email": "erin@example.com", "password1": PASSWORD, "password2": PASSWORD, "next": link},
    )
    assert signup.status_code == 302 and signup["Location"] == link
    client.post(link)
    erin = Membership.objects.get(user__email="erin@example.com", workspace=workspace_of(alice))
    assert erin.role == Role.MEMBER


def test_signed_out_visitors_can_sign_in_then_join(client, alice, make_user):
    frank = make_user("frank@example.com")
    link = f"/invite/{_token_for(alice, role='viewer')}/"
    response = client.post(f"/accounts/login/?next={link}", {"login": frank.email, "password": PASSWORD, "next": link})
    assert response["Location"] == link
    client.post(link)
    assert Membership.objects.filter(user=frank, workspace=workspace_of(alice)).exists()


def _token_for(owner, *, role="member", email=""):
    workspace = workspace_of(owner)
    actor = Membership.objects.get(user=owner, workspace=workspace)
    return invitation_create(workspace=workspace, actor_membership=actor, role=role, email=email).token


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("used", "has already been used"),
        ("revoked", "was withdrawn by an admin"),
        ("expired", "expired on"),
        ("unknown", "isn't valid"),
        ("other-email", "was sent to gina@example.com. Sign in with that address"),
    ],
)
def test_unusable_invitations_say_what_happened(client, alice, make_user, state, message):
    token = _token_for(alice, email="gina@example.com" if state == "other-email" else "")
    hank = make_user("hank@example.com")
    if state == "used":
        other = make_user("ivy@example.com")
        as_user(client, other)
        client.post(f"/invite/{token}/")
    elif state == "revoked":
        as_user(client, alice)
        client.post(f"/team/invitations/{Invitation.objects.get().pk}/revoke/")
    elif state == "expired":
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "unknown":
        token = "not-a-real-token"
    as_user(client, hank)
    for response in (client.get(f"/invite/{token}/"), client.post(f"/invite/{token}/")):
        assert response.status_code == 410
        assert message in text(response)
    assert not Membership.objects.filter(user=hank, workspace=workspace_of(alice)).exists()


def test_invitations_expire_after_seven_days(alice):
    _token_for(alice)
    invitation = Invitation.objects.get()
    assert abs(invitation.expires_at - invitation.created_at - timedelta(days=7)) < timedelta(seconds=1)


# --- Budgets, caps and the ledger ------------------------------------------------------------------------------


def test_a_budget_cannot_be_negative_or_nonsense(client, alice):
    as_user(client, alice)
    for raw, message in [("-5", "can't be negative"), ("lots", "must be a number of credits"), ("1e400", "too")]:
        response = client.post("/settings/workspace/budget/", {"budget": raw}, follow=True)
        assert message in text(response)
    response = client.post(f"/team/members/{Membership.objects.get(user=alice).pk}/cap/", {"cap": "-1"}, follow=True)
    assert "monthly cap can't be negative" in text(response)
    assert workspace_of(alice).monthly_budget is None and Membership.objects.get(user=alice).monthly_cap is None
    assert not AuditEvent.objects.filter(action__in=[Action.BUDGET_CHANGED, Action.CAP_CHANGED]).exists()


def test_the_workspace_budget_refuses_a_generation_before_spending(client, kie_sim, team):
    workspace = workspace_of(team["owner"])
    as_user(client, team["admin"])
    client.post("/settings/workspace/budget/", {"budget": "3"})
    assert Workspace.objects.get(pk=workspace.pk).monthly_budget == Decimal("3.00")
    as_user(client, team["member"])
    response = generate(client, model="veo/veo3_fast", prompt="A drone flight", aspect_ratio="16:9")
    html = text(response)
    assert response.status_code == 422
    assert f"This would go over {workspace.name}'s monthly budget" in html and "3 of 3 are left" in html
    assert not Generation.objects.exists() and kie_sim.sim.tasks == {}
    assert AuditEvent.objects.filter(action=Action.BUDGET_CHANGED, actor=team["admin"]).exists()


def test_a_member_cap_refuses_generation_and_chat_and_says_what_is_left(client, kie_sim, team):
    member = Membership.objects.get(user=team["member"])
    as_user(client, team["admin"])
    client.post(f"/team/members/{member.pk}/cap/", {"cap": "5"})
    kie_sim.sim.config.include_credits_consumed = True  # Kie says what it cost: the ledger takes its word
    as_user(client, team["member"])
    assert generate(client).status_code == 200  # nano banana: 4 credits
    drain()
    [entry] = UsageEntry.objects.all()
    assert (entry.user, entry.kind, entry.credits, entry.estimated) == (team["member"], "generation", 4, False)
    refused = generate(client)
    assert refused.status_code == 422
    assert "over your monthly cap" in text(refused) and "1 of your 5 are left" in text(refused)
    as_user(client, team["admin"])
    client.post(f"/team/members/{member.pk}/cap/", {"cap": "4"})
    as_user(client, team["member"])
    answer = chat(client)
    assert answer.status_code == 400 and "over your monthly cap" in text(answer)
    assert Generation.objects.count() == 1 and not Message.objects.filter(role="assistant").exists()
    # Other members are not held to her cap.
    as_user(client, team["admin"])
    assert generate(client).status_code == 200


def test_chat_replies_are_charged_to_the_ledger(client, kie_sim, team, transactional_db):
    as_user(client, team["member"])
    response = chat(client, "Say hi")
    assert response.status_code == 302
    reply = wait_until_done(Message.objects.get(role="assistant"))
    entry = UsageEntry.objects.get(source=f"message:{reply.pk}")
    assert entry.kind == "chat" and entry.user == team["member"] and entry.credits > 0
    assert entry.model_key == reply.model_key


# --- Usage dashboard, audit ------------------------------------------------------------------------------------


def _charge(workspace, user, credits, *, model="google/nano-banana", kind="generation", days_ago=0):
    entry = UsageEntry.objects.create(
        workspace=workspace, user=user, kind=kind, model_key=model, credits=Decimal(credits), source=uuid.uuid4().hex
    )
    if days_ago:
        UsageEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_usage_dashboard_totals_by_member_and_model_with_a_range_and_csv(client, team):
    workspace = workspace_of(team["owner"])
    _charge(workspace, team["member"], "4")
    _charge(workspace, team["member"], "0.5", model="claude-sonnet-4-6", kind="chat")
    _charge(workspace, team["admin"], "60", model="veo/veo3_fast", days_ago=40)
    as_user(client, team["admin"])
    today = timezone.localdate()
    html = text(client.get("/usage/", {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}))
    assert "<svg" in html and "Credits per day" in html
    assert "member@example.com" in html and "admin@example.com" not in html.split("By member")[1]
    assert "4.5" in html
    wide = client.get("/usage/", {"from": (today - timedelta(days=60)).isoformat(), "to": today.isoformat()})
    # The table names models as the studio does (the CSV keeps the keys, for scripts).
    assert "64.5" in text(wide) and "Veo 3.1 Fast" in text(wide) and "veo/veo3_fast" not in text(wide)
    assert "Claude Sonnet 4.6" in text(wide)
    csv = b"".join(
        client.get("/usage/export.csv", {"from": (today - timedelta(days=60)).isoformat()}).streaming_content
    ).decode()
    lines = csv.strip().splitlines()
    assert lines[0] == "time,member,kind,model,credits,estimated,source" and len(lines) == 4
    assert any("admin@example.com,generation,veo/veo3_fast,60" in line for line in lines)


def test_csv_cells_cannot_become_formulas(client, make_user, alice):
    sneaky = make_user("=cmd@example.com", personal=False)
    workspace = workspace_of(alice)
    Membership.objects.create(workspace=workspace, user=sneaky, role=Role.MEMBER)
    _charge(workspace, sneaky, "1")
    as_user(client, alice)
    csv = b"".join(client.get("/usage/export.csv").streaming_content).decode()
    assert ",'=cmd@example.com," in csv


def test_audit_log_lists_who_did_what_and_when(client, kie_sim, team):
    as_user(client, team["owner"])
    client.post("/settings/workspace/budget/", {"budget": "250"})
    client.post("/settings/workspace/key/", {"key": "sim-team-key-9876"})
    client.post("/team/invitations/", {"role": "viewer", "email": "jo@example.com"})
    html = text(client.get("/audit/"))
    for words in ["Changed the monthly budget", "250.00 credits a month", "key ending 9876", "jo@example.com"]:
        assert words in html
    assert "sim-team-key-9876" not in html


def test_signing_in_again_opens_the_workspace_used_last(client, alice):
    team = workspace_create(name="Night shift", owner=alice)
    client.force_login(alice)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    client.logout()
    client.force_login(alice)  # a new session
    assert "Night shift" in text(client.get("/settings/")).split("Your role")[0]
    personal = workspace_of(alice)
    client.post("/workspaces/switch/", {"workspace": personal.pk})
    client.logout()
    client.force_login(alice)
    assert personal.name in text(client.get("/settings/")).split("Your role")[0]
    # A workspace the member has left is not opened again.
    Membership.objects.filter(workspace=team, user=alice).update(last_used_at=timezone.now())
    team.delete()
    client.logout()
    client.force_login(alice)
    assert client.get("/settings/").status_code == 200
