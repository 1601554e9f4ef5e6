"""The studio's MCP server: streamable HTTP at ``/mcp``, built with the official MCP Python SDK.

A desktop assistant connects with a workspace API token (``Authorization: Bearer ks_…``, the same tokens as the
REST API, checked by ``api.tokens.token_authenticate``) and gets the studio's tools: list and describe models,
estimate, generate, follow up on a result, read an item, search the gallery. Each call acts as the token's maker
within the token's scopes and caps, and is written to the workspace's audit log (``tools``).

The SDK's session manager needs a running task group. The studio's ASGI app starts one per event loop on the first
MCP request (uvicorn runs one loop per process; the tests' servers one each), so no lifespan hook is needed."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl

from kiestudio.api.models import ApiToken
from kiestudio.api.tokens import TokenError, token_authenticate
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.mcp_server import tools

PATH = "/mcp"
INSTRUCTIONS = (
    "Kie Studio: make images, video, music and speech on a team's Kie.ai key, within the team's budget. "
    "list_models, then describe_model for a model's settings; estimate before generate (it spends credits); "
    "generate returns gallery items whose status and files get_item reads; follow_up builds on a finished item; "
    "search_gallery finds earlier work. Give generate and follow_up an idempotency_key so a retried call buys once."
)


class StudioTokens:
    """The SDK's token check, as the REST API checks them: unknown, revoked or expired tokens get a 401."""

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            found = await sync_to_async(_authenticate)(token)
        except TokenError:
            return None
        return AccessToken(
            token=token,
            client_id=f"kiestudio-token-{found.pk}",
            scopes=list(found.scopes),
            expires_at=int(found.expires_at.timestamp()) if found.expires_at else None,
            claims={"token_id": found.pk},
        )


def _authenticate(raw: str) -> ApiToken:
    try:
        return token_authenticate(raw)
    finally:
        close_old_connections()


def _call[T](fn: Callable[..., T], **kwargs: Any) -> T:
    """One tool's work on a database thread, as the token the request came with."""
    access = get_access_token()
    token_id = (access.claims or {}).get("token_id") if access else None
    try:
        token = (
            ApiToken.objects.select_related("workspace", "created_by").filter(pk=int(token_id)).first()
            if isinstance(token_id, int)
            else None
        )
        if token is None or not token.is_active:
            raise ToolError("This API token is no longer valid.")
        # The REST API's per-token limit, in the same bucket: a token's calls count once, whichever way they come.
        wait = shared_limiter().try_acquire(f"api:{token.pk}", limit=settings.API_RATE_LIMIT, window=60.0)
        if wait:
            raise ToolError(
                f"Too many calls with this token (at most {settings.API_RATE_LIMIT} a minute, REST and MCP "
                f"together): try again in {max(1, math.ceil(wait))} s."
            )
        return fn(token=token, **kwargs)
    except tools.McpToolError as exc:
        raise ToolError(str(exc)) from None
    finally:
        close_old_connections()


async def _run[T](fn: Callable[..., T], **kwargs: Any) -> T:
    return await sync_to_async(_call)(fn, **kwargs)


def build_server() -> MCPServer:
    base = (settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000").rstrip("/")
    server = MCPServer(
        name="kie-studio",
        title="Kie Studio",
        instructions=INSTRUCTIONS,
        website_url=base,
        token_verifier=StudioTokens(),
        # Our tokens are the studio's own, for this server only: the verifier checks them itself.
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(base), resource_server_url=AnyHttpUrl(f"{base}{PATH}"), validate_token_resource=False
        ),
        log_level="WARNING",
    )

    @server.tool(description="The models a generation can start from, with their kind and price per take.")
    async def list_models(kind: str = "") -> str:
        """``kind``: text_to_image, image_edit, text_to_video, image_to_video, music, speech… (empty: all)."""
        return json.dumps(await _run(tools.models_list, kind=kind))

    @server.tool(description="One model's settings (a JSON Schema) and its price; read it before estimate.")
    async def describe_model(model: str) -> str:
        return json.dumps(await _run(tools.model_describe, model=model))

    @server.tool(description="What a generation would cost, checked by the model's rules. Buys nothing.")
    async def estimate(model: str, inputs: dict[str, Any], variations: int = 1) -> str:
        return json.dumps(await _run(tools.estimate, model=model, inputs=inputs, variations=variations), default=str)

    @server.tool(
        description=(
            "Start a generation on the team's Kie key: it spends credits (estimate first). Returns the gallery "
            "items it made; get_item follows them. The same idempotency_key buys once."
        )
    )
    async def generate(model: str, inputs: dict[str, Any], variations: int = 1, idempotency_key: str = "") -> str:
        result = await _run(
            tools.generate, model=model, inputs=inputs, variations=variations, idempotency_key=idempotency_key
        )
        return json.dumps(result, default=str)

    @server.tool(description="A gallery item: its status, price, failure if any, and links to its files.")
    async def get_item(item: int) -> str:
        return json.dumps(await _run(tools.item_get, item=item), default=str)

    @server.tool(description="Build on a finished item (upscale, extend, animate…); it spends credits.")
    async def follow_up(
        item: int,
        action: str,
        file: int = 1,
        model: str = "",
        settings: dict[str, Any] | None = None,
        idempotency_key: str = "",
    ) -> str:
        result = await _run(
            tools.follow_up,
            item=item,
            action=action,
            file=file,
            model=model,
            settings=settings,
            idempotency_key=idempotency_key,
        )
        return json.dumps(result, default=str)

    @server.tool(description="Find finished items of the team's gallery by words in their prompt, model or tags.")
    async def search_gallery(query: str = "", kind: str = "", limit: int = 12) -> str:
        return json.dumps(await _run(tools.gallery_search, query=query, kind=kind, limit=limit))

    return server


def _transport_security() -> TransportSecuritySettings:
    """DNS-rebinding protection with the site's own host names (Django's ALLOWED_HOSTS): off only where any host
    is allowed anyway."""
    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    allowed = [name for host in hosts for name in (host.lstrip("."), f"{host.lstrip('.')}:*")]
    base = (settings.PUBLIC_BASE_URL or "").rstrip("/")
    origins = [base] if base else []
    origins += [f"{scheme}://{name}" for name in allowed for scheme in ("http", "https")]
    return TransportSecuritySettings(allowed_hosts=allowed, allowed_origins=origins)


class LazyMCPApp:
    """The MCP app, started in the event loop that first needs it (see the module's docstring)."""

    def __init__(self) -> None:
        self._apps: dict[asyncio.AbstractEventLoop, asyncio.Future[Any]] = {}
        self._keep: set[asyncio.Task[None]] = set()

    async def _app(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._apps:  # the first request of this loop starts it; any others meanwhile wait for it
            self._apps[loop] = loop.create_future()
            self._apps[loop].set_result(await self._start(loop))
        return await asyncio.shield(self._apps[loop])

    async def _start(self, loop: asyncio.AbstractEventLoop) -> Any:
        server = build_server()
        app = server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, transport_security=_transport_security()
        )
        ready = asyncio.Event()

        async def run() -> None:
            async with server.session_manager.run():
                ready.set()
                await asyncio.Event().wait()  # for the life of the loop

        task = loop.create_task(run())
        self._keep.add(task)
        await ready.wait()
        return app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await (await self._app())(scope, receive, send)


mcp_app = LazyMCPApp()


def handles(path: str) -> bool:
    """Whether a request is the MCP server's: its endpoint, and the OAuth resource metadata the SDK serves."""
    return path == PATH or path.startswith((f"{PATH}/", "/.well-known/oauth-protected-resource"))
