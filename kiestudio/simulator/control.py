"""``/_sim/*``: generated media and uploaded files (public, like Kie's CDN) and control endpoints for tests."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .common import number, sim_of
from .media import render


async def media(request: Request) -> Response:
    sim = sim_of(request)
    task_id = request.path_params["task_id"]
    name = request.path_params["name"]
    task = sim.tasks.get(task_id)
    item = task.item(name) if task else None
    if item is None:
        return JSONResponse({"code": 404, "msg": "File not found"}, status_code=404)
    key = f"{task_id}/{name}"
    data = sim.cached_media(key)
    if data is None:
        fps = sim.config.video_fps
        data = await anyio.to_thread.run_sync(lambda: render(item, fps=fps))
        sim.cache_media(key, data)
    return Response(data, media_type=item.mime, headers={"Cache-Control": "public, max-age=86400"})


async def files(request: Request) -> Response:
    sim = sim_of(request)
    upload = sim.uploads.get(request.path_params["path"])
    if upload is None:
        return JSONResponse({"code": 404, "msg": "File not found"}, status_code=404)
    return Response(upload.data, media_type=upload.mime)


async def get_log(request: Request) -> Response:
    sim = sim_of(request)
    window = request.query_params.get("window")
    body: dict[str, Any] = {
        "entries": sim.log.to_list(),
        "callbacks": list(sim.callback_log),
        "polls_per_task": sim.log.polls_per_task(),
    }
    if window:
        body["creates_in_window"] = sim.log.creates_in_window(float(window))
    return JSONResponse(body)


async def chat_timings(request: Request) -> Response:
    """When each text chunk of each finished chat stream was sent (``chat_timings`` on), oldest stream first."""
    return JSONResponse({"streams": sim_of(request).chat_timings})


async def reset(request: Request) -> Response:
    sim = sim_of(request)
    sim.reset()
    return JSONResponse({"ok": True, "balance": number(sim.balance)})


async def config(request: Request) -> Response:
    sim = sim_of(request)
    if request.method == "PATCH":
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            sim.config.update(changes)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(sim.config.to_dict())


async def credits(request: Request) -> Response:
    sim = sim_of(request)
    try:
        body = await request.json()
        sim.set_balance(Decimal(str(body["balance"])))
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return JSONResponse({"error": 'body must be {"balance": <number>}'}, status_code=400)
    return JSONResponse({"balance": number(sim.balance)})


async def tasks(request: Request) -> Response:
    sim = sim_of(request)
    now = sim.now()
    return JSONResponse({"tasks": [task.summary(now) for task in list(sim.tasks.values())]})


routes = [
    Route("/_sim/media/{task_id}/{name}", media, methods=["GET", "HEAD"]),
    Route("/_sim/files/{path:path}", files, methods=["GET", "HEAD"]),
    Route("/_sim/log", get_log, methods=["GET"]),
    Route("/_sim/chat-timings", chat_timings, methods=["GET"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/config", config, methods=["GET", "PATCH"]),
    Route("/_sim/credits", credits, methods=["POST"]),
    Route("/_sim/tasks", tasks, methods=["GET"]),
]
