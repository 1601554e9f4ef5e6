"""Suno lyrics: generated lyrics (a task with a record and a callback) and the timestamped lyrics of a track."""

from __future__ import annotations

import random
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import callbacks, jobs, registry, text
from ..common import BadRequest, check_auth, dumps, envelope, error, note, ok, read_json, sim_of
from ..family import begin_create, pay
from ..markers import strip
from ..media import digest
from ..state import SimState, Task
from .shared import MUSIC_OPS, require, simple_status


async def lyrics(request: Request) -> Response:
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    if missing := require(sim, body, "prompt"):
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


def lyrics_data(sim: SimState, task: Task, now: float) -> dict[str, Any]:
    status = simple_status(task, now, "GENERATE_LYRICS_FAILED")
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


async def timestamped_lyrics(request: Request) -> Response:
    sim = sim_of(request)
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return error(sim, 400, exc.message)
    if missing := require(sim, body, "taskId", "audioId"):
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
