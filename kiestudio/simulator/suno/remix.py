"""New Suno music made from given audio: a mashup of two uploads, and a section of a track sung anew."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import jobs, registry
from ..common import error, ok, sim_of
from ..family import begin_create, pay, validate_family
from .music import music_task, plan_music
from .shared import (
    SECTION_SECONDS,
    catalog_entry,
    check_model,
    finished_music,
    generation_rules,
    require,
    require_bools,
)


async def mashup(request: Request) -> Response:
    """Two uploaded tracks blended into new music: Suno's music task, record and callbacks."""
    sim = sim_of(request)
    body, markers, early = await begin_create(request)
    if early:
        return early
    assert body is not None and markers is not None
    model = body.get("model")
    if bad := check_model(sim, model):
        return bad
    assert isinstance(model, str)  # check_model refused anything else
    if missing := require(sim, body, "callBackUrl"):
        return missing
    urls = body.get("uploadUrlList")
    if not (
        isinstance(urls, list)
        and len(urls) == 2
        and all(isinstance(url, str) and url.startswith(("http://", "https://")) for url in urls)
    ):
        return error(sim, 422, "Invalid parameter 'uploadUrlList': give exactly 2 audio file URLs")
    if bad := require_bools(sim, body, "customMode"):
        return bad
    if body.get("instrumental") is not None and not isinstance(body["instrumental"], bool):
        return error(sim, 422, "Invalid parameter 'instrumental': must be true or false")
    # Kie takes every Suno model here; the catalog's one entry holds the field rules.
    spec, inputs, invalid = validate_family(sim, "suno_mashup", body, model=None)
    if invalid:
        return invalid
    if bad := generation_rules(sim, body):
        return bad
    credits = registry.credits_for(spec, inputs) if spec else Decimal(0)
    if refused := pay(sim, credits):
        return refused
    task = music_task(request, body, markers, op="mashup", model=model, parent=None, spec=spec, credits=credits)
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
    if missing := require(sim, body, *required):
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
    source = finished_music(sim, body["taskId"])
    if isinstance(source, Response):
        return source
    track = next((t for t in source.extra["tracks"] if t["id"] == body["audioId"]), None)
    if track is None:
        return error(sim, 422, "Invalid parameter 'audioId': no such track in this task")
    if end > float(track["duration"]) + 0.01:
        return error(sim, 422, f"Invalid parameter 'infillEndS': the track is {track['duration']} seconds long")
    spec = catalog_entry("suno/replace-section")
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
    plan_music(sim, task, track, count=1, lyrics=body["fullLyrics"], seconds=float(track["duration"]))
    jobs.launch(request, task)
    return ok(sim, {"taskId": task.task_id})
