"""Suno music (contract 5.2 and 3.3): generate, extend, upload-cover/extend, add vocals/instrumental; the music
record and its staged callbacks (text, first track, complete)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import callbacks, jobs, registry, text
from ..common import dumps, envelope, error, fmt_datetime, ok, sim_of
from ..family import begin_create, pay, validate_family
from ..markers import Markers, strip
from ..media import MediaItem, digest
from ..state import SimState, Task
from .shared import (
    ADD_MODELS,
    DEFAULT_SECONDS,
    FIRST_AT,
    MODELS,
    MUSIC_OPS,
    TEXT_AT,
    check_model,
    generation_rules,
    music_credits,
    require,
    require_bools,
    snake_case,
)


def plan_music(
    sim: SimState,
    task: Task,
    parent_track: dict[str, Any] | None = None,
    *,
    count: int = 2,
    lyrics: str | None = None,
    seconds: float | None = None,
) -> None:
    """Plan ``count`` tracks (Suno makes two; a replaced section comes back as one track of the source's length)."""
    body = task.body
    rng = random.Random(digest("suno", sim.config.seed, task.task_id))
    instrumental = bool(body.get("instrumental"))
    prompt = strip(task.prompt)
    if lyrics is not None:
        lyrics = strip(lyrics)
    elif body.get("customMode") and not instrumental and prompt:
        lyrics = prompt
    elif instrumental:
        lyrics = ""
    else:
        lyrics = text.lyrics(rng, prompt or "song")
    title = body.get("title") or text.title(prompt or str(body.get("style") or "Untitled song"))
    tags = (
        body.get("style") or body.get("tags") or ", ".join(rng.sample(["pop", "dreamy", "upbeat", "lo-fi", "rock"], 2))
    )
    model = task.model or "V4_5"
    tracks = []
    outputs: list[MediaItem] = []
    for i in range(count):
        sound = jobs.audio(sim, task.task_id, index=i, seconds=seconds)
        outputs.append(sound)
        outputs.append(
            MediaItem(f"{2 + i}.jpeg", "image", 300, 300, text=title, subtitle="cover", key=f"{sound.key}:cover")
        )
        outputs.append(MediaItem(f"{4 + i}.wav", "audio", seconds=sound.seconds, key=sound.key))  # stream copy
        tracks.append(
            {
                "id": sim.uuid_for("track", task.task_id, i),
                "prompt": lyrics,
                "modelName": "chirp-" + model.lower().replace("_", "-"),
                "title": title,
                "tags": tags,
                "duration": sound.seconds,
                "audio": sound.name,
                "image": f"{2 + i}.jpeg",
                "stream": f"{4 + i}.wav",
            }
        )
    task.outputs = outputs
    task.extra["tracks"] = tracks
    task.extra["lyrics"] = lyrics
    task.extra["parent_track"] = parent_track


def music_task(
    request: Request,
    body: dict[str, Any],
    markers: Markers,
    *,
    op: str,
    model: str,
    parent: dict[str, Any] | None,
    spec: registry.ModelSpec | None = None,
    credits: Decimal | None = None,
) -> Task:
    sim = sim_of(request)
    spec = spec or registry.family_spec("suno", model)
    credits = music_credits(sim, model, body) if credits is None else credits
    task = jobs.new_task(
        request,
        family="suno",
        op=op,
        model=model,
        body=body,
        prompt=str(body.get("prompt") or ""),
        callback_url=body.get("callBackUrl"),
        typical_seconds=spec.typical_seconds if spec else DEFAULT_SECONDS,
        markers=markers,
        credits=credits,
        spec_key=spec.key if spec else None,
    )
    plan_music(sim, task, parent)
    return task


def find_track(sim: SimState, audio_id: str) -> tuple[Task, dict[str, Any], int] | None:
    for task in sim.tasks.values():
        if task.family == "suno" and task.op in MUSIC_OPS:
            for index, track in enumerate(task.extra.get("tracks", [])):
                if track["id"] == audio_id:
                    return task, track, index
    return None


async def _music_create(request: Request, op: str) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    required = {
        "generate": ("callBackUrl",),
        "extend": ("audioId", "callBackUrl"),
        "upload_cover": ("uploadUrl", "callBackUrl"),
        "upload_extend": ("uploadUrl", "callBackUrl"),
        "add_vocals": ("uploadUrl", "title", "negativeTags", "style", "prompt"),
        "add_instrumental": ("uploadUrl", "title", "negativeTags", "tags"),
    }[op]
    default_model = "V4_5PLUS" if op in ("add_vocals", "add_instrumental") else None
    model = body.get("model") or default_model
    if bad := check_model(sim, model, ADD_MODELS if op in ("add_vocals", "add_instrumental") else MODELS):
        return bad
    assert isinstance(model, str)  # check_model refused anything else
    if missing := require(sim, body, *required):
        return missing
    parent = None
    if op == "generate":
        if bad := require_bools(sim, body, "customMode", "instrumental"):
            return bad
        spec, _, invalid = validate_family(sim, "suno", body, model=model)
        if invalid:
            return invalid
    if op in ("generate", "upload_cover"):
        if op == "upload_cover" and (bad := require_bools(sim, body, "customMode", "instrumental")):
            return bad
        if bad := generation_rules(sim, body):
            return bad
    if op in ("extend", "upload_extend") and (bad := require_bools(sim, body, "defaultParamFlag")):
        return bad
    if op == "extend":
        found = find_track(sim, str(body["audioId"]))
        if found is None:
            return error(sim, 422, "Invalid parameter 'audioId': no such track")
        parent = found[1]
    if refused := pay(sim, music_credits(sim, model, body)):
        return refused
    task = music_task(request, body, markers, op=op, model=model, parent=parent)
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


async def generate(request: Request) -> Response:
    return await _music_create(request, "generate")


async def extend(request: Request) -> Response:
    return await _music_create(request, "extend")


async def upload_cover(request: Request) -> Response:
    return await _music_create(request, "upload_cover")


async def upload_extend(request: Request) -> Response:
    return await _music_create(request, "upload_extend")


async def add_vocals(request: Request) -> Response:
    return await _music_create(request, "add_vocals")


async def add_instrumental(request: Request) -> Response:
    return await _music_create(request, "add_instrumental")


def music_status(task: Task, now: float) -> str:
    state = task.state(now)
    if state == "fail":
        assert task.fail is not None
        return "SENSITIVE_WORD_ERROR" if task.fail[0] == "400" else "GENERATE_AUDIO_FAILED"
    if state == "success":
        return "SUCCESS"
    fraction = (now - task.created_mono) / task.total_seconds if task.total_seconds else 1.0
    if fraction >= FIRST_AT:
        return "FIRST_SUCCESS"
    if fraction >= TEXT_AT:
        return "TEXT_SUCCESS"
    return "PENDING"


def _tracks(task: Task, status: str, *, snake: bool) -> list[dict[str, Any]]:
    items = []
    for index, track in enumerate(task.extra["tracks"]):
        ready = status == "SUCCESS" or (status == "FIRST_SUCCESS" and index == 0)
        item = {
            "id": track["id"],
            "audioUrl": task.url(task.output(track["audio"])) if ready else "",
            "streamAudioUrl": task.url(task.output(track["stream"])),
            "imageUrl": task.url(task.output(track["image"])) if ready else "",
            "prompt": track["prompt"],
            "modelName": track["modelName"],
            "title": track["title"],
            "tags": track["tags"],
            "createTime": fmt_datetime(task.created_wall),
            "duration": track["duration"] if ready else None,
        }
        items.append({snake_case(k): v for k, v in item.items()} if snake else item)
    return items


def music_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = music_status(task, now)
    failed = task.state(now) == "fail" and task.fail is not None
    response = None
    if status in ("TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"):
        response = {"taskId": task.task_id, "sunoData": _tracks(task, status, snake=False)}
    parent = task.extra.get("parent_track")
    return {
        "taskId": task.task_id,
        "parentMusicId": parent["id"] if parent else "",
        "param": dumps(task.body),
        "response": response,
        "status": status,
        "type": task.op.upper(),
        "operationType": task.op,
        "errorCode": int(task.fail[0]) if failed and task.fail and task.fail[0].isdigit() else None,
        "errorMessage": task.fail[1] if failed and task.fail else None,
    }


def _music_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        code = int(task.fail[0]) if task.fail[0] in ("400", "408", "413", "531") else 501
        data: dict[str, Any] = {"callbackType": "error", "task_id": task.task_id, "data": None}
        return envelope(sim, code, task.fail[1], data), task.task_id
    status = {"text": "TEXT_SUCCESS", "first": "FIRST_SUCCESS", "complete": "SUCCESS"}[stage]
    message = {
        "text": "Text generation completed.",
        "first": "First track generated successfully.",
        "complete": "All generated successfully.",
    }[stage]
    data = {"callbackType": stage, "task_id": task.task_id, "data": _tracks(task, status, snake=True)}
    return envelope(sim, 200, message, data), task.task_id


def _music_stages(task: Task) -> list[tuple[float, str]]:
    return [(TEXT_AT, "text"), (FIRST_AT, "first"), (1.0, "complete")]


for _op in MUSIC_OPS:
    callbacks.register(f"suno:{_op}", _music_callback, _music_stages)
# A replaced section calls back once, when it is complete (Kie's replace-section callback page).
callbacks.register("suno:replace_section", _music_callback, lambda task: [(1.0, "complete")])
