from __future__ import annotations

import pytest

from kiestudio.api.tokens import token_create
from kiestudio.workspaces.models import Membership
from tests.studio.helpers import workspace_of


def make_token(user, *, scopes=("read", "generate", "chat"), **options) -> str:
    membership = Membership.objects.get(workspace=workspace_of(user), user=user)
    return token_create(
        workspace=membership.workspace, actor_membership=membership, name="Script", scopes=list(scopes), **options
    ).raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def alice_token(alice) -> str:
    return make_token(alice)
