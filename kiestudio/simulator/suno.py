"""Suno family (contract 5.2 and 3.3): music, extend/cover/add-*, mashup, replace section, lyrics, WAV, stems, MIDI,
MP4, cover art, personas and style boost."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiestudio.kie.catalog import load_catalog

from . import callbacks, jobs, registry, text
from .common import (
    BadRequest,
    check_auth,
    dumps,
    envelope,
    error,
    fmt_datetime,
    note,
    ok,
    read_json,
    sim_of,
    wall_ms,
)
from .family import begin_create, pay, record_endpoint, validate_family
from .markers import Markers, strip
from .media import MediaItem, digest
from .state import SimState, Task

MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
ADD_MODELS = ("V4_5PLUS", "V5", "V5_5")
MUSIC_OPS = (
    "generate",
    "extend",
    "upload_cover",
    "upload_extend",
    "add_vocals",
    "add_instrumental",
    "mashup",
    "replace_section",
)
#: Music a persona can be made from (Kie's persona page: the task ids of generate and extend).
PERSONA_SOURCES = ("generate", "extend")
#: Suno, Boost Music Style Boost: $0.002 per request in Kie's table.
STYLE_BOOST_CREDITS = Decimal("0.4")
#: A replaced section is 6 to 60 seconds long (Kie's replace-section page).
SECTION_SECONDS = (6.0, 60.0)
DEFAULT_SECONDS = 120
# Fractions of the task's duration at which the staged states / callbacks happen (contract 3.3).
TEXT_AT, FIRST_AT = 0.3, 0.6
STEMS = (
    ("vocalUrl", "Vocals"),
    ("backingVocalsUrl", "Backing Vocals"),
    ("drumsUrl", "Drums"),
    ("bassUrl", "Bass"),
    ("guitarUrl", "Guitar"),
    ("keyboardUrl", "Keyboard"),
    ("stringsUrl", "Strings"),
    ("synthUrl", "Synth"),
)
ALL_STEM_KEYS = (
    "instrumentalUrl",
    "vocalUrl",
    "backingVocalsUrl",
    "drumsUrl",
    "bassUrl",
    "guitarUrl",
    "pianoUrl",
    "keyboardUrl",
    "percussionUrl",
    "stringsUrl",
    "synthUrl",
    "fxUrl",
    "brassUrl",
    "woodwindsUrl",
)


def _snake(name: str) -> str:
    if name == "createTime":  # the callback items keep this one camelCase (contract 3.3)
        return name
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _require(sim: SimState, body: dict[str, Any], *names: str) -> Response | None:
    for name in names:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return error(sim, 422, f"Invalid parameter '{name}': {name} is required")
    return None


def _require_bools(sim: SimState, body: dict[str, Any], *names: str) -> Response | None:
    for name in names:
        if not isinstance(body.get(name), bool):
            return error(sim, 422, f"Invalid parameter '{name}': must be true or false")
    return None


def _check_model(sim: SimState, model: Any, allowed: tuple[str, ...] = MODELS) -> Response | None:
    if not isinstance(model, str) or not model:
        return error(sim, 422, "Invalid parameter 'model': model is required")
    if model not in allowed:
        return error(sim, 422, f"Invalid parameter 'model': choose one of {', '.join(allowed)}")
    return None


def _generation_rules(sim: SimState, body: dict[str, Any]) -> Response | None:
    """customMode rules and length limits of contract 5.2."""
    model = body.get("model")
    prompt = body.get("prompt") or ""
    style = body.get("style") or ""
    title = body.get("title") or ""
    if not all(isinstance(v, str) for v in (prompt, style, title)):
        return error(sim, 422, "Invalid parameter 'prompt': prompt, style and title must be strings")
    if body.get("customMode"):
        if missing := _require(sim, body, "style", "title"):
            return missing
        if not body.get("instrumental") and (missing := _require(sim, body, "prompt")):
            return missing
    else:
        if missing := _require(sim, body, "prompt"):
            return missing
        if len(prompt) > 500:
            return error(sim, 422, "Invalid parameter 'prompt': at most 500 characters when customMode is false")
    prompt_limit = 3000 if model == "V4" else 5000
    style_limit = 200 if model == "V4" else 1000
    if len(prompt) > prompt_limit:
        return error(sim, 422, f"Invalid parameter 'prompt': at most {prompt_limit} characters for {model}")
    if len(style) > style_limit:
        return error(sim, 422, f"Invalid parameter 'style': at most {style_limit} characters for {model}")
    if len(title) > 80:
        return error(sim, 422, "Invalid parameter 'title': at most 80 characters")
    for name in ("styleWeight", "weirdnessConstraint", "audioWeight"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            return error(sim, 422, f"Invalid parameter '{name}': must be a number from 0 to 1")
    if body.get("vocalGender") not in (None, "m", "f"):
        return error(sim, 422, "Invalid parameter 'vocalGender': choose one of m, f")
    return None


def _credits(sim: SimState, model: str, body: dict[str, Any]) -> Decimal:
    spec = registry.family_spec("suno", model)
    if spec is None:
        return Decimal(0)
    try:
        inputs = registry.validate(spec, {k: v for k, v in body.items() if spec.has_field(k)}, strict_unknown=False)
    except registry.InputValidationError:
        inputs = spec.defaults()
    return registry.credits_for(spec, inputs)


def _plan_music(
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


def _music_task(
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
    credits = _credits(sim, model, body) if credits is None else credits
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
    _plan_music(sim, task, parent)
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
    if bad := _check_model(sim, model, ADD_MODELS if op in ("add_vocals", "add_instrumental") else MODELS):
        return bad
    assert isinstance(model, str)  # _check_model refused anything else
    if missing := _require(sim, body, *required):
        return missing
    parent = None
    if op == "generate":
        if bad := _require_bools(sim, body, "customMode", "instrumental"):
            return bad
        spec, _, invalid = validate_family(sim, "suno", body, model=model)
        if invalid:
            return invalid
    if op in ("generate", "upload_cover"):
        if op == "upload_cover" and (bad := _require_bools(sim, body, "customMode", "instrumental")):
            return bad
        if bad := _generation_rules(sim, body):
            return bad
    if op in ("extend", "upload_extend") and (bad := _require_bools(sim, body, "defaultParamFlag")):
        return bad
    if op == "extend":
        found = find_track(sim, str(body["audioId"]))
        if found is None:
            return error(sim, 422, "Invalid parameter 'audioId': no such track")
        parent = found[1]
    if refused := pay(sim, _credits(sim, model, body)):
        return refused
    task = _music_task(request, body, markers, op=op, model=model, parent=parent)
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
        items.append({_snake(k): v for k, v in item.items()} if snake else item)
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


# ---------------------------------------------------------------------------------------------- lyrics


async def lyrics(request: Request) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    if missing := _require(sim, body, "prompt"):
        return missing
    if not isinstance(body["prompt"], str) or len(body["prompt"]) > 200:
        return error(sim, 422, "Invalid parameter 'prompt': must be text of at most 200 characters")
    credits = registry.EXTRA_CREDITS["lyrics"]
    if refused := pay(sim, credits):
        return refused
    task = jobs.new_task(
        request,
        family="suno",
        op="lyrics",
        model=None,
        body=body,
        prompt=body["prompt"],
        callback_url=body.get("callBackUrl"),
        typical_seconds=registry.EXTRA_SECONDS["lyrics"],
        markers=markers,
        credits=credits,
    )
    rng = random.Random(digest("lyrics", sim.config.seed, task.task_id))
    prompt = strip(body["prompt"])
    task.extra["variants"] = [
        {"text": text.lyrics(rng, prompt), "title": text.title(prompt) + suffix} for suffix in ("", " (Reprise)")
    ]
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _lyric_items(task: Task, *, snake: bool) -> list[dict[str, Any]]:
    key = "error_message" if snake else "errorMessage"
    return [{"text": v["text"], "title": v["title"], "status": "complete", key: ""} for v in task.extra["variants"]]


def _simple_status(task: Task, now: float, failed_status: str) -> str:
    state = task.state(now)
    return {"success": "SUCCESS", "fail": failed_status}.get(state, "PENDING")


def lyrics_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = _simple_status(task, now, "GENERATE_LYRICS_FAILED")
    failed = task.fail if status == "GENERATE_LYRICS_FAILED" else None
    return {
        "taskId": task.task_id,
        "param": dumps(task.body),
        "response": {"taskId": task.task_id, "data": _lyric_items(task, snake=False)} if status == "SUCCESS" else None,
        "status": status,
        "errorCode": int(failed[0]) if failed and failed[0].isdigit() else None,
        "errorMessage": failed[1] if failed else None,
    }


def _lyrics_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        data: dict[str, Any] = {"callbackType": "error", "task_id": task.task_id, "data": None}
        return envelope(sim, 501, task.fail[1], data), task.task_id
    data = {"callbackType": "complete", "task_id": task.task_id, "data": _lyric_items(task, snake=True)}
    return envelope(sim, 200, "All generated successfully.", data), task.task_id


callbacks.register("suno:lyrics", _lyrics_callback)


# ------------------------------------------------------------------------------ timestamped lyrics


async def timestamped_lyrics(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error(sim, 400, exc.message)
    if missing := _require(sim, body, "taskId", "audioId"):
        return missing
    note(request, task_id=str(body["taskId"]))
    task = sim.get_task(str(body["taskId"]), "suno")
    if task is None or task.op not in MUSIC_OPS:
        return error(sim, 404, "Task not found")
    track = next((t for t in task.extra["tracks"] if t["id"] == body["audioId"]), None)
    if track is None:
        return error(sim, 422, "Invalid parameter 'audioId': no such track in this task")
    if task.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    if refused := pay(sim, registry.EXTRA_CREDITS["timestamped_lyrics"]):  # Kie charges each request
        return refused
    words = track["prompt"].split()
    duration = float(track["duration"])
    step = duration / max(1, len(words))
    aligned = [
        {"word": word, "success": True, "startS": round(i * step, 2), "endS": round((i + 0.9) * step, 2), "palign": 0}
        for i, word in enumerate(words)
    ]
    d = digest("wave", track["id"])
    waveform = [round((d[i % len(d)] % 100) / 100, 2) for i in range(64)]
    return ok(sim, {"alignedWords": aligned, "waveformData": waveform, "hootCer": 0.25, "isStreamed": False})


# --------------------------------------------------------------------------- WAV / stems / MIDI / MP4


async def _derived_create(request: Request, op: str) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    required = {
        "wav": ("taskId", "audioId", "callBackUrl"),
        "vocal_removal": ("taskId", "audioId", "callBackUrl"),
        "midi": ("taskId", "callBackUrl"),
        "mp4": ("taskId", "audioId"),
    }[op]
    if missing := _require(sim, body, *required):
        return missing
    source = sim.get_task(str(body["taskId"]), "suno")
    allowed_sources = MUSIC_OPS + (("vocal_removal",) if op == "midi" else ())
    if source is None or source.op not in allowed_sources:
        return error(sim, 404, "Task not found")
    if source.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    track: dict[str, Any] | None = None
    index = 0
    if source.op in MUSIC_OPS and body.get("audioId") is not None:
        ids = [candidate["id"] for candidate in source.extra["tracks"]]
        if body["audioId"] not in ids:
            return error(sim, 422, "Invalid parameter 'audioId': no such track in this task")
        index = ids.index(body["audioId"])
        track = source.extra["tracks"][index]
    separation = body.get("type") or "separate_vocal"
    if op == "vocal_removal" and separation not in ("separate_vocal", "split_stem"):
        return error(sim, 422, "Invalid parameter 'type': choose one of separate_vocal, split_stem")
    credits = registry.EXTRA_CREDITS[separation if op == "vocal_removal" else op]
    if refused := pay(sim, credits):
        return refused
    task = jobs.new_task(
        request,
        family="suno",
        op=op,
        model=source.model,
        body=body,
        prompt=source.prompt,
        callback_url=body.get("callBackUrl"),
        typical_seconds=registry.EXTRA_SECONDS[op],
        markers=markers,
        credits=credits,
    )
    task.extra.update(source=source.task_id, track=track, music_index=index, separation=separation)
    base_key = f"{sim.config.seed}:{source.task_id}:{index}"
    seconds = float(track["duration"]) if track else sim.config.audio_seconds
    if op == "wav":
        task.outputs = [MediaItem("0.wav", "audio", seconds=seconds, key=base_key)]
    elif op == "vocal_removal":
        stems = [("instrumentalUrl", "Instrumental"), ("vocalUrl", "Vocals")]
        if separation == "split_stem":
            stems = list(STEMS)
        task.outputs = [
            MediaItem(f"{n}.wav", "audio", seconds=seconds, key=f"{base_key}:{name}")
            for n, (_, name) in enumerate(stems)
        ]
        task.extra["stems"] = [
            {"field": field, "name": name, "id": sim.uuid_for("stem", task.task_id, n)}
            for n, (field, name) in enumerate(stems)
        ]
    elif op == "mp4":
        title = track["title"] if track else "Music video"
        task.outputs = [jobs.video(sim, task.task_id, ratio="16:9", text=title, subtitle=str(body.get("author") or ""))]
    elif op == "midi":
        task.extra["instruments"] = _instruments(sim, task.task_id, seconds)
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _instruments(sim: SimState, task_id: str, seconds: float) -> list[dict[str, Any]]:
    rng = random.Random(digest("midi", sim.config.seed, task_id))
    instruments = []
    for name, low, high in (("Drums", 35, 81), ("Electric Bass (finger)", 28, 55), ("Acoustic Grand Piano", 48, 84)):
        notes = []
        t = 0.0
        while t < seconds:
            length = rng.choice((0.125, 0.25, 0.5))
            notes.append(
                {"pitch": rng.randint(low, high), "start": round(t, 4), "end": round(t + length, 4), "velocity": 1}
            )
            t += length
        instruments.append({"name": name, "notes": notes})
    return instruments


async def wav_generate(request: Request) -> Response:
    return await _derived_create(request, "wav")


async def vocal_removal_generate(request: Request) -> Response:
    return await _derived_create(request, "vocal_removal")


async def midi_generate(request: Request) -> Response:
    return await _derived_create(request, "midi")


async def mp4_generate(request: Request) -> Response:
    return await _derived_create(request, "mp4")


def _music_id(task: Task) -> str | None:
    track = task.extra.get("track")
    return track["id"] if track else task.body.get("audioId")


def wav_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = _simple_status(task, now, "GENERATE_WAV_FAILED")
    done = status != "PENDING"
    return {
        "taskId": task.task_id,
        "musicId": _music_id(task),
        "callbackUrl": task.callback_url,
        "musicIndex": task.extra["music_index"],
        "completeTime": fmt_datetime(task.end_wall) if done else None,
        "response": {"audioWavUrl": task.url(task.outputs[0])} if status == "SUCCESS" else None,
        "successFlag": status,
        "createTime": fmt_datetime(task.created_wall),
        "errorCode": int(task.fail[0]) if status != "SUCCESS" and done and task.fail else None,
        "errorMessage": task.fail[1] if status != "SUCCESS" and done and task.fail else None,
    }


def _stem_urls(task: Task) -> dict[str, str | None]:
    urls: dict[str, str | None] = dict.fromkeys(ALL_STEM_KEYS)
    for item, stem in zip(task.outputs, task.extra["stems"], strict=True):
        urls[stem["field"]] = task.url(item)
    return urls


def vocal_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = _simple_status(task, now, "GENERATE_AUDIO_FAILED")
    done = status != "PENDING"
    response = None
    if status == "SUCCESS":
        origin = [
            {
                "duration": item.seconds,
                "audio_url": task.url(item),
                "stem_type_group_name": stem["name"],
                "id": stem["id"],
            }
            for item, stem in zip(task.outputs, task.extra["stems"], strict=True)
        ]
        response = {"id": None, "originUrl": None, "originData": origin, **_stem_urls(task)}
    return {
        "taskId": task.task_id,
        "musicId": _music_id(task),
        "callbackUrl": task.callback_url,
        "musicIndex": task.extra["music_index"],
        "completeTime": wall_ms(task.end_wall) if done else None,
        "response": response,
        "successFlag": status,
        "createTime": wall_ms(task.created_wall),
        "errorCode": int(task.fail[0]) if status != "SUCCESS" and done and task.fail else None,
        "errorMessage": task.fail[1] if status != "SUCCESS" and done and task.fail else None,
    }


def midi_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    flag = {"success": 1, "fail": 3}.get(state, 0)
    return {
        "taskId": task.task_id,
        "recordTaskId": -1,
        "audioId": task.body.get("audioId"),
        "callbackUrl": task.callback_url,
        "completeTime": wall_ms(task.end_wall) if state in ("success", "fail") else None,
        "midiData": {"state": "complete", "instruments": task.extra["instruments"]} if state == "success" else None,
        "successFlag": flag,
        "createTime": wall_ms(task.created_wall),
        "errorCode": task.fail[0] if state == "fail" and task.fail else None,
        "errorMessage": task.fail[1] if state == "fail" and task.fail else None,
    }


def mp4_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = _simple_status(task, now, "GENERATE_MP4_FAILED")
    done = status != "PENDING"
    return {
        "taskId": task.task_id,
        "musicId": _music_id(task),
        "callbackUrl": task.callback_url,
        "musicIndex": task.extra["music_index"],
        "completeTime": fmt_datetime(task.end_wall) if done else None,
        "response": {"videoUrl": task.url(task.outputs[0])} if status == "SUCCESS" else None,
        "successFlag": status,
        "createTime": fmt_datetime(task.created_wall),
        "errorCode": int(task.fail[0]) if status != "SUCCESS" and done and task.fail else None,
        "errorMessage": task.fail[1] if status != "SUCCESS" and done and task.fail else None,
    }


def _wav_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        return envelope(sim, 501, task.fail[1], {"audio_wav_url": None, "task_id": task.task_id}), task.task_id
    data = {"audio_wav_url": task.url(task.outputs[0]), "task_id": task.task_id}
    return envelope(sim, 200, "success", data), task.task_id


def _vocal_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        return envelope(sim, 501, task.fail[1], {"task_id": task.task_id, "vocal_removal_info": None}), task.task_id
    info: dict[str, Any] = {"origin_url": ""}
    for field, url in _stem_urls(task).items():
        if url is not None:
            info[_snake(field)] = url
    data = {"task_id": task.task_id, "vocal_removal_info": info}
    return envelope(sim, 200, "vocal Removal generated successfully.", data), task.task_id


def _midi_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        return envelope(sim, 500, "MIDI generation failed", {"taskId": task.task_id}), task.task_id
    data = {"taskId": task.task_id, "state": "complete", "instruments": task.extra["instruments"]}
    return envelope(sim, 200, "success", data), task.task_id


def _mp4_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        return envelope(sim, 501, task.fail[1], {"task_id": task.task_id, "video_url": None}), task.task_id
    data = {"task_id": task.task_id, "video_url": task.url(task.outputs[0])}
    return envelope(sim, 200, "MP4 generated successfully.", data), task.task_id


callbacks.register("suno:wav", _wav_callback)
callbacks.register("suno:vocal_removal", _vocal_callback)
callbacks.register("suno:midi", _midi_callback)
callbacks.register("suno:mp4", _mp4_callback)

# ------------------------------------------------------------------------- mashup and replace section


def _catalog_entry(key: str) -> registry.ModelSpec:
    """Our catalog's entry for an operation (its typical duration and Kie's price)."""
    return load_catalog().get(key)


async def mashup(request: Request) -> Response:
    """Two uploaded tracks blended into new music: Suno's music task, record and callbacks."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    model = body.get("model")
    if bad := _check_model(sim, model):
        return bad
    assert isinstance(model, str)  # _check_model refused anything else
    if missing := _require(sim, body, "callBackUrl"):
        return missing
    urls = body.get("uploadUrlList")
    if not (
        isinstance(urls, list)
        and len(urls) == 2
        and all(isinstance(url, str) and url.startswith(("http://", "https://")) for url in urls)
    ):
        return error(sim, 422, "Invalid parameter 'uploadUrlList': give exactly 2 audio file URLs")
    if bad := _require_bools(sim, body, "customMode"):
        return bad
    if body.get("instrumental") is not None and not isinstance(body["instrumental"], bool):
        return error(sim, 422, "Invalid parameter 'instrumental': must be true or false")
    # Kie takes every Suno model here; the catalog's one entry holds the field rules.
    spec, inputs, invalid = validate_family(sim, "suno_mashup", body, model=None)
    if invalid:
        return invalid
    if bad := _generation_rules(sim, body):
        return bad
    credits = registry.credits_for(spec, inputs) if spec else Decimal(0)
    if refused := pay(sim, credits):
        return refused
    task = _music_task(request, body, markers, op="mashup", model=model, parent=None, spec=spec, credits=credits)
    task.extra["sources"] = list(urls)
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def replace_section(request: Request) -> Response:
    """Seconds ``infillStartS``–``infillEndS`` of a finished track sung anew; one track back, the source's length."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    required = ("taskId", "audioId", "prompt", "tags", "title", "infillStartS", "infillEndS", "fullLyrics")
    if missing := _require(sim, body, *required):
        return missing
    for name in ("taskId", "audioId", "prompt", "tags", "title", "fullLyrics", "negativeTags"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return error(sim, 422, f"Invalid parameter '{name}': must be a string")
    start, end = _number(body["infillStartS"]), _number(body["infillEndS"])
    if start is None or start < 0:
        return error(sim, 422, "Invalid parameter 'infillStartS': must be a number of seconds, 0 or more")
    if end is None or end <= start:
        return error(sim, 422, "Invalid parameter 'infillEndS': must be a number of seconds after infillStartS")
    shortest, longest = SECTION_SECONDS
    if not shortest <= end - start <= longest:
        return error(sim, 422, "Invalid parameter 'infillEndS': the section must be 6 to 60 seconds long")
    source = sim.get_task(body["taskId"], "suno")
    if source is None or source.op not in MUSIC_OPS:
        return error(sim, 404, "Task not found")
    if source.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    track = next((t for t in source.extra["tracks"] if t["id"] == body["audioId"]), None)
    if track is None:
        return error(sim, 422, "Invalid parameter 'audioId': no such track in this task")
    if end > float(track["duration"]) + 0.01:
        return error(sim, 422, f"Invalid parameter 'infillEndS': the track is {track['duration']} seconds long")
    spec = _catalog_entry("suno/replace-section")
    credits = registry.credits_for(spec, {})
    if refused := pay(sim, credits):
        return refused
    task = jobs.new_task(
        request,
        family="suno",
        op="replace_section",
        model=source.model,
        body=body,
        prompt=body["prompt"],
        callback_url=body.get("callBackUrl"),
        typical_seconds=spec.typical_seconds,
        markers=markers,
        credits=credits,
        spec_key=spec.key,
    )
    task.extra["source"] = source.task_id
    _plan_music(sim, task, track, count=1, lyrics=body["fullLyrics"], seconds=float(track["duration"]))
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


# ---------------------------------------------------------------------------------------------- cover art


def _cover_source(sim: SimState, task_id: Any) -> Task | Response:
    source = sim.get_task(str(task_id), "suno")
    if source is None or source.op not in MUSIC_OPS:
        return error(sim, 404, "Task not found")
    if source.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    return source


async def cover_generate(request: Request) -> Response:
    """Two cover pictures for a music task. Kie draws them once per task: asking again is a 400 naming that task."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    if missing := _require(sim, body, "taskId"):
        return missing
    source = _cover_source(sim, body["taskId"])
    if isinstance(source, Response):
        return source
    done = next(
        (t for t in sim.tasks.values() if t.op == "cover_art" and t.extra.get("source") == source.task_id), None
    )
    if done is not None:
        return error(sim, 400, "This music already has a cover.", data={"taskId": done.task_id})
    spec = _catalog_entry("suno/cover-art")
    credits = registry.credits_for(spec, {})
    if refused := pay(sim, credits):
        return refused
    task = jobs.new_task(
        request,
        family="suno",
        op="cover_art",
        model=None,
        body=body,
        prompt=source.prompt,
        callback_url=body.get("callBackUrl"),
        typical_seconds=spec.typical_seconds,
        markers=markers,
        credits=credits,
        spec_key=spec.key,
    )
    title = source.extra["tracks"][0]["title"] if source.extra.get("tracks") else "Cover"
    side = sim.config.image_long_side
    task.outputs = [
        MediaItem(f"{n}.png", "image", side, side, text=title, subtitle=f"cover {n + 1}", key=f"{task.task_id}:{n}")
        for n in range(2)
    ]
    task.extra["source"] = source.task_id
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})


