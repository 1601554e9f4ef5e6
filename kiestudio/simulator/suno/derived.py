"""What Suno derives from a finished track: WAV, separated vocals or stems, MIDI and a music video (MP4)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import callbacks, jobs, registry
from ..common import envelope, error, fmt_datetime, ok, sim_of, wall_ms
from ..family import begin_create, pay
from ..media import MediaItem, digest
from ..state import SimState, Task
from .shared import ALL_STEM_KEYS, MUSIC_OPS, STEMS, require, simple_status, snake_case


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
    if missing := require(sim, body, *required):
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


def _derived_record(
    task: Task,
    now: float,
    failed_status: str,
    response: Callable[[Task], dict[str, Any]],
    stamp: Callable[[float], object],
) -> dict[str, Any]:
    """The record of a WAV, vocal removal or MP4 task: ``response(task)`` once it succeeded, times by ``stamp``."""
    status = simple_status(task, now, failed_status)
    done = status != "PENDING"
    failed = task.fail if status != "SUCCESS" and done else None
    return {
        "taskId": task.task_id,
        "musicId": _music_id(task),
        "callbackUrl": task.callback_url,
        "musicIndex": task.extra["music_index"],
        "completeTime": stamp(task.end_wall) if done else None,
        "response": response(task) if status == "SUCCESS" else None,
        "successFlag": status,
        "createTime": stamp(task.created_wall),
        "errorCode": int(failed[0]) if failed else None,
        "errorMessage": failed[1] if failed else None,
    }


def wav_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    return _derived_record(
        task, now, "GENERATE_WAV_FAILED", lambda task: {"audioWavUrl": task.url(task.outputs[0])}, fmt_datetime
    )


def _stem_urls(task: Task) -> dict[str, str | None]:
    urls: dict[str, str | None] = dict.fromkeys(ALL_STEM_KEYS)
    for item, stem in zip(task.outputs, task.extra["stems"], strict=True):
        urls[stem["field"]] = task.url(item)
    return urls


def _stems(task: Task) -> dict[str, Any]:
    origin = [
        {
            "duration": item.seconds,
            "audio_url": task.url(item),
            "stem_type_group_name": stem["name"],
            "id": stem["id"],
        }
        for item, stem in zip(task.outputs, task.extra["stems"], strict=True)
    ]
    return {"id": None, "originUrl": None, "originData": origin, **_stem_urls(task)}


def vocal_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    return _derived_record(task, now, "GENERATE_AUDIO_FAILED", _stems, wall_ms)


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
    return _derived_record(
        task, now, "GENERATE_MP4_FAILED", lambda task: {"videoUrl": task.url(task.outputs[0])}, fmt_datetime
    )


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
            info[snake_case(field)] = url
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
