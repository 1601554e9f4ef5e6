"""Market jobs API (contract 2) and the common endpoints (credit balance, download URL)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiestudio.kie.catalog import load_catalog

from . import callbacks, jobs, registry
from .common import (
    BadRequest,
    apply_faults,
    charge,
    check_auth,
    dumps,
    envelope,
    error,
    guard_create,
    guard_read,
    insufficient,
    note,
    number,
    ok,
    paused,
    read_json,
    refusal,
    sim_of,
    task_id_param,
    wall_ms,
)
from .markers import parse, strings_in, strip
from .state import SimState, Task

SUBTITLE = "Kie simulator"


def _prompt(spec: registry.ModelSpec | None, inputs: dict[str, Any]) -> str:
    names = [spec.prompt_field] if spec and spec.prompt_field else []
    names += ["prompt", "text", "character_prompt"]
    for name in names:
        value = inputs.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _pick_spec(
    specs: list[registry.ModelSpec], raw: dict[str, Any], strict: bool
) -> tuple[registry.ModelSpec | None, dict[str, Any] | None, registry.InputValidationError | None]:
    """The first spec the input fits, else the error of the closest one."""
    best_error: registry.InputValidationError | None = None
    for spec in specs:
        try:
            return spec, registry.validate(spec, raw, strict_unknown=strict), None
        except registry.InputValidationError as exc:
            if best_error is None or len(exc.errors) < len(best_error.errors):
                best_error = exc
    return None, None, best_error


def _task_followups(model: str) -> list[registry.ModelSpec]:
    """Market follow-ups Kie makes from one of the caller's own earlier tasks (``input.task_id``: Grok Imagine
    extend and upscale). The catalog keeps them out of the create models: the studio reaches them from a result."""
    return [
        spec
        for spec in load_catalog()
        if spec.family == "market" and spec.followup_only and spec.model == model and "task_id" in spec.from_parent
    ]


def _earlier_video(sim: SimState, model: str, raw_input: dict[str, Any]) -> tuple[Task | None, Response | None]:
    """The finished video a task-id follow-up continues. Kie takes only a task it made itself, that succeeded, of the
    same model line ("只能扩展由Kie AI模型生成的视频"), and refuses anything else before charging."""
    task_id = raw_input.get("task_id")
    if not isinstance(task_id, str) or not task_id.strip():
        return None, error(sim, 422, "Invalid parameter 'input.task_id': task_id is required")
    if len(task_id) > 100:
        return None, error(sim, 422, "Invalid parameter 'input.task_id': must be at most 100 characters")
    parent = sim.get_task(task_id, "market")
    if parent is None:
        return None, error(sim, 422, "Invalid parameter 'input.task_id': record is empty")
    if parent.state(sim.now()) != "success":
        return None, error(sim, 422, "Invalid parameter 'input.task_id': record status is not success")
    line = model.split("/", 1)[0]
    if not (parent.model or "").startswith(line) or not any(item.kind == "video" for item in parent.outputs):
        return None, error(sim, 422, f"Invalid parameter 'input.task_id': the task is not a {line} video")
    return parent, None


async def create_task(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error(sim, 400, exc.message)
    model = body.get("model")
    note(request, model=model if isinstance(model, str) else None)
    if limited := guard_create(request):
        return limited
    raw_input = body.get("input")
    markers = parse(strings_in(raw_input))
    if fault := await apply_faults(request, "create", markers):
        return fault
    if not isinstance(model, str) or not model.strip():
        return error(sim, 422, "Invalid parameter 'model': model is required")
    if raw_input is None:
        raw_input = {}
    if not isinstance(raw_input, dict):
        return error(sim, 422, "Invalid parameter 'input': must be a JSON object")
    callback_url = body.get("callBackUrl")
    if callback_url is not None and not isinstance(callback_url, str):
        return error(sim, 422, "Invalid parameter 'callBackUrl': must be a URL string")
    specs = registry.market_specs(model)
    parent: Task | None = None
    if not specs and (specs := _task_followups(model)):
        parent, refused = _earlier_video(sim, model, raw_input)
        if refused:
            return refused
        raw_input = {name: value for name, value in raw_input.items() if name != "task_id"}
    if not specs:
        return error(sim, 422, f"Invalid parameter 'model': the model '{model}' is not supported")
    if refused := paused(sim, model):
        return refused
    spec, inputs, problem = _pick_spec(specs, raw_input, sim.config.strict_unknown_inputs)
    if spec is None or inputs is None:
        assert problem is not None
        return refusal(sim, registry.first_error(problem, "input."), field=registry.first_field(problem, "input."))
    credits = registry.credits_for(spec, inputs)
    if not charge(sim, credits):
        return insufficient(sim)

    prompt = _prompt(spec, raw_input)
    task = jobs.new_task(
        request,
        family="market",
        op="generate",
        model=model,
        body=body,
        prompt=prompt,
        callback_url=callback_url,
        typical_seconds=spec.typical_seconds,
        markers=markers,
        credits=credits,
        spec_key=spec.key,
    )
    text = strip(prompt) or spec.name
    subtitle = f"{SUBTITLE} · {model}"
    merged = {**raw_input, **inputs}
    if parent is not None:  # an extend or upscale keeps the shape of the video it continues
        merged = {**parent.extra.get("inputs", {}), **merged}
        task.extra["parent"] = parent.task_id
    if spec.output == "video":
        task.outputs = [
            jobs.video(sim, task.task_id, ratio=jobs.ratio_from(merged, "16:9"), text=text, subtitle=subtitle)
        ]
    elif spec.output == "audio":
        task.outputs = [jobs.audio(sim, task.task_id)]
    else:
        task.outputs = jobs.images(
            sim,
            task.task_id,
            jobs.count_from(merged),
            ext=jobs.image_ext(merged, "png"),
            ratio=jobs.ratio_from(merged),
            text=text,
            subtitle=subtitle,
        )
    task.extra["inputs"] = inputs
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _update_ms(task: Task, now: float) -> int:
    waiting, queuing, _ = task.phases
    marks = [0.0, waiting, waiting + queuing, task.total_seconds]
    elapsed = now - task.created_mono
    passed = max(m for m in marks if m <= max(elapsed, 0.0))
    return wall_ms(task.created_wall + passed)


def market_data(sim: SimState, task: Task, now: float, *, for_callback: bool = False) -> dict[str, Any]:
    state = task.state(now)
    empty = sim.config.fail_code_empty
    done = state in ("success", "fail")
    result: Any = None if for_callback else ""
    if state == "success":
        urls = [task.url(item) for item in task.outputs]
        payload: dict[str, Any] = {"resultUrls": urls}
        if (task.model or "").startswith("sora-2") and task.extra.get("inputs", {}).get("remove_watermark", True):
            payload["resultWaterMarkUrls"] = urls
        result = dumps(payload)
    fail_code: str | None
    fail_msg: str | None
    if state == "fail":
        assert task.fail is not None
        fail_code, fail_msg = task.fail
    else:
        fail_code = fail_msg = empty
    total_ms = round(task.total_seconds * 1000)
    cost = (total_ms if sim.config.cost_time_unit == "ms" else round(task.total_seconds)) if done else None
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "model": task.model,
        "state": state,
        "param": dumps(task.body),
        "resultJson": result,
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": cost,
        "completeTime": wall_ms(task.end_wall) if done else None,
        "createTime": wall_ms(task.created_wall),
    }
    if not for_callback:
        data["updateTime"] = _update_ms(task, now)
    if sim.config.include_credits_consumed:
        data["creditsConsumed"] = number(task.credits)
    return data


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
    task = sim.get_task(task_id, "market")
    if task is None:
        return error(sim, 404, "Task not found")
    note(request, model=task.model)
    return ok(sim, market_data(sim, task, sim.now()))


def _market_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    data = market_data(sim, task, task.end_mono, for_callback=True)
    if task.fail:
        return envelope(sim, 501, "Playground task failed.", data), task.task_id
    return envelope(sim, 200, "Playground task completed successfully.", data), task.task_id


callbacks.register("market", _market_callback)


async def credit(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    return ok(sim, number(sim.balance))


def is_sim_url(url: str) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return url.startswith(("http://", "https://")) and path.startswith(("/_sim/media/", "/_sim/files/"))


def signed(url: str) -> str:
    token = hashlib.sha256(url.encode()).hexdigest()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=1200&X-Amz-Signature={token}"


async def download_url(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error(sim, 400, exc.message)
    url = body.get("url")
    if not isinstance(url, str) or not url:
        return error(sim, 422, "Invalid parameter 'url': url is required")
    if not is_sim_url(url):
        return error(sim, 422, "Invalid parameter 'url': only files generated by kie.ai are supported")
    return ok(sim, signed(url))


routes = [
    Route("/api/v1/jobs/createTask", create_task, methods=["POST"]),
    Route("/api/v1/jobs/recordInfo", record_info, methods=["GET"]),
    Route("/api/v1/chat/credit", credit, methods=["GET"]),
    Route("/api/v1/common/download-url", download_url, methods=["POST"]),
]