def _iso_ms(wall: float) -> str:
    """``2025-01-15T10:35:27.000Z``, the cover record's times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(wall))


def cover_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    state = task.state(now)
    flag = {"success": 1, "fail": 3, "generating": 2}.get(state, 0)  # 0 waiting, 2 drawing
    failed = state == "fail" and task.fail is not None
    return {
        "taskId": task.task_id,
        "parentTaskId": task.extra["source"],
        "callbackUrl": task.callback_url,
        "completeTime": _iso_ms(task.end_wall) if state in ("success", "fail") else None,
        "response": {"images": [task.url(item) for item in task.outputs]} if state == "success" else None,
        "successFlag": flag,
        "createTime": _iso_ms(task.created_wall),
        "errorCode": 500 if failed else (200 if state == "success" else None),
        "errorMessage": task.fail[1] if failed and task.fail else "",
    }


def _cover_callback(sim: SimState, task: Task, stage: str) -> tuple[dict[str, Any], str]:
    if task.fail:
        return envelope(sim, 501, task.fail[1], {"taskId": task.task_id, "images": None}), task.task_id
    data = {"taskId": task.task_id, "images": [task.url(item) for item in task.outputs]}
    return envelope(sim, 200, "success", data), task.task_id


callbacks.register("suno:cover_art", _cover_callback)


# ------------------------------------------------------------------------------- personas and style boost


async def generate_persona(request: Request) -> Response:
    """A persona from a finished generated (or extended) track, answered at once; one per track (409 after)."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None
    if missing := _require(sim, body, "taskId", "audioId", "name", "description"):
        return missing
    for name in ("taskId", "audioId", "name", "description"):
        if not isinstance(body[name], str):
            return error(sim, 422, f"Invalid parameter '{name}': must be a string")
    note(request, task_id=body["taskId"])
    source = sim.get_task(body["taskId"], "suno")
    if source is None or source.op not in MUSIC_OPS:
        return error(sim, 404, "Task not found")
    if source.op not in PERSONA_SOURCES:
        return error(sim, 422, "Invalid parameter 'taskId': a persona is made from generated or extended music")
    if source.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    if not any(track["id"] == body["audioId"] for track in source.extra["tracks"]):
        return error(sim, 422, "Invalid parameter 'audioId': no such track in this task")
    personas = source.extra.setdefault("personas", {})
    if body["audioId"] in personas:
        return error(sim, 409, "A persona already exists for this music")
    persona = {
        "personaId": sim.next_hash("persona")[:32],
        "name": strip(body["name"]),
        "description": strip(body["description"]),
    }
    personas[body["audioId"]] = persona
    return ok(sim, persona)


