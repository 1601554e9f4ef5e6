"""What a gallery tile shows, worked out in Python once per page, so that the template only prints it.

A page of 48 tiles through ``{% include %}`` with filters, ``{% url %}`` and model properties per tile took about
7 ms of a 20 ms gallery page (issue 18). Here the three URLs are reversed once per page and filled per tile,
the catalog name and labels are plain lookups, and each tile is a dict (a template's fastest lookup). The same
``gallery/_tile.html`` renders a tile in the grid and on its own (a pending tile polls for itself).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils import timezone

from kiestudio.gallery.selectors import GalleryItem
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio.models import PENDING, STUDIO_MADE, Status

_PLACEHOLDER = 987654321
_STATUS_LABELS = dict(Status.choices)


def _pattern(name: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_PLACEHOLDER]).partition(str(_PLACEHOLDER))
    return before, after


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _model_name(key: str, names: dict[str, str]) -> str:
    if key not in names:
        try:
            names[key] = get_model(key).name
        except UnknownModel:
            names[key] = STUDIO_MADE.get(key, key)
    return names[key]


PREVIEWED = ("video", "audio")

# The gallery lays tiles out in justified rows, each tile as wide as its picture's shape at the row's height
# (static/css/app.css, ``.ar-*``). CSP allows no style attributes, so a shape is the nearest of these classes;
# a picture is cropped by at most a few percent to fit it.
SHAPES = {
    "1-2": 1 / 2,
    "9-16": 9 / 16,
    "2-3": 2 / 3,
    "3-4": 3 / 4,
    "4-5": 4 / 5,
    "1-1": 1.0,
    "5-4": 5 / 4,
    "4-3": 4 / 3,
    "3-2": 3 / 2,
    "16-9": 16 / 9,
    "2-1": 2.0,
    "21-9": 21 / 9,
}


def tile_shape(width: int | None, height: int | None) -> str:
    """The ``.ar-*`` class nearest a picture's aspect ratio (compared on a log scale: 2:1 is as far from 1:1 as
    1:2 is); a square for anything without a size (audio, a pending item)."""
    if not width or not height:
        return "1-1"
    ratio = math.log(width / height)
    return min(SHAPES, key=lambda name: abs(math.log(SHAPES[name]) - ratio))


def _age(delta) -> str:
    """How long ago, in the largest whole unit ("just now", "5 min ago", "3 h ago", "2 days ago")."""
    seconds = max(0, int(delta.total_seconds()))
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            plural = "s" if count != 1 and unit not in ("h", "min") else ""
            return f"{count} {unit}{plural} ago"
    return "just now"


def gallery_tiles(items: Iterable[GalleryItem], *, favorite_ids: set[int], query: str) -> list[dict[str, Any]]:
    """One dict per item, for ``gallery/_tile.html``."""
    detail, poll, thumb = _pattern("gallery-detail"), _pattern("gallery-tile"), _pattern("asset-thumb")
    file = _pattern("asset-file")
    now = timezone.now()
    suffix = f"?{query}" if query else ""
    names: dict[str, str] = {}
    tiles = []
    for generation in items:
        pk = generation.id
        assets = generation.assets
        first = assets[0] if assets else None
        pending = generation.status in PENDING
        model = _model_name(generation.model_key, names)
        prompt = generation.prompt_text
        if first is not None and first.thumbnail:
            media = "image"
        elif first is not None and first.kind in ("audio", "file"):
            media = first.kind
        else:
            media = "pending" if pending else "none"
        tiles.append(
            {
                "id": pk,
                "status": generation.status,
                "status_label": "" if generation.status == Status.SUCCEEDED else _STATUS_LABELS[generation.status],
                "failed": generation.status == Status.FAILED,
                "pending": pending,
                "output": generation.output,
                "output_label": generation.output.capitalize(),
                "model": model,
                "pick_label": _shorten(prompt, 60) if prompt else model,
                "link_label": f"{model}: {_shorten(prompt, 80) if prompt else 'untitled'}",
                "detail_url": f"{detail[0]}{pk}{detail[1]}{suffix}",
                "poll_url": f"{poll[0]}{pk}{poll[1]}{suffix}" if pending else "",
                "media": media,
                "thumb_url": f"{thumb[0]}{first.id}{thumb[1]}" if media == "image" and first is not None else "",
                # Played while the pointer (or focus) is on the tile.
                "preview_url": f"{file[0]}{first.id}{file[1]}" if first is not None and first.kind in PREVIEWED else "",
                "preview_kind": first.kind if first is not None and first.kind in PREVIEWED else "",
                "hover_text": _shorten(prompt, 120) if prompt else model,
                "age": _age(now - generation.created_at),
                "shape": tile_shape(first.width, first.height) if media == "image" and first is not None else "1-1",
                "favorite": pk in favorite_ids,
                "count": len(assets) if len(assets) > 1 else 0,
            }
        )
    return tiles
