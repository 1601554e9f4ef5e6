"""Check one field entry of a catalog model and build its :class:`FieldSpec` (used by :mod:`.entries`).

:func:`build_field` runs the checks in order: the entry's keys, its basics (name, type, label, help, flags), its
choices, its bounds, its ``shown_when``, a json field's entries (:func:`~.items.build_items`); then builds the spec and checks its default against it.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType
from typing import Any

from .items import build_items
from .specs import FIELD_TYPES, NUMERIC_TYPES, FieldSpec
from .validation import _Invalid, check_constraints, coerce_value

__all__ = ["FIELD_KEYS_OPTIONAL", "FIELD_KEYS_REQUIRED", "RESERVED_FIELDS", "build_field", "key_problems"]

FIELD_KEYS_REQUIRED: tuple[str, ...] = ("name", "type", "label", "required", "default", "help")
FIELD_KEYS_OPTIONAL: tuple[str, ...] = (
    "choices",
    "min",
    "max",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "advanced",
    "choice_labels",
    "shown_when",
    "alias_of",
    "preview",
    "item_fields",
    "item_label",
    "item_shape",
)
#: Added by the HTTP client, never a user input.
RESERVED_FIELDS = frozenset({"callBackUrl", "model", "progressCallBackUrl"})
_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COUNT_BOUNDS = ("min_length", "max_length", "min_items", "max_items")
_BOUND_PAIRS = (("min", "max"), ("min_length", "max_length"), ("min_items", "max_items"))


def key_problems(raw: dict[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
    """Missing required keys and keys the format does not know, for a model or a field entry."""
    problems = [f"{where}: missing {key!r}" for key in required if key not in raw]
    unknown = set(raw) - set(required) - set(optional)
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
    return problems


def build_field(raw: Any, where: str) -> tuple[FieldSpec | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: a field must be an object"]
    problems = key_problems(raw, where, FIELD_KEYS_REQUIRED, FIELD_KEYS_OPTIONAL)
    if problems:
        return None, problems
    where = f"{where} {raw['name']!r}"
    problems += _basic_problems(raw, where)
    choices, found = _checked_choices(raw, where)
    problems += found
    problems += _choice_label_problems(raw, choices, where)
    problems += _bound_problems(raw, where)
    problems += _shown_when_problems(raw.get("shown_when"), where)
    for key in ("alias_of", "preview"):
        if key in raw and not (isinstance(raw[key], str) and raw[key]):
            problems.append(f"{where}: {key} must be a non-empty string")
    if raw.get("preview") and not (str(raw["preview"]).startswith("https://") and "{value}" in str(raw["preview"])):
        problems.append(f"{where}: preview must be an https:// address with {{value}} where the choice goes")
    items, found = build_items(raw, where)
    problems += found
    if problems:
        return None, problems
    field = _field_from(raw, choices, items)
    problems += _default_problems(field, raw["default"], where)
    return (None if problems else field), problems


def _basic_problems(raw: dict[str, Any], where: str) -> list[str]:
    """Name, type, label, help and the two flags."""
    problems = []
    name, kind = raw["name"], raw["type"]
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        problems.append(f"{where}: field name must be an identifier")
    elif name in RESERVED_FIELDS:
        problems.append(f"{where}: {name} is added by the client and must not be a field")
    if kind not in FIELD_TYPES:
        problems.append(f"{where}: type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
    if not isinstance(raw["label"], str) or not raw["label"].strip():
        problems.append(f"{where}: label must be non-empty text")
    if not isinstance(raw["help"], str):
        problems.append(f"{where}: help must be text")
    if not isinstance(raw["required"], bool) or not isinstance(raw.get("advanced", False), bool):
        problems.append(f"{where}: required/advanced must be true or false")
    return problems


def _checked_choices(raw: dict[str, Any], where: str) -> tuple[Any, list[str]]:
    """The choices (``[]`` for an enum without a usable list) and what is wrong with them."""
    choices = raw.get("choices")
    if raw["type"] != "enum":
        return choices, [] if choices is None else [f"{where}: only enum fields have choices"]
    if not isinstance(choices, list) or not choices:
        return [], [f"{where}: an enum needs a non-empty choices list"]
    if len({json.dumps(choice) for choice in choices}) != len(choices):
        return choices, [f"{where}: duplicate choices"]
    return choices, []


def _choice_label_problems(raw: dict[str, Any], choices: Any, where: str) -> list[str]:
    labels = raw.get("choice_labels")
    if labels is None:
        return []
    if (
        raw["type"] != "enum"
        or not isinstance(labels, list)
        or len(labels) != len(choices or [])
        or not all(isinstance(label, str) and label.strip() for label in labels)
    ):
        return [f"{where}: choice_labels must be one non-empty label per choice"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound_problems(raw: dict[str, Any], where: str) -> list[str]:
    """``min``/``max`` on numeric fields, counts that are non-negative integers, and no low bound above its high."""
    return _range_problems(raw, where) + _count_problems(raw, where) + _order_problems(raw, where)


def _range_problems(raw: dict[str, Any], where: str) -> list[str]:
    numeric = raw["type"] in NUMERIC_TYPES
    return [
        f"{where}: {bound} needs a numeric field and a number"
        for bound in ("min", "max")
        if raw.get(bound) is not None and not (numeric and _is_number(raw[bound]))
    ]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count_problems(raw: dict[str, Any], where: str) -> list[str]:
    return [
        f"{where}: {bound} must be a non-negative integer"
        for bound in _COUNT_BOUNDS
        if raw.get(bound) is not None and not _is_count(raw[bound])
    ]


def _order_problems(raw: dict[str, Any], where: str) -> list[str]:
    return [
        f"{where}: {low} is above {high}"
        for low, high in _BOUND_PAIRS
        if isinstance(raw.get(low), int | float) and isinstance(raw.get(high), int | float) and raw[low] > raw[high]
    ]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _is_wanted_value(want: Any) -> bool:
    """A ``shown_when`` value: one scalar, or a non-empty list of them."""
    return _is_scalar(want) or (isinstance(want, list) and bool(want) and all(_is_scalar(w) for w in want))


def _shown_when_problems(shown_when: Any, where: str) -> list[str]:
    if shown_when is None:
        return []
    if isinstance(shown_when, dict) and shown_when and all(_is_wanted_value(w) for w in shown_when.values()):
        return []
    return [f"{where}: shown_when maps other fields to a value or a list of values"]


def _field_from(raw: dict[str, Any], choices: Any, items: dict[str, Any]) -> FieldSpec:
    default = raw["default"]
    shown_when = raw.get("shown_when")
    return FieldSpec(
        name=raw["name"],
        type=raw["type"],
        label=raw["label"].strip(),
        required=raw["required"],
        default=tuple(default) if isinstance(default, list) else default,
        help=raw["help"].strip(),
        choices=tuple(choices or ()),
        min=raw.get("min"),
        max=raw.get("max"),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        min_items=raw.get("min_items"),
        max_items=raw.get("max_items"),
        advanced=raw.get("advanced", False),
        choice_labels=tuple(raw.get("choice_labels") or ()),
        shown_when=MappingProxyType(dict(shown_when)) if shown_when else None,
        alias_of=str(raw.get("alias_of") or ""),
        preview=str(raw.get("preview") or ""),
        **items,
    )


def _default_problems(field: FieldSpec, default: Any, where: str) -> list[str]:
    """The default must pass the field's own coercion unchanged and meet its constraints."""
    if default is None:
        return []
    try:
        coerced = coerce_value(field, default)
    except _Invalid as exc:
        return [f"{where}: default {default!r} is invalid: {exc}"]
    problems = []
    if coerced != default or type(coerced) is not type(default):
        problems.append(f"{where}: default {default!r} should be written as {coerced!r}")
    problems += [f"{where}: default {default!r}: {problem}" for problem in check_constraints(field, coerced)]
    return problems
