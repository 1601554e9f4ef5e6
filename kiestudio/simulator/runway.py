"""Runway (generate, record-detail, extend) and Runway Aleph (contract 5.5, 3.6)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import callbacks, jobs
from .common import dumps, envelope, error, fmt_datetime, fmt_iso, ok, sim_of
from .family import begin_create, priced_task, record_endpoint, validate_family
from .markers import strip
from .state import SimState, Task

RUNWAY_STATES = {"waiting": "wait", "queuing": "queueing"}


def _plan(sim: SimState, task: Task, ratio: str, label: str) -> None:
    text = strip(task.prompt) or label
    subtitle = f"Kie simulator · {label}"
    task.outputs = [
        jobs.video(sim, task.task_id, ratio=ratio, text=text, subtitle=subtitle, index=0),
        jobs.still(sim, task.task_id, ratio=ratio, text=text, subtitle=subtitle, index=1, ext="png"),
    ]
    task.extra["ratio"] = ratio


async def _runway_create(request: Request, op: str) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    parent = None
    if op == "extend":
        for name in ("taskId", "prompt", "quality"):
            if not body.get(name):
                return error(sim, 422, f"Invalid parameter '{name}': {name} is required")
        parent = sim.get_task(str(body["taskId"]), "runway")
        if parent is None:
            return error(sim, 404, "Task not found")
        if parent.state(sim.now()) != "success":
            return error(sim, 422, "record status is not success")
        candidate = {"prompt": body["prompt"], "quality": body["quality"], "duration": 5}
        candidate["aspectRatio"] = parent.extra.get("ratio", "16:9")
    else:
        for name in ("prompt", "duration", "quality"):
            if body.get(name) is None or body.get(name) == "":
                return error(sim, 422, f"Invalid parameter '{name}': {name} is required")
        candidate = body
        if str(body.get("duration")) == "10" and body.get("quality") == "1080p":
            return error(sim, 422, "Invalid parameter 'quality': 10-second videos cannot be 1080p")
        if not body.get("imageUrl") and not body.get("aspectRatio"):
            return error(sim, 422, "Invalid parameter 'aspectRatio': required for text-to-video")
    if body.get("quality") not in ("720p", "1080p"):
        return error(sim, 422, "Invalid parameter 'quality': choose one of 720p, 1080p")
    spec, inputs, invalid = validate_family(sim, "runway", candidate, model=None)
    if invalid:
        return invalid
    task = priced_task(
        request,
        "runway",
        spec,
        inputs,
        body,
        markers,
        model=None,
        prompt=str(body["prompt"]),
        default_seconds=90,
        op=op,
    )
    if isinstance(task, Response):
        return task
    ratio = parent.extra.get("ratio", "16:9") if parent else str(body.get("aspectRatio") or "16:9")
    _plan(sim, task, ratio, "Runway")
    task.extra["parent"] = parent.task_id if parent else ""
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


async def runway_generate(request: Request) -> Response:
    return await _runway_create(request, "generate")


async def runway_extend(request: Request) -> Response:
    return await _runway_create(request, "extend")


def runway_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    video_info = None
    if state == "success":
        video_info = {
            "videoId": sim.uuid_for("video", task.task_id),
            "taskId": task.task_id,
            "videoUrl": task.url(task.outputs[0]),
            "imageUrl": task.url(task.outputs[1]),
        }
    failed = state == "fail" and task.fail is not None
    return {
        "taskId": task.task_id,
        "parentTaskId": task.extra.get("parent", ""),
        "generateParam": {
            "prompt": task.body.get("prompt", ""),
            "imageUrl": task.body.get("imageUrl", ""),
            "expandPrompt": bool(task.body.get("expandPrompt", False)),
        },
        "state": RUNWAY_STATES.get(state, state),
        "generateTime": fmt_datetime(task.end_wall) if state in ("success", "fail") else "",
        "videoInfo": video_info,
        "failCode": (int(task.fail[0]) if task.fail and task.fail[0].isdigit() else 400) if failed else None,
        "failMsg": task.fail[1] if failed and task.fail else "",
        "expireFlag": 0,
    }


def _runway_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        data = {"task_id": task.task_id, "video_id": "", "video_url": "", "image_url": ""}
        return envelope(sim, 400, task.fail[1], data), task.task_id
    data = {
        "task_id": task.task_id,
        "video_id": sim.uuid_for("video", task.task_id),
        "video_url": task.url(task.outputs[0]),
        "image_url": task.url(task.outputs[1]),
    }
    return envelope(sim, 200, "All generated successfully.", data), task.task_id


async def aleph_generate(request: Request) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    spec, inputs, invalid = validate_family(sim, "aleph", body, model=None, required=("prompt", "videoUrl"))
    if invalid:
        return invalid
    task = priced_task(
        request, "aleph", spec, inputs, body, markers, model=None, prompt=str(body["prompt"]), default_seconds=120
    )
    if isinstance(task, Response):
        return task
    _plan(sim, task, str(body.get("aspectRatio") or "16:9"), "Runway Aleph")
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def aleph_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    quiet_code = 0 if sim.variant("aleph_quiet", task.task_id, ("zero", "null"), task.markers) == "zero" else None
    failed = state == "fail" and task.fail is not None
    response = None
    if state == "success":
        response = {
            "taskId": task.task_id,
            "resultVideoUrl": task.url(task.outputs[0]),
            "resultImageUrl": task.url(task.outputs[1]),
        }
    return {
        "taskId": task.task_id,
        "paramJson": dumps(task.body),
        "response": response,
        "completeTime": fmt_iso(task.end_wall) if state in ("success", "fail") else None,
        "createTime": fmt_iso(task.created_wall),
        # The docs: 1 = success, 0 = failed or still running; a failure is told by errorCode.
        "successFlag": 1 if state == "success" else 0,
        # Running or done, "no error" reads 0 / "" on some copies of the page and null on others (a seeded coin).
        "errorCode": (int(task.fail[0]) if task.fail and task.fail[0].isdigit() else 500) if failed else quiet_code,
        "errorMessage": task.fail[1] if failed and task.fail else (None if quiet_code is None else ""),
    }


def _aleph_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        code = int(task.fail[0]) if task.fail[0].isdigit() else 500
        body = envelope(sim, code, task.fail[1], None)
    else:
        data = {"result_video_url": task.url(task.outputs[0]), "result_image_url": task.url(task.outputs[1])}
        body = envelope(sim, 200, "success", data)
    body["taskId"] = task.task_id  # contract 3.6: Aleph puts taskId at the top level
    return body, task.task_id


callbacks.register("runway", _runway_callback)
callbacks.register("aleph", _aleph_callback)

routes = [
    Route("/api/v1/runway/generate", runway_generate, methods=["POST"]),
    Route("/api/v1/runway/record-detail", record_endpoint("runway", runway_data), methods=["GET"]),
    Route("/api/v1/runway/extend", runway_extend, methods=["POST"]),
    Route("/api/v1/aleph/generate", aleph_generate, methods=["POST"]),
    Route("/api/v1/aleph/record-info", record_endpoint("aleph", aleph_data), methods=["GET"]),
]
