"""The demo's people and their workspace: the same people in every run, each run a workspace of its own unless
it is given the name of one to add to."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password

from kiestudio.accounts.models import User
from kiestudio.workspaces.models import Membership, Role, Workspace

DEMO_PASSWORD = "kiestudio-demo"
DEMO_DOMAIN = "demo.kiestudio.example"

PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Hedy Lamarr",
    "Katherine Johnson",
    "Alan Turing",
    "Margaret Hamilton",
    "Radia Perlman",
    "Claude Shannon",
    "Frances Allen",
    "Tim Berners-Lee",
    "Barbara Liskov",
    "Dennis Ritchie",
)


def demo_people(count: int) -> list[User]:
    names = [PEOPLE[i] if i < len(PEOPLE) else f"Demo Member {i + 1}" for i in range(count)]
    emails = [f"{name.lower().replace(' ', '.')}@{DEMO_DOMAIN}" for name in names]
    existing = {u.email: u for u in User.objects.filter(email__in=emails)}
    missing = [
        User(email=email, name=name, password="")
        for name, email in zip(names, emails, strict=True)
        if email not in existing
    ]
    if missing:
        password = make_password(DEMO_PASSWORD)  # hashed once for everyone
        for user in missing:
            user.password = password
        User.objects.bulk_create(missing)
        existing.update({u.email: u for u in User.objects.filter(email__in=[u.email for u in missing])})
    return [existing[email] for email in emails]


def demo_workspace(name: str | None, users: list[User]) -> Workspace:
    if name:
        workspace = Workspace.objects.filter(name=name, is_personal=False).order_by("pk").first()
    else:
        taken = Workspace.objects.filter(name__startswith="Demo studio").count()
        name = "Demo studio" if taken == 0 else f"Demo studio {taken + 1}"
        workspace = None
    if workspace is None:
        workspace = Workspace.objects.create(name=name[:80], created_by=users[0])
    present = set(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True))
    Membership.objects.bulk_create(
        Membership(workspace=workspace, user=user, role=role_for(i, len(users)))
        for i, user in enumerate(users)
        if user.pk not in present
    )
    return workspace


def role_for(index: int, count: int) -> str:
    """The first person owns the workspace, the second administers it, the last of four or more only views."""
    if index == 0:
        return Role.OWNER
    if index == count - 1 and count >= 4:
        return Role.VIEWER
    return Role.ADMIN if index == 1 else Role.MEMBER


def creators_of(users: list[User]) -> list[User]:
    """Everyone but the viewers."""
    return [u for i, u in enumerate(users) if role_for(i, len(users)) != Role.VIEWER]
