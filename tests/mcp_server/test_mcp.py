"""The MCP server through the official MCP Python SDK's own client, over streamable HTTP against the studio's ASGI
app, with workspace API tokens: the SDK lists the tools, estimates and generates an image on the simulator, and the
generation is in the gallery and every call in the audit log."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kiestudio.api.tokens import token_create, token_revoke
from kiestudio.studio.models import Generation, Status
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import AuditEvent, Membership
from tests.studio.helpers import workspace_of

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = {"prompt": "A lighthouse on a cliff at dusk"}


def _token(user, scopes=("read", "generate"), **extra):
    workspace = workspace_of(user)
    membership = Membership.objects.get(workspace=workspace, user=user)
    return token_create(workspace=workspace, actor_membership=membership, name="Desktop", scopes=list(scopes), **extra)


def _session(base: str, raw: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[set[str], list[Any]]:
    """The tool names, and each call's result, from one SDK session."""

    async def run():
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {raw}"}, timeout=30) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            return names, [await client.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(run())


def _text(result) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def test_the_sdk_lists_the_tools_estimates_and_generates_into_the_gallery(
    asgi_live_server, kie_sim, studio_worker, alice, client, settings
):
    settings.PUBLIC_BASE_URL = asgi_live_server
    new = _token(alice)
    generate = {"model": "google/nano-banana", "inputs": PROMPT, "idempotency_key": "first-lighthouse"}
    names, (estimate, made, again) = _session(
        asgi_live_server,
        new.raw,
        [
            ("estimate", {"model": "google/nano-banana", "inputs": PROMPT}),
            ("generate", generate),
            ("generate", generate),
        ],
    )
    assert {"list_models", "describe_model", "estimate", "generate", "get_item", "follow_up", "search_gallery"} <= names
    priced = json.loads(_text(estimate))
    assert not estimate.is_error and priced["model"] == "google/nano-banana" and Decimal(priced["credits_total"]) > 0
    first, replay = json.loads(_text(made)), json.loads(_text(again))
    assert first["started"] is True and replay["started"] is False  # the same key bought once
    [item] = first["items"]
    assert [i["item"] for i in replay["items"]] == [item["item"]] and Generation.objects.count() == 1
    deadline = time.monotonic() + 30
    while Generation.objects.get().status != Status.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.1)
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED and generation.created_by == alice
    upscale = {"item": item["item"], "action": "upscale", "idempotency_key": "up-1"}
    _, (read, found, upscaled, dance) = _session(
        asgi_live_server,
        new.raw,
        [
            ("get_item", {"item": item["item"]}),
            ("search_gallery", {"query": "lighthouse"}),
            ("follow_up", upscale),
            ("follow_up", {"item": item["item"], "action": "dance"}),
        ],
    )
    child = Generation.objects.get(parent=generation)
    assert json.loads(_text(upscaled))["item"]["item"] == child.pk and child.action == "upscale"
    assert dance.is_error and "“dance” can't be done on item" in _text(dance) and "upscale" in _text(dance)
    view = json.loads(_text(read))
    assert view["status"] == "succeeded" and len(view["files"]) == 1
    assert httpx.get(view["files"][0]["url"]).status_code in (302, 403, 404)  # the studio's file: signed in only
    assert [row["item"] for row in json.loads(_text(found))] == [generation.pk]
    client.force_login(alice)
    assert f'href="/gallery/{generation.pk}/"' in client.get("/gallery/").content.decode()
    assert UsageEntry.objects.filter(source=generation.usage_source).exists()  # charged through the ledger
    tools = list(
        AuditEvent.objects.filter(action="mcp.tool_called").order_by("pk").values_list("details__tool", flat=True)
    )
    assert tools == ["estimate", "generate", "generate", "get_item", "search_gallery", "follow_up"]
    targets = AuditEvent.objects.filter(action="mcp.tool_called").values_list("target", flat=True)
    assert all(t.endswith("through API token “Desktop” (ks_" + new.token.prefix + ")") for t in targets), targets
    assert AuditEvent.objects.filter(action="api.generation_created").count() == 1


def test_tokens_scopes_and_workspaces_are_enforced(asgi_live_server, kie_sim, alice, charlie, settings):
    settings.PUBLIC_BASE_URL = asgi_live_server
    reader = _token(alice, scopes=("read",))
    answer = httpx.post(f"{asgi_live_server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert answer.status_code == 401 and "Bearer" in answer.headers.get("www-authenticate", "")
    wrong = httpx.post(
        f"{asgi_live_server}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer ks_0000_not-a-token"},
    )
    assert wrong.status_code == 401
    _, (refused,) = _session(
        asgi_live_server, reader.raw, [("generate", {"model": "google/nano-banana", "inputs": PROMPT})]
    )
    assert refused.is_error and "lacks the “generate” scope" in _text(refused) and not Generation.objects.exists()
    theirs = Generation.objects.create(
        workspace=workspace_of(charlie), created_by=charlie, model_key="google/nano-banana", status=Status.SUCCEEDED
    )
    _, (hidden, bad_model) = _session(
        asgi_live_server,
        reader.raw,
        [("get_item", {"item": theirs.pk}), ("estimate", {"model": "holo/9000", "inputs": PROMPT})],
    )
    assert hidden.is_error and f"no gallery item {theirs.pk} in this workspace" in _text(hidden)
    assert bad_model.is_error and "holo/9000" in _text(bad_model)
    # The token's calls share the REST API's per-token limit: past it, a clear error and nothing done.
    settings.API_RATE_LIMIT = 3  # three calls were made above
    _, (limited,) = _session(asgi_live_server, reader.raw, [("list_models", {})])
    assert limited.is_error and "Too many calls with this token (at most 3 a minute" in _text(limited)
    assert not AuditEvent.objects.filter(action="mcp.tool_called", details__tool="list_models").exists()
    token_revoke(token=reader.token, actor_membership=Membership.objects.get(user=alice))
    with pytest.raises(Exception):  # noqa: B017  (the SDK's client fails to connect: a 401 on its first request)
        _session(asgi_live_server, reader.raw, [])
