from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kiestudio.api.models import ApiSpend, ApiToken, IdempotencyKey
from kiestudio.api.tokens import TokenExpired, TokenRevoked, TokenUnknown, token_authenticate
from kiestudio.chat.models import Message
from kiestudio.studio.models import Generation
from kiestudio.usage.models import Hold
from kiestudio.workspaces.models import AuditEvent, Membership, Role, Workspace
from tests.api.conftest import bearer, make_token
from tests.chat.helpers import conversation_for
from tests.studio.helpers import made, workspace_of

FOX = {"model": "google/nano-banana", "inputs": {"prompt": "A red fox in the snow"}}


def post(client, path, body, token, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", **bearer(token), **headers)


def error_of(response) -> dict:
    return response.json()["error"]


# --- Tenancy ---------------------------------------------------------------------------------------------------


def test_a_token_never_reads_another_workspace(client, alice, charlie, kie_sim):
    theirs = made(charlie, prompt="Charlie's secret lighthouse")
    asset = theirs.assets.get()
    mine = made(alice, prompt="Alice's lighthouse")
    token = make_token(alice)
    for path in [
        f"/api/v1/generations/{theirs.pk}",
        f"/api/v1/generations/{theirs.pk}/files/{asset.pk}",
        f"/api/v1/generations/{mine.pk}/files/{asset.pk}",  # her generation, his file
    ]:
        response = client.get(path, **bearer(token))
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    their_chat = conversation_for(charlie)
    their_message = Message.objects.create(
        workspace=their_chat.workspace, conversation=their_chat, role="user", content=[{"type": "text", "text": "Hi"}]
    )
    assert client.get(f"/api/v1/chat/messages/{their_message.pk}", **bearer(token)).status_code == 404
    listed = client.get("/api/v1/generations", **bearer(token)).json()["generations"]
    assert [g["id"] for g in listed] == [mine.pk]
    found = client.get("/api/v1/gallery", {"q": "lighthouse"}, **bearer(token)).json()["items"]
    assert [item["id"] for item in found] == [mine.pk]
    # ...while her own are there, with a download that streams the stored file.
    detail = client.get(f"/api/v1/generations/{mine.pk}", **bearer(token)).json()
    assert detail["status"] == "succeeded" and len(detail["results"]) == 1
    download = client.get(detail["results"][0]["download_url"].removeprefix("http://testserver"), **bearer(token))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == mine.assets.get().file.open("rb").read()


# --- Tokens ----------------------------------------------------------------------------------------------------


def test_no_unknown_expired_or_revoked_token_is_a_401(client, alice):
    raw = make_token(alice)
    token = ApiToken.objects.get()
    assert client.get("/api/v1/models").status_code == 401
    cases = {
        "": None,
        "ks_nope_nope": TokenUnknown,
        raw[:-2] + "xx": TokenUnknown,  # the right prefix, the wrong secret
    }
    for value, error in cases.items():
        response = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {value}")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        if error:
            with pytest.raises(error):
                token_authenticate(value)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/models", **bearer(raw))
    assert response.status_code == 401 and "expired" in error_of(response)["message"]
    with pytest.raises(TokenExpired):
        token_authenticate(raw)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None, revoked_at=timezone.now())
    response = client.get("/api/v1/models", **bearer(raw))
    assert response.status_code == 401 and "revoked" in error_of(response)["message"]
    with pytest.raises(TokenRevoked):
        token_authenticate(raw)


def test_the_token_is_stored_hashed_and_marked_used_once_a_minute(client, alice):
    raw = make_token(alice)
    token = ApiToken.objects.get()
    assert raw.startswith(f"ks_{token.prefix}_") and raw not in token.token_hash and token.last_used_at is None
    assert client.get("/api/v1/models", **bearer(raw)).status_code == 200
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    client.get("/api/v1/models", **bearer(raw))
    assert ApiToken.objects.get().last_used_at == first  # within the minute: no write
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/models", **bearer(raw))
    assert ApiToken.objects.get().last_used_at > first


