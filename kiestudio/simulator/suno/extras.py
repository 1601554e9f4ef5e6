"""Suno's extras around a finished track: cover art, personas, and the style boost."""

from __future__ import annotations

import random
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import callbacks, jobs, registry
from ..common import dumps, envelope, error, fmt_datetime, note, ok, sim_of
from ..family import begin_create, pay
from ..markers import strip
from ..media import MediaItem, digest
from ..state import SimState, Task
from .shared import MUSIC_OPS, PERSONA_SOURCES, STYLE_BOOST_CREDITS, catalog_entry, finished_music, require


async def cover_generate(request: Request) -> Response:
    """Two cover pictures for a music task. Kie draws them once per task: asking again is a 400 naming that task."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    if missing := require(sim, body, "taskId"):
        return missing
    source = finished_music(sim, body["taskId"])
    if isinstance(source, Response):
        return source
    done = next(
        (t for t in sim.tasks.values() if t.op == "cover_art" and t.extra.get("source") == source.task_id), None
    )
    if done is not None:
        return error(sim, 400, "This music already has a cover.", data={"taskId": done.task_id})
    spec = catalog_entry("suno/cover-art")
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


async def generate_persona(request: Request) -> Response:
    """A persona from a finished generated (or extended) track, answered at once; one per track (409 after)."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None
    if missing := require(sim, body, "taskId", "audioId", "name", "description"):
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
