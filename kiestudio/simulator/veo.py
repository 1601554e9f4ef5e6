"""Veo 3.1 family (contract 5.1 and 3.2): generate, record-info, extend, 1080p and 4K upgrades."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import callbacks, jobs, registry
from .common import (
    BadRequest,
    apply_faults,
    check_auth,
    dumps,
    envelope,
    error,
    fmt_datetime,
    guard_create,
    guard_read,
    note,
    ok,
    read_json,
    sim_of,
    task_id_param,
)
from .family import begin_create, pay, prompted_task, validate_family
from .markers import Markers, strip
from .media import MediaItem
from .state import SimState, Task

DEFAULT_MODEL = "veo3_fast"
EXTEND_MODELS = {"fast": "veo3_fast", "quality": "veo3", "lite": "veo3_lite"}
PROCESSING = "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."
DEFAULT_SECONDS = 180


def _ratio(body: dict[str, Any]) -> str:
    value = body.get("aspect_ratio") or body.get("aspectRatio") or "16:9"
    return "16:9" if str(value).lower() == "auto" else str(value)


def _plan(sim: SimState, task: Task, ratio: str) -> None:
    text = strip(task.prompt) or "Veo video"
    subtitle = f"Kie simulator · {task.model}"
    task.outputs = [jobs.video(sim, task.task_id, ratio=ratio, text=text, subtitle=subtitle, index=0)]
    if ratio != "16:9":  # contract 3.2: originUrls only when the aspect ratio is not 16:9
        task.outputs.append(
            jobs.video(sim, task.task_id, ratio=ratio, text=text, subtitle=subtitle + " (origin)", index=1)
        )
    task.extra["ratio"] = ratio


async def generate(request: Request) -> Response:
    sim = sim_of(request)
    created = await prompted_task(request, "veo", default_model=DEFAULT_MODEL, default_seconds=DEFAULT_SECONDS)
    if isinstance(created, Response):
        return created
    task, inputs = created
    body = task.body
    _plan(sim, task, _ratio(body))
    task.extra["resolution"] = str(inputs.get("resolution") or body.get("resolution") or "720p")
    task.extra["parent_urls"] = []
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


async def extend(request: Request) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    for name in ("taskId", "prompt"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return error(sim, 422, f"Invalid parameter '{name}': {name} is required")
    parent = sim.get_task(body["taskId"], "veo")
    if parent is None:
        return error(sim, 422, "record is empty")
    if parent.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    variant = body.get("model") or "fast"
    if variant not in EXTEND_MODELS:
        return error(sim, 422, f"Invalid parameter 'model': choose one of {', '.join(EXTEND_MODELS)}")
    seeds = body.get("seeds")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or not 10000 <= seeds <= 99999):
        return error(sim, 422, "Invalid parameter 'seeds': must be an integer from 10000 to 99999")
    model = EXTEND_MODELS[variant]
    spec, inputs, invalid = validate_family(sim, "veo", {"prompt": body["prompt"]}, model=model)
    if invalid:
        return invalid
    credits = registry.credits_for(spec, inputs) if spec else Decimal(0)
    if refused := pay(sim, credits):
        return refused
    task = jobs.new_task(
        request,
        family="veo",
        op="extend",
        model=model,
        body=body,
        prompt=body["prompt"],
        callback_url=body.get("callBackUrl"),
        typical_seconds=spec.typical_seconds if spec else DEFAULT_SECONDS,
        markers=markers,
        credits=credits,
    )
    _plan(sim, task, parent.extra.get("ratio", "16:9"))
    task.extra["resolution"] = parent.extra.get("resolution", "720p")
    task.extra["parent_urls"] = _full_urls(parent)
    task.extra["parent"] = parent.task_id
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _full_urls(task: Task) -> list[str]:
    return [*task.extra.get("parent_urls", []), task.url(task.outputs[0])]


def _flag(task: Task, state: str) -> int:
    if state == "success":
        return 1
    if state == "fail":
        assert task.fail is not None
        return 2 if task.fail[0] == "400" else 3
    return 0


def veo_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    response = None
    if state == "success":
        response = {
            "taskId": task.task_id,
            "resultUrls": [task.url(task.outputs[0])],
            "originUrls": [task.url(item) for item in task.outputs[1:]],
            "resolution": task.extra.get("resolution", "720p"),
            "fullResultUrls": _full_urls(task),
        }
    failed = state == "fail" and task.fail is not None
    return {
        "taskId": task.task_id,
        "paramJson": dumps(task.body),
        "completeTime": fmt_datetime(task.end_wall) if state in ("success", "fail") else None,
        "response": response,
        "successFlag": _flag(task, state),
        "errorCode": int(task.fail[0]) if failed and task.fail and task.fail[0].isdigit() else None,
        "errorMessage": task.fail[1] if failed and task.fail else "",
        "createTime": fmt_datetime(task.created_wall),
        "fallbackFlag": False,
    }


async def record_info(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    task_id = task_id_param(request)
    note(request, task_id=task_id)
    if limited := await guard_read(request):
        return limited
    if not task_id:
        return error(sim, 400, "taskId parameter is required")
    task = sim.get_task(task_id, "veo")
    if task is None or task.op == "4k":
        return error(sim, 422, "record is empty")
    note(request, model=task.model)
    return ok(sim, veo_data(sim, task, sim.now()))


def _index(value: Any) -> int | None:
    try:
        index = int(value if value is not None else 0)
    except (TypeError, ValueError):
        return None
    return index if index >= 0 else None


def _upgrade_item(task: Task, name: str, kind_label: str) -> MediaItem:
    existing = task.item(name)
    if existing:
        return existing
    base = task.outputs[0]
    item = MediaItem(
        name=name,
        kind=base.kind,
        width=base.width,
        height=base.height,
        seconds=base.seconds,
        text=base.text,
        subtitle=f"{base.subtitle} ({kind_label})",
        key=f"{base.key}:{kind_label}",
    )
    task.outputs.append(item)
    return item


async def get_1080p(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    task_id = task_id_param(request)
    note(request, task_id=task_id)
    if limited := await guard_read(request):
        return limited
    if not task_id:
        return error(sim, 400, "taskId parameter is required")
    index = _index(request.query_params.get("index"))
    if index is None:
        return error(sim, 422, "Invalid parameter 'index': must be a non-negative integer")
    task = sim.get_task(task_id, "veo")
    if task is None or task.op == "4k":
        return error(sim, 422, "record is empty")
    note(request, model=task.model)
    now = sim.now()
    if task.state(now) != "success":
        return error(sim, 422, "record status is not success")
    key = (task_id, index)
    # Kie charges for the 1080p copy once, when it is first asked for; reading it again is free.
    if key not in sim.veo_1080p_calls and (refused := pay(sim, registry.EXTRA_CREDITS["1080p"])):
        return refused
    calls = sim.veo_1080p_calls.get(key, 0) + 1
    sim.veo_1080p_calls[key] = calls
    config = sim.config
    if calls <= config.veo_1080p_pending_calls or now - task.end_mono < config.veo_1080p_pending_seconds:
        return error(sim, 400, PROCESSING, business=True)
    item = _upgrade_item(task, f"{100 + index}.mp4", "1080p")
    return ok(sim, {"resultUrl": task.url(item)})


async def get_4k(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error(sim, 400, exc.message)
    note(request, task_id=body.get("taskId") if isinstance(body.get("taskId"), str) else None)
    if limited := guard_create(request):
        return limited
    if fault := await apply_faults(request, "create"):
        return fault
    task_id = body.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        return error(sim, 422, "Invalid parameter 'taskId': taskId is required")
    index = _index(body.get("index"))
    if index is None:
        return error(sim, 422, "Invalid parameter 'index': must be a non-negative integer")
    parent = sim.get_task(task_id, "veo")
    if parent is None or parent.op == "4k":
        return error(sim, 422, "record is empty")
    if parent.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    key = (task_id, index)
    if key not in sim.veo_4k:
        credits = registry.EXTRA_CREDITS["4k"]
        if refused := pay(sim, credits):
            return refused
        job = jobs.new_task(
            request,
            family="veo",
            op="4k",
            model=parent.model,
            body=body,
            prompt=parent.prompt,
            callback_url=body.get("callBackUrl"),
            typical_seconds=registry.EXTRA_SECONDS["4k"],
            markers=Markers(variants=dict(parent.markers.variants)) if parent.markers else Markers(),
            credits=credits,
            task_id=f"{task_id}-4k-{index}",
        )
        job.extra["parent"] = parent.task_id
        job.outputs = [
            _upgrade_item(parent, f"{200 + index}.mp4", "4K"),
        ]
        thumb = jobs.still(
            sim,
            parent.task_id,
            ratio=parent.extra.get("ratio", "16:9"),
            text=parent.outputs[0].text,
            subtitle="4K thumbnail",
            index=300 + index,
        )
        parent.outputs.append(thumb)
        job.extra["thumb"] = thumb
        sim.veo_4k[key] = job
        jobs.launch(request, job)
        return ok(sim, {"taskId": task_id})
    # Asked again for a 4K Kie is already making (or has made): the English page answers "processing" (422) while
    # it runs and the URLs themselves once done; the older pages just repeat the task id.
    job = sim.veo_4k[key]
    if sim.variant("4k", job.task_id, FOUR_K_SHAPES, job.markers) != "flat":
        return ok(sim, {"taskId": task_id})
    if not job.is_done(sim.now()):
        return error(sim, 422, "4k is processing. It should be ready in 5-10 minutes")
    if job.fail:
        return error(sim, 500, job.fail[1])
    return ok(sim, four_k_data(sim, job, parent, "flat"))


def _veo_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        code = int(task.fail[0]) if task.fail[0].isdigit() else 500
        return envelope(sim, code, task.fail[1], {"taskId": task.task_id, "fallbackFlag": False}), task.task_id
    data = veo_data(sim, task, task.end_mono)
    info = {
        "resultUrls": data["response"]["resultUrls"],
        "originUrls": data["response"]["originUrls"],
        "resolution": data["response"]["resolution"],
    }
    body = {"taskId": task.task_id, "promptJson": dumps(task.body), "info": info, "fallbackFlag": False}
    return envelope(sim, 200, "Veo3.1 video generated successfully.", body), task.task_id


#: Kie documents three shapes for the 4K answer: snake_case (the older Chinese page), camelCase under ``info`` (the
#: newest page) and camelCase at the top of ``data`` (the English page). Each 4K job uses one (``SimState.variant``).
FOUR_K_SHAPES = ("snake", "info", "flat")


def _veo_4k_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    parent = sim.get_task(task.extra.get("parent"), "veo")
    parent_id = task.extra.get("parent", task.task_id)
    shape = sim.variant("4k", task.task_id, FOUR_K_SHAPES, task.markers)
    if task.fail or parent is None:
        message = task.fail[1] if task.fail else "4K video generation failed."
        return envelope(sim, 500, message, {"task_id" if shape == "snake" else "taskId": parent_id}), parent_id
    return envelope(sim, 200, "4K Video generated successfully.", four_k_data(sim, task, parent, shape)), parent_id


def four_k_data(sim: SimState, task: Task, parent: Task, shape: str) -> dict[str, Any]:
    video, image = [parent.url(task.outputs[0])], [parent.url(task.extra["thumb"])]
    if shape == "snake":
        return {
            "task_id": parent.task_id,
            "result_urls": video,
            "media_ids": [sim.uuid_for("media", task.task_id)],
            "image_urls": image,
        }
    if shape == "info":
        return {"taskId": parent.task_id, "info": {"resultUrls": video, "imageUrls": image}}
    return {"taskId": parent.task_id, "resultUrls": video, "imageUrls": image}


callbacks.register("veo", _veo_callback)
callbacks.register("veo:4k", _veo_4k_callback)

routes = [
    Route("/api/v1/veo/generate", generate, methods=["POST"]),
    Route("/api/v1/veo/record-info", record_info, methods=["GET"]),
    Route("/api/v1/veo/extend", extend, methods=["POST"]),
    Route("/api/v1/veo/get-1080p-video", get_1080p, methods=["GET"]),
    Route("/api/v1/veo/get-4k-video", get_4k, methods=["POST"]),
]
