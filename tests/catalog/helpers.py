"""Helpers shared by the catalog tests: build valid sample inputs for any model."""

from __future__ import annotations

from typing import Any

from kiestudio.kie.catalog import FieldSpec, InputValidationError, ModelSpec, validate_inputs

SAMPLE_URLS = {
    "image": "https://example.com/input.png",
    "video": "https://example.com/input.mp4",
    "audio": "https://example.com/input.mp3",
}


def sample_value(field: FieldSpec) -> Any:
    """A valid, non-empty value for one field."""
    kind = field.type
    if kind in ("text", "string"):
        text = "a red fox running through fresh snow at sunrise"
        if field.max_length is not None:
            text = text[: field.max_length]
        return text
    if kind.endswith("_urls"):
        return [SAMPLE_URLS[kind.removesuffix("_urls")]] * max(1, field.min_items or 1)
    if kind.endswith("_url"):
        return SAMPLE_URLS[kind.removesuffix("_url")]
    if kind == "json" and field.item_fields:
        return [sample_item(field)] * max(1, field.min_items or 1)
    if kind == "json":
        return [{"text": "Hello there, how are you?", "voice": "Brian", "prompt": "a fox wakes up", "duration": 3}]
    if kind == "enum":
        return field.choices[0]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return field.min if field.min is not None else 1
    raise AssertionError(f"no sample for {kind}")


SUB_SAMPLES: dict[str, Any] = {
    "text": "a small brown dog",
    "textarea": "a fox wakes up",
    "colour": "#C2D1E6",
    "percent": "40.00%",
    "box": [120, 80, 480, 400],
}


def sample_item(field: FieldSpec) -> Any:
    """One valid entry of a json field that describes its items (``item_fields``)."""
    values = []
    for sub in field.item_fields:
        if sub.type in ("integer", "number"):
            value: Any = sub.min if sub.min is not None else 1
        elif sub.type == "choice":
            value = sub.choices[0]
        elif sub.type == "image_urls":
            value = [SAMPLE_URLS["image"]] * max(1, sub.min_items or 1)
        else:
            value = SUB_SAMPLES[sub.type]
        values.append((sub.name, value))
    return [value for _, value in values] if field.item_shape == "list" else dict(values)


def sample_inputs(spec: ModelSpec, **overrides: Any) -> dict[str, Any]:
    """Raw inputs that validate: required fields filled, everything else left to defaults.

    Fields named in rule errors (e.g. "give a prompt or an image") are filled in too.
    """
    raw: dict[str, Any] = {f.name: sample_value(f) for f in spec.fields if f.required and not f.has_default}
    raw.update(overrides)
    for _ in range(4):
        try:
            validate_inputs(spec, raw)
            return raw
        except InputValidationError as exc:
            for name in exc.errors:
                if name in overrides or not spec.has_field(name):
                    raise
                raw[name] = sample_value(spec.field(name))
    validate_inputs(spec, raw)
    return raw
