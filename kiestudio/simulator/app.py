"""The simulator as a Starlette ASGI app: ``create_app(SimulatorConfig(...))``.

One app serves the API host paths, the upload host paths, generated media and the ``/_sim`` control
endpoints. ``app.state.sim`` (a :class:`~kiestudio.simulator.state.SimState`) exposes the config, the
request log, the tasks and the balance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import chat, control, images, market, runway, suno, upload, veo
from .config import SimulatorConfig
from .state import LogEntry, SimState

__all__ = ["SimulatorConfig", "create_app"]

log = logging.getLogger("kiestudio.simulator")

CREATE_PATHS = frozenset(
    {
        "/api/v1/jobs/createTask",
        "/api/v1/veo/generate",
        "/api/v1/veo/extend",
        "/api/v1/veo/get-4k-video",
        "/api/v1/generate",
        "/api/v1/generate/extend",
        "/api/v1/generate/upload-cover",
        "/api/v1/generate/upload-extend",
        "/api/v1/generate/add-vocals",
        "/api/v1/generate/add-instrumental",
        "/api/v1/generate/mashup",
        "/api/v1/generate/replace-section",
        "/api/v1/generate/generate-persona",
        "/api/v1/style/generate",
        "/api/v1/suno/cover/generate",
        "/api/v1/lyrics",
        "/api/v1/wav/generate",
        "/api/v1/vocal-removal/generate",
        "/api/v1/midi/generate",
        "/api/v1/mp4/generate",
        "/api/v1/gpt4o-image/generate",
        "/api/v1/flux/kontext/generate",
        "/api/v1/runway/generate",
        "/api/v1/runway/extend",
        "/api/v1/aleph/generate",
    }
)
READ_SUFFIXES = ("/record-info", "/recordInfo", "/record-detail", "/get-1080p-video")
UPLOAD_PATHS = frozenset({"/api/file-stream-upload", "/api/file-base64-upload", "/api/file-url-upload"})
UNLOGGED_PREFIX = "/_sim/"
LOGGED_SIM_PREFIXES = ("/_sim/media/", "/_sim/files/")


def classify(method: str, path: str) -> str:
    if path in UPLOAD_PATHS:
        return "upload"
    if path == "/api/v1/chat/credit":
        return "credit"
    if path.startswith("/claude/") or path.endswith(("/v1/chat/completions", "/v1/responses")):
        return "chat"
    if method == "POST" and path in CREATE_PATHS:
        return "create"
    if method == "GET" and path.endswith(READ_SUFFIXES):
        return "read"
    return "other"


class RequestLogMiddleware:
    """Appends a :class:`LogEntry` for every answered request (``/_sim`` control calls excluded)."""

    def __init__(self, app: Any, sim: SimState):
        self.app = app
        self.sim = sim

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(UNLOGGED_PREFIX) and not path.startswith(LOGGED_SIM_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        method: str = scope["method"]
        state: dict[str, Any] = {"entry": None, "json": False, "body": bytearray()}

        # The entry is written before the response leaves, so a client that has its answer always finds it.
        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                state["json"] = headers.get(b"content-type", b"").startswith(b"application/json")
                state["entry"] = self._record(scope, method, path, started, message["status"])
            elif message["type"] == "http.response.body" and state["json"] and state["entry"] is not None:
                if len(state["body"]) < 65536:
                    state["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    self._complete(state["entry"], bytes(state["body"]))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if state["entry"] is None:
                self._record(scope, method, path, started, 500)

    def _record(self, scope: dict[str, Any], method: str, path: str, started: float, status: int) -> LogEntry:
        noted = scope.get("sim.note", {})
        task_id = noted.get("task_id")
        if task_id is None and path.startswith("/_sim/media/"):
            task_id = path.split("/")[3]
        entry = LogEntry(
            t=started,
            method=method,
            path=path,
            kind=classify(method, path),
            status=status,
            task_id=task_id,
            model=noted.get("model"),
        )
        self.sim.log.append(entry)
        return entry

    @staticmethod
    def _complete(entry: LogEntry, raw: bytes) -> None:
        """Fill in the body ``code`` (and a created task's id) from a JSON answer."""
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            body = json.loads(raw)
            if isinstance(body, dict):
                entry.code = body.get("code") if isinstance(body.get("code"), int) else None
                data = body.get("data")
                if entry.task_id is None and isinstance(data, dict) and isinstance(data.get("taskId"), str):
                    entry.task_id = data["taskId"]


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found", 405: "Method not allowed"}.get(status, "Error")
    key = request.app.state.sim.config.message_key
    return JSONResponse({"code": status, key: message}, status_code=status)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("simulator error on %s %s", request.method, request.url.path, exc_info=exc)
    key = request.app.state.sim.config.message_key
    return JSONResponse({"code": 500, key: "Internal server error"}, status_code=500)


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """A fresh simulator app with its own state (``app.state.sim``)."""
    sim = SimState(config or SimulatorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sim.loop = asyncio.get_running_loop()
        sim.shutdown = asyncio.Event()
        try:
            yield
        finally:
            sim.shutdown.set()
            for job in list(sim.background):
                job.cancel()
            if sim.http_client is not None:
                await sim.http_client.aclose()
                sim.http_client = None

    routes = [
        *market.routes,
        *veo.routes,
        *suno.routes,
        *images.routes,
        *runway.routes,
        *upload.routes,
        *control.routes,
        *chat.routes,  # last: /{model}/v1/chat/completions is a catch-all pattern
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _not_found, 500: _server_error},
    )
    app.state.sim = sim
    app.add_middleware(RequestLogMiddleware, sim=sim)
    return app
