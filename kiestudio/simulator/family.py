"""Shared steps of the per-family create endpoints (Veo, Suno, 4o Image, Flux Kontext, Runway, Aleph)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import jobs, registry
from .common import (
    BadRequest,
    apply_faults,
    charge,
    check_auth,
    error,
    guard_create,
    guard_read,
    insufficient,
    note,
    ok,
    read_json,
    refusal,
    sim_of,
    task_id_param,
)
from .markers import Markers, parse, strings_in
from .state import SimState, Task

#: Body keys that mean the same thing (contract 5.1: ``aspect_ratio`` vs ``aspectRatio``).
ALIASES = (("aspect_ratio", "aspectRatio"), ("waterMark", "watermark"))
NOT_INPUTS = frozenset({"callBackUrl", "model", "progressCallBackUrl"})


@dataclass
class Accepted:
    body: dict[str, Any]
    markers: Markers
    spec: registry.ModelSpec | None
    inputs: dict[str, Any]
    credits: Decimal


def normalise_aliases(spec: registry.ModelSpec | None, body: dict[str, Any]) -> dict[str, Any]:
    raw = dict(body)
    if spec is None:
        return raw
    for a, b in ALIASES:
        for want, other in ((a, b), (b, a)):
            if spec.has_field(want) and want not in raw and other in raw:
                raw[want] = raw[other]
    return raw


async def begin_create(request: Request) -> tuple[dict[str, Any] | None, Markers | None, Response | None]:
    """Auth, JSON body, create rate limit, faults. Returns (body, markers, early response)."""
    sim: SimState = request.app.state.sim
    if denied := check_auth(request):
        return None, None, denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return None, None, error(sim, 400, exc.message)
    model = body.get("model")
    note(request, model=model if isinstance(model, str) else None)
    if limited := guard_create(request):
        return None, None, limited
    markers = parse(strings_in({k: v for k, v in body.items() if k not in NOT_INPUTS}))
    if fault := await apply_faults(request, "create", markers):
        return None, None, fault
    callback = body.get("callBackUrl")
    if callback is not None and not isinstance(callback, str):
        return None, None, error(sim, 422, "Invalid parameter 'callBackUrl': must be a URL string")
    return body, markers, None


def validate_family(
    sim: SimState,
    family: str,
    body: dict[str, Any],
    *,
    model: str | None,
    required: tuple[str, ...] = (),
) -> tuple[registry.ModelSpec | None, dict[str, Any], Response | None]:
    """Catalog validation of a family body (top-level camelCase fields); keys no variant knows are ignored.

    A family model can have several catalog variants (text / image input): the one that validates and
    understands most of the body's keys wins; when none validates, the closest one's first error is told.
    """
    for name in required:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, {}, error(sim, 422, f"Invalid parameter '{name}': {name} is required")
    specs = registry.family_specs(family, model)
    if not specs:
        if model is not None and registry.family_models(family):
            return None, {}, error(sim, 422, f"Invalid parameter 'model': '{model}' is not supported")
        return None, {k: v for k, v in body.items() if k not in NOT_INPUTS}, None
    best: tuple[int, int, registry.ModelSpec, dict[str, Any]] | None = None
    closest: tuple[int, int, registry.InputValidationError] | None = None
    for spec in specs:
        raw = normalise_aliases(spec, body)
        raw = {k: v for k, v in raw.items() if k not in NOT_INPUTS and spec.has_field(k)}
        try:
            inputs = registry.validate(spec, raw, strict_unknown=False)
        except registry.InputValidationError as exc:
            rank = (len(raw), -len(exc.errors))
            if closest is None or rank > closest[:2]:
                closest = (*rank, exc)
            continue
        if best is None or len(raw) > best[0]:
            best = (len(raw), 0, spec, inputs)
    if best is None:
        assert closest is not None
        return None, {}, refusal(sim, registry.first_error(closest[2]), field=registry.first_field(closest[2]))
    return best[2], best[3], None


def pay(sim: SimState, credits: Decimal) -> Response | None:
    return None if charge(sim, credits) else insufficient(sim)


def priced_task(
    request: Request,
    family: str,
    spec: registry.ModelSpec | None,
    inputs: dict[str, Any],
    body: dict[str, Any],
    markers: Markers,
    *,
    model: str | None,
    prompt: str,
    default_seconds: float,
    op: str = "generate",
) -> Task | Response:
    """Charge the catalog price of ``inputs`` and make the task, or answer the refusal when it can't be paid.

    Without a catalog ``spec`` the task is free and takes ``default_seconds``.
    """
    credits = registry.credits_for(spec, inputs) if spec else Decimal(0)
    if refused := pay(sim_of(request), credits):
        return refused
    return jobs.new_task(
        request,
        family=family,
        op=op,
        model=model,
        body=body,
        prompt=prompt,
        callback_url=body.get("callBackUrl"),
        typical_seconds=spec.typical_seconds if spec else default_seconds,
        markers=markers,
        credits=credits,
        spec_key=spec.key if spec else None,
    )


async def prompted_task(
    request: Request, family: str, *, default_model: str, default_seconds: float
) -> tuple[Task, dict[str, Any]] | Response:
    """Create a task of a family whose body has a ``model`` (``default_model`` when absent) and a required
    ``prompt`` (Veo, Flux Kontext): begin, validate, charge. Returns the task and its clean inputs, or the refusal."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    model = body.get("model") or default_model
    if not isinstance(model, str):
        return error(sim, 422, "Invalid parameter 'model': must be a string")
    spec, inputs, invalid = validate_family(sim, family, body, model=model, required=("prompt",))
    if invalid:
        return invalid
    prompt = str(body["prompt"])  # validated: present and not blank
    task = priced_task(
        request, family, spec, inputs, body, markers, model=model, prompt=prompt, default_seconds=default_seconds
    )
    return task if isinstance(task, Response) else (task, inputs)


def record_endpoint(
    family: str,
    render: Callable[[SimState, Task, float], Any],
    *,
    ops: tuple[str, ...] | None = None,
    missing: tuple[int, str] = (404, "Task not found"),
) -> Callable[[Request], Awaitable[Response]]:
    """A ``GET …?taskId=`` endpoint answering ``render(sim, task, now)`` for tasks of ``family`` (and ``ops``)."""

    async def endpoint(request: Request) -> Response:
        sim = sim_of(request)
        if denied := check_auth(request):
            return denied
        task_id = task_id_param(request)
        note(request, task_id=task_id)
        if limited := await guard_read(request):
            return limited
        if not task_id:
            return error(sim, 400, "taskId parameter is required")
        task = sim.get_task(task_id, family)
        if task is None or (ops is not None and task.op not in ops):
            return error(sim, missing[0], missing[1])
        note(request, model=task.model)
        return ok(sim, render(sim, task, sim.now()))

    return endpoint
