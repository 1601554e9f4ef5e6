"""Creating tasks and planning the media they will produce."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from . import callbacks
from .common import base_url, note, sim_of
from .markers import Markers
from .media import MediaItem, aspect_size
from .state import SimState, Task

IMAGE_EXTS = {"png": "png", "jpeg": "jpeg", "jpg": "jpg", "webp": "webp"}
COUNT_FIELDS = ("num_images", "max_images", "n", "nVariants", "num_outputs", "number_of_images")
RATIO_FIELDS = ("aspect_ratio", "aspectRatio", "image_size", "size", "ratio")


def new_task(
    request: Request,
    *,
    family: str,
    op: str,
    model: str | None,
    body: dict[str, Any],
    prompt: str,
    callback_url: str | None,
    typical_seconds: float,
    markers: Markers,
    credits: Decimal = Decimal(0),
    task_id: str | None = None,
    spec_key: str | None = None,
) -> Task:
    sim = sim_of(request)
    task = Task(
        task_id=task_id or sim.new_task_id(family),
        family=family,
        op=op,
        model=model,
        body=body,
        prompt=prompt,
        callback_url=callback_url if isinstance(callback_url, str) and callback_url.strip() else None,
        created_wall=time.time(),
        created_mono=sim.now(),
        phases=sim.plan_phases(typical_seconds, markers),
        base_url=base_url(request),
        fail=markers.fail,
        credits=credits,
        spec_key=spec_key,
        markers=markers,
    )
    return task


def launch(request: Request, task: Task) -> None:
    """Record the task and schedule its callbacks."""
    sim = sim_of(request)
    sim.add_task(task)
    note(request, task_id=task.task_id, model=task.model)
    callbacks.schedule(sim, task)


def count_from(inputs: dict[str, Any], default: int = 1, limit: int = 8) -> int:
    for name in COUNT_FIELDS:
        value = inputs.get(name)
        if value is None:
            continue
        try:
            return max(1, min(limit, int(float(str(value)))))
        except ValueError:
            continue
    return default


def ratio_from(inputs: dict[str, Any], default: str = "1:1") -> str:
    for name in RATIO_FIELDS:
        value = inputs.get(name)
        if isinstance(value, str) and value:
            return value
    return default


def image_ext(inputs: dict[str, Any], default: str = "png") -> str:
    for name in ("output_format", "outputFormat", "format"):
        value = inputs.get(name)
        if isinstance(value, str) and value.lower() in IMAGE_EXTS:
            return IMAGE_EXTS[value.lower()]
    return default


def images(
    sim: SimState, task_id: str, count: int, *, ext: str, ratio: str, text: str, subtitle: str, start: int = 0
) -> list[MediaItem]:
    width, height = aspect_size(ratio, sim.config.image_long_side)
    return [
        MediaItem(
            name=f"{start + n}.{ext}",
            kind="image",
            width=width,
            height=height,
            text=text,
            subtitle=f"{subtitle} #{n + 1}",
            key=f"{sim.config.seed}:{task_id}:{start + n}",
        )
        for n in range(count)
    ]


def video(sim: SimState, task_id: str, *, ratio: str, text: str, subtitle: str, index: int = 0) -> MediaItem:
    width, height = aspect_size(ratio, sim.config.video_long_side, even=True)
    return MediaItem(
        name=f"{index}.mp4",
        kind="video",
        width=width,
        height=height,
        seconds=sim.config.video_seconds,
        text=text,
        subtitle=subtitle,
        key=f"{sim.config.seed}:{task_id}:{index}",
    )


def audio(sim: SimState, task_id: str, *, index: int = 0, seconds: float | None = None) -> MediaItem:
    key = f"{sim.config.seed}:{task_id}:{index}"
    if seconds is None:
        # A little variety per track, still deterministic: base, base + 0.5 s, base + 1 s.
        seconds = sim.config.audio_seconds + (sum(key.encode()) % 3) * 0.5
    return MediaItem(name=f"{index}.wav", kind="audio", seconds=round(seconds, 2), key=key)


def still(
    sim: SimState, task_id: str, *, ratio: str, text: str, subtitle: str, index: int, ext: str = "jpeg"
) -> MediaItem:
    width, height = aspect_size(ratio, sim.config.image_long_side)
    return MediaItem(
        name=f"{index}.{ext}",
        kind="image",
        width=width,
        height=height,
        text=text,
        subtitle=subtitle,
        key=f"{sim.config.seed}:{task_id}:{index}",
    )
