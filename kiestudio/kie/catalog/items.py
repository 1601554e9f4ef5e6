"""The entries of a ``json`` list field described by its ``item_fields`` (Kling's shots and elements, a dialogue's
lines, a colour theme, edit areas): checking that description when the catalog loads, and each entry when a value
is validated.

:func:`build_items` reads a field entry's ``item_fields``, ``item_label`` and ``item_shape``; :func:`coerce_items`
turns a parsed JSON value into the exact list Kie takes, or raises :class:`ItemsInvalid` with one message per
problem, each naming the entry and the sub-field ("Shot 2: Length (seconds) must be at most 12").
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .conditions import is_empty, is_http_url, price_key
from .specs import ITEM_SHAPES, ITEM_TYPES, FieldSpec, ItemFieldSpec

__all__ = ["ITEM_KEYS_OPTIONAL", "ITEM_KEYS_REQUIRED", "ItemsInvalid", "build_items", "coerce_items"]

ITEM_KEYS_REQUIRED: tuple[str, ...] = ("name", "type", "label", "required", "help")
ITEM_KEYS_OPTIONAL: tuple[str, ...] = (
    "min",
    "max",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "choices",
    "choice_labels",
    "other_choices",
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COLOUR = re.compile(r"^#?([0-9A-Fa-f]{6})$")
_SPLIT = re.compile(r"[\s,]+")
_NUMERIC = frozenset({"integer", "number", "percent"})
_BOUNDS = {
    "min": _NUMERIC,
    "max": _NUMERIC,
    "min_length": frozenset({"text", "textarea"}),
    "max_length": frozenset({"text", "textarea"}),
    "min_items": frozenset({"image_urls", "video_urls"}),
    "max_items": frozenset({"image_urls", "video_urls"}),
}
_BOX_SIDES = ("left", "top", "right", "bottom")
MAX_CHOICES_SHOWN = 12


class ItemsInvalid(ValueError):
    """What is wrong with a list of entries: one message per problem, in order."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


# ---------------------------------------------------------------------------------------------
# Loading


def build_items(raw: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """``item_fields``, ``item_label`` and ``item_shape`` of one field entry, as :class:`FieldSpec` arguments."""
    keys = {"item_fields", "item_label", "item_shape"} & set(raw)
    if not keys:
        return {}, []
    if raw["type"] != "json":
        return {}, [f"{where}: only json fields describe their items"]
    problems: list[str] = []
    label = raw.get("item_label")
    if not (isinstance(label, str) and label.strip()):
        problems.append(f"{where}: item_label must name one entry (e.g. 'Shot')")
    shape = raw.get("item_shape", "object")
    if shape not in ITEM_SHAPES:
        problems.append(f"{where}: item_shape must be one of {', '.join(ITEM_SHAPES)}")
    entries = raw.get("item_fields")
    if not isinstance(entries, list) or not entries:
        return {}, [*problems, f"{where}: item_fields must be a non-empty list"]
    items: list[ItemFieldSpec] = []
    for index, entry in enumerate(entries):
        item, found = _build_item(entry, f"{where}.item_fields[{index}]")
        problems += found
        if item is not None:
            items.append(item)
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate item_fields names")
    if problems:
        return {}, problems
    return {"item_fields": tuple(items), "item_label": str(label).strip(), "item_shape": shape}, []


def _build_item(raw: Any, where: str) -> tuple[ItemFieldSpec | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: an item field must be an object"]
    problems = [f"{where}: missing {key!r}" for key in ITEM_KEYS_REQUIRED if key not in raw]
    unknown = set(raw) - set(ITEM_KEYS_REQUIRED) - set(ITEM_KEYS_OPTIONAL)
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
    if problems:
        return None, problems
    where = f"{where} {raw['name']!r}"
    kind = raw["type"]
    if not (isinstance(raw["name"], str) and _NAME.match(raw["name"])):
        problems.append(f"{where}: name must be an identifier")
    if kind not in ITEM_TYPES:
        problems.append(f"{where}: type {kind!r} is not one of {', '.join(ITEM_TYPES)}")
    if not (isinstance(raw["label"], str) and raw["label"].strip()) or not isinstance(raw["help"], str):
        problems.append(f"{where}: label must be non-empty text and help text")
    if not isinstance(raw["required"], bool) or not isinstance(raw.get("other_choices", False), bool):
        problems.append(f"{where}: required/other_choices must be true or false")
    problems += _choice_problems(raw, where) + _item_bound_problems(raw, where)
    if problems:
        return None, problems
    return (
        ItemFieldSpec(
            name=raw["name"],
            type=kind,
            label=raw["label"].strip(),
            required=raw["required"],
            help=raw["help"].strip(),
            min=raw.get("min"),
            max=raw.get("max"),
            min_length=raw.get("min_length"),
            max_length=raw.get("max_length"),
            min_items=raw.get("min_items"),
            max_items=raw.get("max_items"),
            choices=tuple(raw.get("choices") or ()),
            choice_labels=tuple(raw.get("choice_labels") or ()),
            other_choices=raw.get("other_choices", False),
        ),
        [],
    )


def _choice_problems(raw: dict[str, Any], where: str) -> list[str]:
    choices, labels = raw.get("choices"), raw.get("choice_labels")
    if raw["type"] != "choice":
        extra = [key for key in ("choices", "choice_labels", "other_choices") if key in raw]
        return [f"{where}: only choice items have {', '.join(extra)}"] if extra else []
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str | int | float) for c in choices):
        return [f"{where}: a choice needs a non-empty list of choices"]
    if len({json.dumps(choice) for choice in choices}) != len(choices):
        return [f"{where}: duplicate choices"]
    if labels is not None and not (
        isinstance(labels, list)
        and len(labels) == len(choices)
        and all(isinstance(label, str) and label.strip() for label in labels)
    ):
        return [f"{where}: choice_labels must be one non-empty label per choice"]
    return []


