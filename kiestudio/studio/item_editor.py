"""The editor of a json field that describes its entries (``FieldSpec.item_fields``: Kling's shots and elements, a
dialogue's lines, a colour theme, edit areas): one row per entry, in the catalog's words.

The field stays a textarea holding what is sent, so the form works without JavaScript and the catalog's validator
stays the judge. The widget renders the editor beside it, hidden: its rows for the value the form starts with (a
remix, an edit, a refused form) and a ``<template>`` of an empty row. ``static/js/items.js`` shows the editor in
place of the textarea, adds and removes rows, and writes the rows back into the textarea as the JSON Kie takes.

Pictures inside an entry (an element's) use the studio's own upload box: a reference stands in as its placeholder
address until the job is sent (``studio/services/references.py`` swaps it for Kie's upload, at any depth).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms

from kiestudio.core.fetch import BlockedURL, check_forward_url
from kiestudio.core.params import BadJSON, parse_json
from kiestudio.kie.catalog import FieldSpec, ModelSpec
from kiestudio.kie.catalog.specs import ItemFieldSpec
from kiestudio.uploads import services as uploads
from kiestudio.uploads.models import REFERENCE_PLACEHOLDER, Reference

ROW_TOKEN = "__n__"  # in the empty row's ids: items.js puts each new row's own number there
JSON_DEPTH = 16
JSON_BYTES = 100_000
BOX_SIDES = ("Left", "Top", "Right", "Bottom")
MEDIA_TYPES = {"image_urls": "image", "video_urls": "video"}  # an entry's files: the kind of file each list takes


def placeholder_ids(value: Any) -> list[int]:
    """The references named anywhere in a parsed value, in order (an element's pictures)."""
    if isinstance(value, str):
        rid = Reference.id_in_placeholder(value)
        return [] if rid is None else [rid]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [rid for item in value for rid in placeholder_ids(item)]
    return []


def picture_lists(spec_field: FieldSpec, value: Any) -> Iterable[tuple[int, ItemFieldSpec, list[str]]]:
    """``(position, sub-field, values)`` for each list of pictures in the entries of ``value`` (parsed)."""
    subs = [sub for sub in spec_field.item_fields if sub.type in MEDIA_TYPES]
    if not subs or not isinstance(value, list) or spec_field.item_shape != "object":
        return
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            continue
        for sub in subs:
            pictures = item.get(sub.name)
            if isinstance(pictures, str):
                pictures = pictures.split()
            if isinstance(pictures, list):
                yield position, sub, [p for p in pictures if isinstance(p, str)]


def has_pictures(spec_field: FieldSpec) -> bool:
    return any(sub.type in MEDIA_TYPES for sub in spec_field.item_fields)


@dataclass
class SubInput:
    """One sub-field's control in one row."""

    spec: ItemFieldSpec
    id: str
    value: str = ""
    options: list[tuple[str, str, bool]] = field(default_factory=list)  # (value, label, selected)
    sides: list[tuple[str, str, str]] = field(default_factory=list)  # a box: (id, label, value)
    zone: str = ""  # a picture box, rendered
    missing: bool = False  # a picture it named is gone (deleted, or another workspace's)


@dataclass
class Row:
    token: str  # in its controls' ids: r1, r2… (or ROW_TOKEN in the empty row)
    number: int
    subs: list[SubInput]


class ItemsWidget(forms.Textarea):
    """The json textarea, and the editor that takes its place in the browser."""

    template_name = "studio/widgets/items.html"

    def __init__(
        self,
        *,
        spec_field: FieldSpec,
        picture_box: Callable[..., Any],
        model_key: str = "",
        attrs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs={"rows": 4, "class": "mono", **(attrs or {})})
        self.spec_field = spec_field
        self.picture_box = picture_box  # the studio's upload box (forms.ReferenceWidget), for an entry's pictures
        self.model_key = model_key
        self.references: dict[int, Reference] = {}  # the pictures its value names, of this workspace (the form's)
        self.error_rows: set[int] = set()  # rows an error names (the form's clean), marked for the eye and focus

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        base = context["widget"]["attrs"].get("id") or f"id_{name}"
        spec_field = self.spec_field
        items = self._items(context["widget"]["value"])
        if items == [] and spec_field.required:
            items = [None] * max(1, spec_field.min_items or 1)  # a dialogue starts with its first line to fill in
        rows = None if items is None else [self._row(name, base, f"r{n}", n, item) for n, item in enumerate(items, 1)]
        context["editor"] = {
            "id": base,
            "label": spec_field.label,
            "item": spec_field.item_label,
            "noun": spec_field.item_label.lower(),
            "max": spec_field.max_items or "",
            "shape": spec_field.item_shape,
            "rows": rows or [],
            "readable": rows is not None,
            "blank": self._row(name, base, ROW_TOKEN, 1, None),
            "error_rows": self.error_rows,
            "placeholder": REFERENCE_PLACEHOLDER.replace("{pk}", "{id}"),  # items.js writes a chip's id in it
        }
        return context

    @staticmethod
    def _items(text: Any) -> list[Any] | None:
        """The entries the textarea holds; None when the editor can't show them (not a list: left as text)."""
        if isinstance(text, list):
            return text
        try:
            value = parse_json(text or "", max_depth=JSON_DEPTH, max_bytes=JSON_BYTES, empty=[])
        except BadJSON:
            return None
        return value if isinstance(value, list) else None

    def _row(self, name: str, base: str, token: str, number: int, item: Any) -> Row:
        subs = []
        for position, sub in enumerate(self.spec_field.item_fields):
            if self.spec_field.item_shape == "list":
                value = item[position] if isinstance(item, list) and position < len(item) else None
            else:
                value = item.get(sub.name) if isinstance(item, dict) else None
            subs.append(self._sub(name, f"{base}-{token}-{sub.name}", sub, value))
        return Row(token=token, number=number, subs=subs)

    def _sub(self, name: str, sub_id: str, sub: ItemFieldSpec, value: Any) -> SubInput:
        control = SubInput(spec=sub, id=sub_id)
        if sub.type == "choice":
            chosen = "" if value is None else str(value)
            control.options = [(str(v), label, str(v) == chosen) for v, label in sub.choice_pairs()]
            if chosen and not any(selected for _, _, selected in control.options):
                control.options.append((chosen, chosen, True))  # a name Kie knows, typed elsewhere
        elif sub.type == "box":
            sides = value if isinstance(value, list) else []
            control.sides = [
                (f"{sub_id}-{side.lower()}", side, _text(sides[i]) if i < len(sides) else "")
                for i, side in enumerate(BOX_SIDES)
            ]
        elif sub.type in MEDIA_TYPES:
            control.zone, control.missing = self._zone(name, sub_id, sub, value)
        elif sub.type == "percent":
            control.value = _text(value).strip().removesuffix("%")
        elif sub.type == "colour":
            control.value = _text(value).lower() or "#000000"
        else:
            control.value = _text(value)
        return control

    def _zone(self, name: str, sub_id: str, sub: ItemFieldSpec, value: Any) -> tuple[str, bool]:
        """The studio's picture box for one entry's pictures: its references as chips, other links as text."""
        pictures = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
        pictures = [p for p in pictures if isinstance(p, str)]
        ids = [Reference.id_in_placeholder(p) for p in pictures]
        found = [self.references[i] for i in ids if i is not None and i in self.references]
        links = [p for p, i in zip(pictures, ids, strict=True) if i is None]
        input_name = uploads.item_input_name(name, sub.name)
        kind = MEDIA_TYPES[sub.type]
        zone = self.picture_box(
            kind=kind,
            multiple=True,
            max_items=sub.max_items,
            rules=uploads.rules_for(kind, self.model_key, input_name),
            model_key=self.model_key,
            linkable=True,
        )
        zone.references = found
        html = zone.render(input_name, links, attrs={"id": sub_id})
        return html, len(found) != len([i for i in ids if i is not None])


def rows_named(spec_field: FieldSpec, messages: Iterable[object]) -> set[int]:
    """The rows the messages name: "Shot 2: …", "Shot 3 has no setting …" name rows 2 and 3."""
    pattern = re.compile(rf"^{re.escape(spec_field.item_label)} (\d+)\b")
    return {int(match[1]) for message in messages if (match := pattern.match(str(message)))}


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def item_media_problems(
    spec: ModelSpec, spec_field: FieldSpec, value: Any, references: dict[int, Reference]
) -> list[str]:
    """What is wrong with the pictures in the entries of ``value`` (parsed): a reference that is gone or doesn't fit
    the model, or a link Kie can't be sent."""
    problems = []
    for position, sub, pictures in picture_lists(spec_field, value):
        where = f"{spec_field.item_label} {position}"
        kind = MEDIA_TYPES[sub.type]
        rules = uploads.rules_for(kind, spec, uploads.item_input_name(spec_field.name, sub.name))
        for picture in pictures:
            rid = Reference.id_in_placeholder(picture)
            if rid is not None:
                reference = references.get(rid)
                if reference is None or reference.kind != kind:
                    noun = "picture" if kind == "image" else kind
                    problems.append(f"{where}: a {noun} you chose is no longer available. Choose it again.")
                elif problem := uploads.reference_problem(reference, rules):
                    problems.append(f"{where}: {problem}")
                continue
            try:
                check_forward_url(picture)
            except BlockedURL as exc:
                problems.append(f"{where}: Kie can't be sent this address: {exc}")
    return problems


def fetch_references(workspace: Any, spec_field: FieldSpec, value: Any) -> dict[int, Reference]:
    """The pictures of this workspace that ``value`` (parsed) names in its entries."""
    ids = [rid for _, _, pictures in picture_lists(spec_field, value) for rid in placeholder_ids(pictures)]
    if not ids or workspace is None:
        return {}
    kinds = set(MEDIA_TYPES.values())
    return {r.pk: r for r in Reference.objects.filter(workspace=workspace, kind__in=kinds, pk__in=ids)}


def parse_items_value(value: Any) -> Any:
    """A json field's value as given to the form (text, or already a list from a stored generation), parsed; None
    when it isn't JSON."""
    if isinstance(value, list | dict):
        return value
    try:
        return parse_json(value or "", max_depth=JSON_DEPTH, max_bytes=JSON_BYTES)
    except BadJSON:
        return None


__all__ = [
    "ItemsWidget",
    "fetch_references",
    "has_pictures",
    "item_media_problems",
    "parse_items_value",
    "placeholder_ids",
    "rows_named",
]