def _boosted(rng: random.Random, style: str) -> str:
    """A fuller, conversational style description grown from a short one (what Kie's style boost does)."""
    moods = ("warm and intimate", "bright and euphoric", "moody and cinematic", "laid-back and hazy")
    openings = ("a soft, breathy intro", "a lone pulsing synth", "fingerpicked guitar and room noise", "muted keys")
    builds = ("a rolling bassline and crisp, swung drums", "layered pads that swell into the chorus")
    details = ("airy backing harmonies", "tape-saturated textures", "a hook that lifts in the last chorus")
    core = style.strip().rstrip(".")
    return (
        f"{core[:1].upper()}{core[1:]}, {rng.choice(moods)}: open with {rng.choice(openings)}, "
        f"then bring in {rng.choice(builds)}, finished with {rng.choice(details)}."
    )


async def style_generate(request: Request) -> Response:
    """Kie's style boost: a short style description answered at once with a richer one (charged per request)."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    content = body.get("content")
    if not isinstance(content, str) or not content.strip():
        return error(sim, 422, "Invalid parameter 'content': content is required")
    task_id = sim.next_hash("style")[:32]
    note(request, task_id=task_id)
    answer: dict[str, Any] = {
        "taskId": task_id,
        "param": dumps(body),
        "result": None,
        "creditsConsumed": 0,
        "creditsRemaining": None,
        "successFlag": "2",
        "errorCode": None,
        "errorMessage": None,
        "createTime": fmt_datetime(time.time()),
    }
    if markers.fail:
        # A failed boost is not charged; the answer still comes back as a success envelope with the flag set.
        code, message = markers.fail
        answer.update(errorCode=int(code) if code.isdigit() else 500, errorMessage=message)
        answer["creditsRemaining"] = float(sim.balance)
        return ok(sim, answer)
    if refused := pay(sim, STYLE_BOOST_CREDITS):
        return refused
    rng = random.Random(digest("style", sim.config.seed, content))
    answer.update(
        result=_boosted(rng, strip(content)),
        creditsConsumed=float(STYLE_BOOST_CREDITS),
        creditsRemaining=float(sim.balance),
        successFlag="1",
    )
    return ok(sim, answer)


routes = [
    Route("/api/v1/generate", generate, methods=["POST"]),
    Route("/api/v1/generate/record-info", record_endpoint("suno", music_data, ops=MUSIC_OPS), methods=["GET"]),
    Route("/api/v1/generate/extend", extend, methods=["POST"]),
    Route("/api/v1/generate/upload-cover", upload_cover, methods=["POST"]),
    Route("/api/v1/generate/upload-extend", upload_extend, methods=["POST"]),
    Route("/api/v1/generate/add-vocals", add_vocals, methods=["POST"]),
    Route("/api/v1/generate/add-instrumental", add_instrumental, methods=["POST"]),
    Route("/api/v1/generate/mashup", mashup, methods=["POST"]),
    Route("/api/v1/generate/replace-section", replace_section, methods=["POST"]),
    Route("/api/v1/generate/generate-persona", generate_persona, methods=["POST"]),
    Route("/api/v1/style/generate", style_generate, methods=["POST"]),
    Route("/api/v1/suno/cover/generate", cover_generate, methods=["POST"]),
    Route("/api/v1/suno/cover/record-info", record_endpoint("suno", cover_data, ops=("cover_art",)), methods=["GET"]),
    Route("/api/v1/generate/get-timestamped-lyrics", timestamped_lyrics, methods=["POST"]),
    Route("/api/v1/lyrics", lyrics, methods=["POST"]),
    Route("/api/v1/lyrics/record-info", record_endpoint("suno", lyrics_data, ops=("lyrics",)), methods=["GET"]),
    Route("/api/v1/wav/generate", wav_generate, methods=["POST"]),
    Route("/api/v1/wav/record-info", record_endpoint("suno", wav_data, ops=("wav",)), methods=["GET"]),
    Route("/api/v1/vocal-removal/generate", vocal_removal_generate, methods=["POST"]),
    Route(
        "/api/v1/vocal-removal/record-info",
        record_endpoint("suno", vocal_data, ops=("vocal_removal",)),
        methods=["GET"],
    ),
    Route("/api/v1/midi/generate", midi_generate, methods=["POST"]),
    Route("/api/v1/midi/record-info", record_endpoint("suno", midi_data, ops=("midi",)), methods=["GET"]),
    Route("/api/v1/mp4/generate", mp4_generate, methods=["POST"]),
    Route("/api/v1/mp4/record-info", record_endpoint("suno", mp4_data, ops=("mp4",)), methods=["GET"]),
]