def test_scopes_and_the_makers_role_are_enforced(client, alice, make_user):
    read_only = make_token(alice, scopes=["read"])
    response = post(client, "/api/v1/generations", FOX, read_only)
    assert response.status_code == 403 and "“generate” scope" in error_of(response)["message"]
    generate_only = make_token(alice, scopes=["generate"])
    response = client.get("/api/v1/models", **bearer(generate_only))
    assert response.status_code == 403 and "“read” scope" in error_of(response)["message"]
    # Bob, an admin, makes a token; then he is made a viewer: the token may still read, not generate.
    bob = make_user("bob@example.com")
    workspace = workspace_of(alice)
    membership = Membership.objects.create(workspace=workspace, user=bob, role=Role.ADMIN)
    raw = make_token(bob)
    assert ApiToken.objects.get(prefix=raw.split("_")[1]).workspace == workspace
    membership.role = Role.VIEWER
    membership.save()
    assert client.get("/api/v1/models", **bearer(raw)).status_code == 200
    response = post(client, "/api/v1/generations", FOX, raw)
    assert response.status_code == 403 and "member" in error_of(response)["message"]
    membership.delete()
    response = client.get("/api/v1/models", **bearer(raw))
    assert response.status_code == 403 and "no longer a member" in error_of(response)["message"]
    assert not Generation.objects.exists()


# --- Spending --------------------------------------------------------------------------------------------------


def test_the_tokens_monthly_cap_is_enforced(client, alice, kie_sim):
    raw = make_token(alice, monthly_cap=Decimal("6"))
    token = ApiToken.objects.get()
    first = post(client, "/api/v1/generations", FOX, raw)
    assert first.status_code == 201
    [created] = first.json()["generations"]
    # The purchase is the token's, in the ledger's terms (its hold, then its charge) and in the audit log.
    assert ApiSpend.objects.filter(token=token, source=f"generation:{created['id']}").exists()
    assert Hold.objects.filter(source=f"generation:{created['id']}", credits=4).exists()
    event = AuditEvent.objects.get(action="api.generation_created")
    assert f"#{created['id']}" in event.target and token.prefix in event.target
    second = post(client, "/api/v1/generations", FOX, raw)
    assert second.status_code == 402
    assert error_of(second)["code"] == "over_token_cap" and "2 of 6" in error_of(second)["message"]
    assert Generation.objects.count() == 1
    # Another token of the same workspace has its own cap.
    assert post(client, "/api/v1/generations", FOX, make_token(alice)).status_code == 201


def test_the_workspace_budget_applies_to_the_api(client, alice, kie_sim):
    Workspace.objects.filter(pk=workspace_of(alice).pk).update(monthly_budget=3)
    response = post(client, "/api/v1/generations", FOX, make_token(alice))
    assert response.status_code == 402 and error_of(response)["code"] == "over_budget"
    assert "about 4 credits" in error_of(response)["message"]
    assert not Generation.objects.exists()


def test_an_idempotency_key_replayed_returns_the_same_generation(client, alice, kie_sim):
    raw = make_token(alice)
    body = {**FOX, "variations": 2}
    first = post(client, "/api/v1/generations", body, raw, HTTP_IDEMPOTENCY_KEY="order-17")
    again = post(client, "/api/v1/generations", body, raw, HTTP_IDEMPOTENCY_KEY="order-17")
    assert (first.status_code, again.status_code) == (201, 200)
    ids = [g["id"] for g in first.json()["generations"]]
    assert len(ids) == 2 and [g["id"] for g in again.json()["generations"]] == ids
    assert Generation.objects.count() == 2 and ApiSpend.objects.count() == 2
    assert AuditEvent.objects.filter(action="api.generation_created").count() == 2
    other = post(client, "/api/v1/generations", FOX, raw, HTTP_IDEMPOTENCY_KEY="order-17")
    assert other.status_code == 409 and error_of(other)["field"] == "Idempotency-Key"
    assert Generation.objects.count() == 2
    # Without a key, each request is a purchase of its own.
    assert post(client, "/api/v1/generations", FOX, raw).status_code == 201
    assert Generation.objects.count() == 3 and IdempotencyKey.objects.count() == 1