def _item_bound_problems(raw: dict[str, Any], where: str) -> list[str]:
    problems = []
    for bound, types in _BOUNDS.items():
        value = raw.get(bound)
        if value is None:
            continue
        if raw["type"] not in types:
            problems.append(f"{where}: {bound} does not apply to a {raw['type']} item")
        elif bound in ("min", "max") and not (isinstance(value, int | float) and not isinstance(value, bool)):
            problems.append(f"{where}: {bound} must be a number")
        elif bound not in ("min", "max") and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ):
            problems.append(f"{where}: {bound} must be a non-negative integer")
    for low, high in (("min", "max"), ("min_length", "max_length"), ("min_items", "max_items")):
        lo, hi = raw.get(low), raw.get(high)
        if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
            problems.append(f"{where}: {low} is above {high}")
    return problems


# ---------------------------------------------------------------------------------------------
# Validation


class _Bad(Exception):
    """Internal: one problem with one sub-field's value (the message starts after the sub-field's label)."""


def coerce_items(field: FieldSpec, value: Any) -> list[Any]:
    """The entries of ``value`` (parsed JSON) as Kie takes them; :class:`ItemsInvalid` names every bad one."""
    noun = field.item_label.lower()
    if not isinstance(value, list):
        raise ItemsInvalid([f"{field.label}: give a list, one entry per {noun}"])
    problems: list[str] = []
    out: list[Any] = []
    for position, item in enumerate(value, start=1):
        where = f"{field.item_label} {position}"
        found: list[str] = []
        if field.item_shape == "list":
            out.append(_list_item(field, item, where, found))
        else:
            out.append(_object_item(field, item, where, found))
        problems += found
    if problems:
        raise ItemsInvalid(problems)
    return out


def _object_item(field: FieldSpec, item: Any, where: str, problems: list[str]) -> dict[str, Any]:
    names = [sub.name for sub in field.item_fields]
    if not isinstance(item, dict):
        problems.append(f"{where}: write it as an object with {', '.join(names)}")
        return {}
    for key in item:
        if key not in names:
            problems.append(f"{where} has no setting {str(key)!r} (it takes {', '.join(names)})")
    out: dict[str, Any] = {}
    for sub in field.item_fields:
        value = item.get(sub.name)
        if is_empty(value):
            if sub.required:
                problems.append(f"{where}: {sub.label} is required")
            continue
        try:
            out[sub.name] = coerce_sub(sub, value)
        except _Bad as exc:
            problems.append(_say(where, sub, exc))
    return out


def _say(where: str, sub: ItemFieldSpec, exc: _Bad) -> str:
    """The message for one bad sub-field: "Shot 2: Length (seconds) must be at most 12", "Line 1: Voice: choose …"."""
    rest = str(exc)
    return f"{where}: {sub.label}{rest if rest.startswith(':') else ' ' + rest}"


def _list_item(field: FieldSpec, item: Any, where: str, problems: list[str]) -> list[Any]:
    subs = field.item_fields
    if not isinstance(item, list):
        problems.append(f"{where}: write it as a list of up to {len(subs)}")
        return []
    if len(item) > len(subs):
        problems.append(f"{where} takes at most {len(subs)} (got {len(item)})")
        return []
    out: list[Any] = []
    for sub, value in zip(subs, item, strict=False):
        try:
            out.append(coerce_sub(sub, value))
        except _Bad as exc:
            problems.append(_say(where, sub, exc))
    for sub in subs[len(item) :]:
        if sub.required:
            problems.append(f"{where}: {sub.label} is required")
    return out


