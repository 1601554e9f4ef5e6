"""Workspace settings against the simulator over real HTTP: keys, the balance, the webhook key, defaults."""

from __future__ import annotations

import html as htmllib
import time

import pytest

from kiestudio.core import crypto
from kiestudio.kie.webhooks import sign
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import AuditEvent, Workspace
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return htmllib.unescape(response.content.decode())


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def test_a_good_key_is_checked_with_kie_then_stored_encrypted(owner, alice, kie_sim):
    kie_sim.sim.set_balance(1234.5)
    page = text(owner.post("/settings/workspace/key/", {"key": "  kie-good-key-ab12  "}, follow=True))
    assert "Key saved. Kie says the account has 1,234.50 credits." in page
    workspace = Workspace.objects.get(pk=workspace_of(alice).pk)
    assert workspace.kie_key_last4 == "ab12" and "kie-good-key" not in workspace.kie_key_encrypted
    assert crypto.decrypt(workspace.kie_key_encrypted) == "kie-good-key-ab12"
    assert "The team's key, ending ••••ab12" in text(owner.get("/settings/"))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.KEY_CHANGED, target="key ending ab12").exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Paste the Kie API key from kie.ai"),
        ("has spaces in it", "doesn't look like a Kie API key"),
        ("bad-key-0000", "Kie refused the key: "),
    ],
)
def test_a_wrong_or_empty_key_is_refused_with_a_reason_and_nothing_changes(owner, alice, kie_sim, key, message):
    page = text(owner.post("/settings/workspace/key/", {"key": key}, follow=True))
    assert message in page
    assert Workspace.objects.get(pk=workspace_of(alice).pk).kie_key_encrypted == ""
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.KEY_CHANGED).exists()


def test_kies_own_reason_is_shown_for_a_refused_key(owner, kie_sim):
    kie_sim.sim.config.api_keys = ["the-only-good-key"]
    page = text(owner.post("/settings/workspace/key/", {"key": "another-key-1111"}, follow=True))
    assert "Kie refused the key: You do not have access permissions" in page  # Kie's msg, word for word


def test_test_key_reads_the_balance_and_reports_a_key_that_stopped_working(owner, alice, kie_sim):
    owner.post("/settings/workspace/key/", {"key": "kie-team-key-9z9z"})
    kie_sim.sim.set_balance(77)
    assert "The key works: Kie says the account has 77 credits." in text(
        owner.post("/settings/workspace/key/test/", follow=True)
    )
    kie_sim.sim.config.api_keys = ["some-other-key"]  # the key was revoked at kie.ai
    assert "Kie refused the key: " in text(owner.post("/settings/workspace/key/test/", follow=True))
    owner.post("/settings/workspace/key/", {"action": "remove"})
    assert Workspace.objects.get(pk=workspace_of(alice).pk).kie_key_last4 == ""


def test_jobs_run_on_the_workspace_key(owner, alice, kie_sim):
    kie_sim.sim.config.api_keys = ["team-key-only"]
    owner.post("/settings/workspace/key/", {"key": "team-key-only"})
    [generation] = create(alice)
    drain()
    assert Generation.objects.get(pk=generation.pk).status == "succeeded"


def test_the_header_balance_is_cached(owner, kie_sim):
    kie_sim.sim.set_balance(321)
    credit_reads = len(kie_sim.log.of_kind("credit"))
    first = text(owner.get("/workspaces/balance/"))
    assert "321 cr" in first and "read at" in first
    kie_sim.sim.set_balance(5)
    assert "321 cr" in text(owner.get("/workspaces/balance/"))
    assert len(kie_sim.log.of_kind("credit")) == credit_reads + 1
    assert 'hx-get="/workspaces/balance/"' in text(owner.get("/gallery/"))


def test_the_header_balance_reads_kie_again_once_work_finished_here(owner, kie_sim):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    kie_sim.sim.set_balance(321)
    assert "321 cr" in text(owner.get("/workspaces/balance/"))
    kie_sim.sim.set_balance(317)
    reads = len(kie_sim.log.of_kind("credit"))
    # The pill asks again (?fresh=1) when a poll reports the work done; a reading under 2 s old still stands, so
    # many tabs seeing the same finish make one Kie call.
    pill = text(owner.get("/workspaces/balance/?fresh=1"))
    assert "321 cr" in pill and 'hx-trigger="kie:settled from:body, chat:done from:body"' in pill
    later = timezone.now() + timedelta(seconds=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert "317 cr" in text(owner.get("/workspaces/balance/?fresh=1"))
        assert "317 cr" in text(owner.get("/workspaces/balance/?fresh=1"))
    assert len(kie_sim.log.of_kind("credit")) == reads + 1


def test_the_header_says_so_when_kie_gives_no_balance(owner, kie_sim):
    kie_sim.sim.config.api_keys = ["not-ours"]
    assert "balance unknown" in text(owner.get("/workspaces/balance/"))


def test_callbacks_are_checked_with_the_workspace_webhook_key(client, owner, alice, kie_sim, settings):
    owner.post("/settings/workspace/webhook/", {"webhook_key": "team-hmac-key"})
    [generation] = create(alice)
    Generation.objects.filter(pk=generation.pk).update(kie_task_id="task-123")
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    body = {"data": {"taskId": "task-123"}}
    ts = str(int(time.time()))
    studio_signed = {"X-Webhook-Timestamp": ts, "X-Webhook-Signature": sign("studio-key", "task-123", ts)}
    settings.KIE_WEBHOOK_HMAC_KEY = "studio-key"
    assert client.post(url, body, content_type="application/json", headers=studio_signed).status_code == 403
    team_signed = {"X-Webhook-Timestamp": ts, "X-Webhook-Signature": sign("team-hmac-key", "task-123", ts)}
    assert client.post(url, body, content_type="application/json", headers=team_signed).status_code == 200


def test_default_models_preselect_generate_and_chat(owner, kie_sim):
    owner.post("/settings/workspace/defaults/", {"generate_model": "veo/veo3_fast", "chat_model": ""})
    assert '<input type="hidden" name="model" value="veo/veo3_fast">' in text(owner.get("/generate/"))
    page = text(owner.post("/settings/workspace/defaults/", {"generate_model": "no/such-model"}, follow=True))
    assert "There is no model called “no/such-model”" in page


def test_rename_create_and_switch(owner, alice):
    page = text(owner.post("/settings/workspace/name/", {"name": "Moonlight Films"}, follow=True))
    assert "Workspace renamed." in page and "Moonlight Films" in page
    assert "Give the workspace a name." in text(owner.post("/settings/workspace/name/", {"name": "  "}, follow=True))
    response = owner.post("/workspaces/new/", {"name": "Summer campaign"}, follow=True)
    assert "Created Summer campaign" in text(response)
    summer = Workspace.objects.get(name="Summer campaign")
    assert summer.memberships.get().user == alice
    films = Workspace.objects.get(name="Moonlight Films")
    page = text(owner.post("/workspaces/switch/", {"workspace": films.pk, "next": "/gallery/"}, follow=True))
    assert "Switched to Moonlight Films" in page
    assert owner.post("/workspaces/switch/", {"workspace": 999999}).status_code == 404