def test_estimate_prices_without_buying(client, alice):
    response = post(client, "/api/v1/estimate", {**FOX, "variations": 3}, make_token(alice, scopes=["read"]))
    assert response.status_code == 200
    assert Decimal(response.json()["credits"]) == 12 and Decimal(response.json()["credits_each"]) == 4
    assert not Generation.objects.exists() and not Hold.objects.exists()


# --- Errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ("[" * 5000, "body"),
        ("[1, 2]", "body"),
        ({"inputs": {"prompt": "x"}}, "model"),
        ({**FOX, "variations": 9}, "variations"),
        ({**FOX, "variations": "many"}, "variations"),
        ({"model": "google/nano-banana", "inputs": {}}, "inputs.prompt"),
        ({"model": "no/such-model", "inputs": {}}, "model"),
        ({**FOX, "inputs": "a fox"}, "inputs"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/estimate", "/api/v1/generations"])
def test_malformed_bodies_are_a_400_naming_the_field(client, alice, body, field, path):
    response = post(client, path, body, make_token(alice))
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["field"] == field and error["code"] in ("validation_error", "malformed_body") and error["message"]
    assert not Generation.objects.exists()


def test_over_the_rate_limit_is_a_429_with_retry_after(client, alice, settings):
    settings.API_RATE_LIMIT = 2
    raw = make_token(alice)
    assert [client.get("/api/v1/models", **bearer(raw)).status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/models", **bearer(raw))
    assert response.status_code == 429 and error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Per token: another token still gets through.
    assert client.get("/api/v1/models", **bearer(make_token(alice))).status_code == 200


def test_models_come_with_their_input_schema_and_price(client, alice):
    raw = make_token(alice)
    listing = client.get("/api/v1/models", **bearer(raw)).json()
    by_key = {model["key"]: model for model in listing["models"]}
    fox = by_key["google/nano-banana"]
    assert fox["price"] == "4 cr" and fox["inputs"]["type"] == "object" and "prompt" in fox["inputs"]["properties"]
    assert "text_to_image" in listing["kinds"]
    assert client.get("/api/v1/models/google/nano-banana", **bearer(raw)).json()["name"] == fox["name"]
    assert client.get("/api/v1/models/no/such", **bearer(raw)).status_code == 404


# --- The settings page -----------------------------------------------------------------------------------------


def test_admins_make_and_revoke_tokens_on_the_settings_page(client, alice, make_user):
    client.force_login(alice)
    response = client.post(
        "/settings/api-tokens/new/",
        {"name": "CI", "scopes": ["read", "generate"], "monthly_cap": "50", "expires": "30"},
        follow=True,
    )
    token = ApiToken.objects.get()
    raw = response.context["new_token"]
    assert raw.startswith(f"ks_{token.prefix}_") and raw.encode() in response.content
    assert token.scopes == ["read", "generate"] and token.monthly_cap == 50 and token.created_by == alice
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert raw.encode() not in client.get("/settings/api-tokens/").content  # shown once
    assert AuditEvent.objects.filter(action="api.token_created", target__contains=token.prefix).exists()
    client.post(f"/settings/api-tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == alice
    assert AuditEvent.objects.filter(action="api.token_revoked").count() == 1
    assert client.get("/api/v1/models", **bearer(raw)).status_code == 401
    # No scope, no token; a member can't make one.
    client.post("/settings/api-tokens/new/", {"name": "None", "expires": "never"})
    assert ApiToken.objects.count() == 1
    bob = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=bob, role=Role.MEMBER)
    client.force_login(bob)
    assert client.get("/settings/api-tokens/").status_code == 403
    assert client.post("/settings/api-tokens/new/", {"name": "x", "scopes": ["read"]}).status_code == 403
    assert ApiToken.objects.count() == 1