def coerce_sub(sub: ItemFieldSpec, value: Any) -> Any:
    """One sub-field's value as Kie takes it; :class:`_Bad` with the rest of a sentence after its label."""
    kind = sub.type
    if kind in ("text", "textarea"):
        return _text(sub, value)
    if kind in ("integer", "number"):
        return _bounded(sub, _number(value, whole=kind == "integer"))
    if kind == "percent":
        return _percent(sub, value)
    if kind == "choice":
        return _choice(sub, value)
    if kind == "colour":
        return _colour(value)
    if kind == "image_urls":
        return _media(sub, value, "picture")
    if kind == "video_urls":
        return _media(sub, value, "video")
    if kind == "box":
        return _box(value)
    raise _Bad(f"has a type the studio doesn't know ({kind})")


def _text(sub: ItemFieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("must be text")
    text = value.strip()
    if sub.min_length is not None and len(text) < sub.min_length:
        raise _Bad(f"must be at least {sub.min_length} characters (it has {len(text)})")
    if sub.max_length is not None and len(text) > sub.max_length:
        raise _Bad(f"must be at most {sub.max_length} characters (it has {len(text)})")
    return text


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _number(value: Any, *, whole: bool) -> int | float:
    number = _decimal(value)
    if number is None or (whole and number != number.to_integral_value()):
        raise _Bad("must be a whole number" if whole else "must be a number")
    written = str(value).lower()
    if whole or (number == number.to_integral_value() and "." not in written and "e" not in written):
        return int(number)
    return float(number)


def _bounded(sub: ItemFieldSpec, number: int | float) -> int | float:
    if sub.min is not None and number < sub.min:
        raise _Bad(f"must be at least {price_key(sub.min)}")
    if sub.max is not None and number > sub.max:
        raise _Bad(f"must be at most {price_key(sub.max)}")
    return number


def _percent(sub: ItemFieldSpec, value: Any) -> str:
    """A share as Kie writes it, two decimals and a per cent sign: ``"40.00%"`` (from "40%", "40" or 40)."""
    text = value.strip().removesuffix("%").strip() if isinstance(value, str) else value
    number = _decimal(text)
    low = sub.min if sub.min is not None else 0
    high = sub.max if sub.max is not None else 100
    if number is None or not low <= number <= high:
        raise _Bad(f"must be a share between {price_key(low)} and {price_key(high)} per cent")
    return f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def _choice(sub: ItemFieldSpec, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
    key = price_key(value)
    for choice in sub.choices:
        if price_key(choice) == key:
            return choice
    if sub.other_choices and isinstance(value, str) and value:
        return value
    shown = [label for _, label in sub.choice_pairs()[:MAX_CHOICES_SHOWN]]
    more = ", …" if len(sub.choices) > MAX_CHOICES_SHOWN else ""
    raise _Bad(f": choose one of {', '.join(shown)}{more}")


def _colour(value: Any) -> str:
    match = _COLOUR.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _Bad("must be a colour written like #1F2A44")
    return "#" + match[1].upper()


def _media(sub: ItemFieldSpec, value: Any, noun: str) -> list[str]:
    """A list of files' web addresses (pictures, or videos), within the sub-field's counts."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _Bad(f"must be a list of {noun}s")
    links = [part for item in items for part in _SPLIT.split(item.strip()) if part]
    bad = [str(position) for position, link in enumerate(links, start=1) if not is_http_url(link)]
    if bad:
        raise _Bad(f": {noun} {', '.join(bad)} must be a web address starting with http:// or https://")
    count = len(links)
    if sub.min_items is not None and count < sub.min_items:
        raise _Bad(f"needs at least {sub.min_items} {noun}{'s' * (sub.min_items != 1)} (got {count})")
    if sub.max_items is not None and count > sub.max_items:
        raise _Bad(f"takes at most {sub.max_items} {noun}{'s' * (sub.max_items != 1)} (got {count})")
    return links


def _box(value: Any) -> list[int]:
    """Four whole numbers of pixels, ``[left, top, right, bottom]``, with the right and bottom past the others."""
    numbers = [_decimal(side) for side in value] if isinstance(value, list) and len(value) == 4 else []
    if len(numbers) != 4 or any(n is None or n < 0 or n != n.to_integral_value() for n in numbers):
        raise _Bad(f"must be four whole numbers of pixels: {', '.join(_BOX_SIDES)}")
    left, top, right, bottom = (int(n) for n in numbers if n is not None)
    if right <= left or bottom <= top:
        raise _Bad("must have its right edge past its left and its bottom below its top")
    return [left, top, right, bottom]
