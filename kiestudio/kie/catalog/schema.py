"""A model's inputs as a JSON Schema (draft 2020-12), generated from its catalog fields.

This is what a tool-calling chat model is shown of a catalog model (``chat/tools``), so it is generated, never
written per model: every field's type, range, length and choices come from :class:`FieldSpec`. Two differences
from the wire:

- Media fields take the id of a file in the studio's gallery (``media="asset"``, an integer, or a list of them),
  never a URL: the caller checks each id against its workspace and uploads the file itself. With ``media="url"``
  they stay URLs, as Kie takes them.
- A json field that describes its entries (``item_fields``) is an array of them, each with its sub-fields' types
  and limits; pictures inside an entry are web addresses.
- A field shown only while other fields have some values (``shown_when``) says so in its description; the catalog's
  validation (``validate_inputs``) stays the judge of what is sent.
"""

from __future__ import annotations

from typing import Any, Literal

from .specs import NUMERIC_TYPES, TEXT_TYPES, URL_LIST_TYPES, URL_TYPES, FieldSpec, ItemFieldSpec, ModelSpec

__all__ = ["field_schema", "input_schema", "sub_schema"]

MEDIA_NOUN = {"image": "image", "video": "video", "audio": "audio clip"}


def _media_kind(field: FieldSpec) -> str:
    return field.type.split("_", 1)[0]


def _description(field: FieldSpec, media: str) -> str:
    parts = [field.label.rstrip(".") + "."]
    if field.help:
        parts.append(field.help.strip())
    if field.type in URL_TYPES | URL_LIST_TYPES and media == "asset":
        noun = MEDIA_NOUN.get(_media_kind(field), "file")
        many = field.type in URL_LIST_TYPES
        parts.append(f"The gallery item id{'s' if many else ''} of {'the ' + noun + 's' if many else 'an ' + noun}.")
    if field.choice_labels and field.choices:
        pairs = ", ".join(f"{value!r} = {label}" for value, label in field.choice_pairs() if str(value) != label)
        if pairs:
            parts.append(f"Choices: {pairs}.")
    if field.shown_when:
        when = ", ".join(f"{name} is {value!r}" for name, value in field.shown_when.items())
        parts.append(f"Only used when {when}.")
    return " ".join(parts)


def field_schema(field: FieldSpec, *, media: Literal["asset", "url"] = "asset") -> dict[str, Any]:
    """One field's schema."""
    schema: dict[str, Any]
    if field.type == "enum" or field.choices:
        schema = {"enum": list(field.choices)}
    elif field.type == "boolean":
        schema = {"type": "boolean"}
    elif field.type in NUMERIC_TYPES:
        schema = {"type": field.type}
        if field.min is not None:
            schema["minimum"] = field.min
        if field.max is not None:
            schema["maximum"] = field.max
    elif field.type in TEXT_TYPES:
        schema = {"type": "string"}
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
    elif field.type in URL_TYPES:
        schema = {"type": "integer", "minimum": 1} if media == "asset" else {"type": "string", "format": "uri"}
    elif field.type in URL_LIST_TYPES:
        item = {"type": "integer", "minimum": 1} if media == "asset" else {"type": "string", "format": "uri"}
        schema = {"type": "array", "items": item}
        if field.min_items is not None:
            schema["minItems"] = field.min_items
        if field.max_items is not None:
            schema["maxItems"] = field.max_items
    elif field.type == "json" and field.item_fields:
        schema = {"type": "array", "items": _item_schema(field)}
        if field.min_items is not None:
            schema["minItems"] = field.min_items
        if field.max_items is not None:
            schema["maxItems"] = field.max_items
    elif field.type == "json":
        schema = {}  # any JSON value; the catalog's validation reads it
    else:  # a type the catalog added later: say what it is, accept a string
        schema = {"type": "string"}
    schema["description"] = _description(field, media)
    if field.has_default and field.type not in URL_TYPES | URL_LIST_TYPES:
        schema["default"] = field.default_value()
    return schema


def _item_schema(field: FieldSpec) -> dict[str, Any]:
    """One entry of a json list field: an object of its sub-fields, or (``item_shape`` list) their values in order."""
    subs = [(sub, sub_schema(sub)) for sub in field.item_fields]
    if field.item_shape == "list":
        shapes = [schema for _, schema in subs]
        if len({sub.type for sub in field.item_fields}) == 1:  # edit areas: up to two boxes, in order
            one = {key: value for key, value in shapes[0].items() if key != "description"}
            said = f"Up to {len(shapes)} in order: " + "; ".join(shape["description"] for shape in shapes)
            return {"type": "array", "items": one, "maxItems": len(shapes), "description": said}
        return {"type": "array", "prefixItems": shapes, "items": False}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {sub.name: shape for sub, shape in subs},
        "additionalProperties": False,
    }
    required = [sub.name for sub in field.item_fields if sub.required]
    if required:
        schema["required"] = required
    return schema


def sub_schema(sub: ItemFieldSpec) -> dict[str, Any]:
    """One sub-field of an entry, as Kie takes it (pictures are web addresses here, never gallery ids)."""
    schema: dict[str, Any]
    if sub.type in ("text", "textarea"):
        schema = {"type": "string"}
        if sub.min_length is not None:
            schema["minLength"] = sub.min_length
        if sub.max_length is not None:
            schema["maxLength"] = sub.max_length
    elif sub.type in ("integer", "number"):
        schema = {"type": sub.type}
        if sub.min is not None:
            schema["minimum"] = sub.min
        if sub.max is not None:
            schema["maximum"] = sub.max
    elif sub.type == "choice":
        schema = {"type": "string"} if sub.other_choices else {"enum": list(sub.choices)}
    elif sub.type == "colour":
        schema = {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}
    elif sub.type == "percent":
        schema = {"type": "string", "pattern": r"^\d{1,3}\.\d{2}%$"}
    elif sub.type in ("image_urls", "video_urls"):
        schema = {"type": "array", "items": {"type": "string", "format": "uri"}}
        if sub.min_items is not None:
            schema["minItems"] = sub.min_items
        if sub.max_items is not None:
            schema["maxItems"] = sub.max_items
    elif sub.type == "box":
        side = {"type": "integer", "minimum": 0}
        schema = {"type": "array", "items": side, "minItems": 4, "maxItems": 4}
    else:
        schema = {}
    description = sub.label.rstrip(".") + "." + (f" {sub.help}" if sub.help else "")
    if sub.type == "box":
        description += " Left, top, right, bottom, in pixels."
    if sub.type == "choice" and sub.choice_labels:
        pairs = ", ".join(f"{value!r} = {label}" for value, label in sub.choice_pairs())
        description += f" Choices: {pairs}." + (" Other names Kie knows are taken too." if sub.other_choices else "")
    schema["description"] = description
    return schema


def input_schema(
    spec: ModelSpec, *, media: Literal["asset", "url"] = "asset", exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The schema of ``spec``'s inputs: an object with one property per field (less ``exclude``), the required
    ones without a default listed as required, and nothing else allowed."""
    fields = [f for f in spec.fields if f.name not in exclude and not f.alias_of]
    required = [f.name for f in fields if f.required and not f.has_default and not f.shown_when]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: field_schema(f, media=media) for f in fields},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema
