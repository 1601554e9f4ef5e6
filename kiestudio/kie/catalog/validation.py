"""Turn form-ish user input into the exact values Kie expects for a model.

``validate_inputs`` coerces strings from HTML forms ("true", "on", "12", "0.5", newline- or
comma-separated URL lists, JSON text) to real types, fills in defaults, drops empty optional
values, and checks every constraint and cross-field rule declared in the catalog data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from .conditions import as_list, condition_matches, is_empty, is_http_url, price_key
from .errors import InputValidationError
from .items import ItemsInvalid, coerce_items
from .specs import NUMERIC_TYPES, TEXT_TYPES, URL_LIST_TYPES, URL_TYPES, FieldSpec, ModelSpec

TRUE_WORDS = frozenset({"true", "on", "yes", "1", "y", "t", "checked"})
FALSE_WORDS = frozenset({"false", "off", "no", "0", "n", "f", ""})
_URL_SPLIT = re.compile(r"[\s,]+")
_RULE_KEYS = frozenset({"when", "require", "require_any", "forbid", "limit", "total_items", "message", "field"})
_TOTAL_KEYS = frozenset({"fields", "max"})
_LIMIT_KEYS = frozenset({"min", "max", "min_length", "max_length", "min_items", "max_items", "choices"})
MAX_CHOICES_SHOWN = 12


class _Invalid(Exception):
    """Internal: what is wrong with one field: one message, or one per bad entry of a list of items."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def validate_inputs(spec: ModelSpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return clean inputs for ``spec`` (in field order) or raise :class:`InputValidationError`.

    ``raw`` may be a plain dict or a Django ``QueryDict`` (multi-valued URL list fields are read
    with ``getlist``). Unknown keys are rejected.
    """
    errors: dict[str, list[str]] = {}
    known = set(spec.field_names)
    for name in raw:
        if name not in known:
            errors.setdefault(str(name), []).append(f"Unknown field {name!r}: {spec.name} has no such option")

    cleaned: dict[str, Any] = {}
    for field in spec.fields:
        value = _read(raw, field)
        try:
            value = None if is_empty(value) else coerce_value(field, value)
        except _Invalid as exc:
            errors.setdefault(field.name, []).extend(exc.messages)
            continue
        if is_empty(value):
            if field.has_default:
                cleaned[field.name] = field.default_value()
            elif field.required:
                errors.setdefault(field.name, []).append(f"{field.label} is required")
            continue
        problems = check_constraints(field, value)
        if problems:
            errors.setdefault(field.name, []).extend(problems)
        else:
            cleaned[field.name] = value

    for rule in spec.rules:
        for name, message in check_rule(spec, rule, cleaned, errors):
            errors.setdefault(name, []).append(message)

    if errors:
        raise InputValidationError(errors)
    return cleaned


def _read(raw: Mapping[str, Any], field: FieldSpec) -> Any:
    if field.name not in raw:
        return None
    getlist = getattr(raw, "getlist", None)
    if field.is_list and callable(getlist):
        values = list(getlist(field.name))
        return values if len(values) != 1 else values[0]
    return raw[field.name]


# ---------------------------------------------------------------------------------------------
# Coercion


def coerce_value(field: FieldSpec, value: Any) -> Any:
    """Coerce one non-empty raw value to the field's type; raises ``_Invalid`` with a readable message."""
    kind = field.type
    if kind == "boolean":
        return _to_bool(field, value)
    if kind == "integer":
        return _to_int(field, value)
    if kind == "number":
        return _to_number(field, value)
    if kind == "enum":
        return _to_choice(field, value)
    if kind in TEXT_TYPES:
        return _to_text(field, value)
    if kind in URL_TYPES:
        if isinstance(value, list | tuple) and len(value) == 1:
            value = value[0]
        return _to_url(field, value)
    if kind in URL_LIST_TYPES:
        return _to_url_list(field, value)
    if kind == "json":
        return _to_json(field, value)
    raise _Invalid(f"{field.label}: unsupported field type {kind!r}")


def _to_bool(field: FieldSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, list | tuple) and value:
        # A checkbox paired with a hidden "false" input posts both values: the last one wins.
        return _to_bool(field, value[-1])
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise _Invalid(f"{field.label} must be true or false")


def _decimal(field: FieldSpec, value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _Invalid(f"{field.label} must be {what}")
    try:
        number = Decimal(value.strip().replace("_", "") if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise _Invalid(f"{field.label} must be {what}") from None
    if not number.is_finite():
        raise _Invalid(f"{field.label} must be {what}")
    return number


def _to_int(field: FieldSpec, value: Any) -> int:
    number = _decimal(field, value, "a whole number")
    if number != number.to_integral_value():
        raise _Invalid(f"{field.label} must be a whole number")
    return int(number)


def _to_number(field: FieldSpec, value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(f"{field.label} must be a number")
        return value
    number = _decimal(field, value, "a number")
    if number == number.to_integral_value() and "." not in str(value) and "e" not in str(value).lower():
        return int(number)
    return float(number)


def _to_choice(field: FieldSpec, value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        value = value.strip()
    key = price_key(value)
    for choice in field.choices:
        if price_key(choice) == key:
            return choice
    folded = [choice for choice in field.choices if price_key(choice).casefold() == key.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise _Invalid(f"{field.label}: choose one of {describe_choices(field.choices)}")


def describe_choices(choices: tuple[Any, ...]) -> str:
    shown = [price_key(choice) for choice in choices[:MAX_CHOICES_SHOWN]]
    if len(choices) > MAX_CHOICES_SHOWN:
        shown.append("…")
    return ", ".join(shown)


def _to_text(field: FieldSpec, value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return price_key(value)
    if not isinstance(value, str):
        raise _Invalid(f"{field.label} must be text")
    return value.strip()


def _to_url(field: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{field.label} must be a web address (URL)")
    url = value.strip()
    if not is_http_url(url):
        raise _Invalid(f"{field.label} must be a web address starting with http:// or https://")
    return url


def _to_url_list(field: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise _Invalid(f"{field.label} must be a list of web addresses (URLs)")
    urls: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise _Invalid(f"{field.label} must be a list of web addresses (URLs)")
        urls.extend(part for part in _URL_SPLIT.split(item.strip()) if part)
    bad = [str(position) for position, url in enumerate(urls, start=1) if not is_http_url(url)]
    if bad:
        if len(bad) == 1:
            raise _Invalid(f"{field.label}: item {bad[0]} must be a web address starting with http:// or https://")
        raise _Invalid(f"{field.label}: items {', '.join(bad)} must be web addresses starting with http:// or https://")
    return urls


def _to_json(field: FieldSpec, value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Invalid(f"{field.label} must be valid JSON") from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list | dict):
        raise _Invalid(f"{field.label} must be a JSON list or object")
    if field.item_fields:
        try:
            return coerce_items(field, value)
        except ItemsInvalid as exc:
            raise _Invalid(*exc.messages) from None
    return value


# ---------------------------------------------------------------------------------------------
# Constraints


def _fmt(number: Any) -> str:
    return price_key(number)


def check_constraints(field: FieldSpec, value: Any) -> list[str]:
    """Messages for every constraint the (coerced) value breaks."""
    problems: list[str] = []
    label = field.label
    if field.type in NUMERIC_TYPES:
        if field.min is not None and value < field.min:
            problems.append(f"{label} must be at least {_fmt(field.min)}")
        if field.max is not None and value > field.max:
            problems.append(f"{label} must be at most {_fmt(field.max)}")
    if field.type == "enum" and field.choices and value not in field.choices:
        problems.append(f"{label}: choose one of {describe_choices(field.choices)}")
    if isinstance(value, str) and field.type in TEXT_TYPES:
        length = len(value)
        if field.min_length is not None and length < field.min_length:
            problems.append(f"{label} must be at least {field.min_length} characters (it has {length})")
        if field.max_length is not None and length > field.max_length:
            problems.append(f"{label} must be at most {field.max_length} characters (it has {length})")
    if isinstance(value, list):
        count = len(value)
        noun = field.item_label.lower() or "item"
        if field.min_items is not None and count < field.min_items:
            problems.append(
                f"{label} needs at least {field.min_items} {noun}{'s' * (field.min_items != 1)} (got {count})"
            )
        if field.max_items is not None and count > field.max_items:
            problems.append(
                f"{label} allows at most {field.max_items} {noun}{'s' * (field.max_items != 1)} (got {count})"
            )
    return problems


# ---------------------------------------------------------------------------------------------
# Cross-field rules


def _describe_when(spec: ModelSpec, when: Mapping[str, Any]) -> str:
    parts = []
    for name, expected in when.items():
        label = spec.field(name).label if spec.has_field(name) else name
        if expected is None:
            parts.append(f"{label} is empty")
        elif isinstance(expected, Mapping):
            parts.append(f"{label} is {'set' if expected.get('present', True) else 'empty'}")
        else:
            parts.append(f"{label} is {' or '.join(price_key(item) for item in as_list(expected))}")
    return " and ".join(parts)


def _rule_fields(rule: Mapping[str, Any]) -> set[str]:
    names = set(rule.get("when", {})) | set(rule.get("require", [])) | set(rule.get("require_any", []))
    total = rule.get("total_items")
    total_fields = set(total.get("fields", [])) if isinstance(total, Mapping) else set()
    return names | set(rule.get("forbid", {})) | set(rule.get("limit", {})) | total_fields


def check_rule(
    spec: ModelSpec, rule: Mapping[str, Any], values: Mapping[str, Any], errors: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(field, message) pairs for a broken rule; empty when the rule holds or does not apply."""
    if errors and _rule_fields(rule) & set(errors):
        return []
    when = rule.get("when", {})
    if not condition_matches(when, values):
        return []
    context = f" when {_describe_when(spec, when)}" if when else ""
    custom = rule.get("message")
    found: list[tuple[str, str]] = []

    def label(name: str) -> str:
        return spec.field(name).label

    def present(name: str) -> bool:
        return name in values and not is_empty(values[name])

    for name in rule.get("require", []):
        if not present(name):
            found.append((name, custom or f"{label(name)} is required{context}"))
    any_of = rule.get("require_any", [])
    if any_of and not any(present(name) for name in any_of):
        names = " or ".join(label(name) for name in any_of)
        found.append((rule.get("field", any_of[0]), custom or f"Give {names}{context}"))
    for name, banned in rule.get("forbid", {}).items():
        if not present(name):
            continue
        if banned is None:
            found.append((name, custom or f"{label(name)} must be left empty{context}"))
        elif price_key(values[name]) in {price_key(item) for item in as_list(banned)}:
            found.append((name, custom or f"{label(name)} cannot be {price_key(values[name])}{context}"))
    for name, limits in rule.get("limit", {}).items():
        if not present(name):
            continue
        narrowing: dict[str, Any] = {k: tuple(v) if k == "choices" else v for k, v in limits.items()}
        narrowed = replace(spec.field(name), **narrowing)
        if narrowed.choices and price_key(values[name]) not in {price_key(c) for c in narrowed.choices}:
            found.append(
                (name, custom or f"{narrowed.label}: choose one of {describe_choices(narrowed.choices)}{context}")
            )
            continue
        for problem in check_constraints(replace(narrowed, choices=()), values[name]):
            found.append((name, custom or f"{problem}{context}"))
    if total := rule.get("total_items"):
        names = total["fields"]
        count = sum(len(as_list(values[name])) for name in names if present(name))
        if count > total["max"]:
            together = " and ".join(label(name) for name in names)
            message = f"{together} allow at most {total['max']} items together (got {count}){context}"
            found.append((rule.get("field", names[0]), custom or message))
    return found


def check_rule_shape(spec: ModelSpec, rule: Any, where: str) -> list[str]:
    """Structural problems in one rule (used when loading the catalog)."""
    if not isinstance(rule, Mapping):
        return [f"{where}: a rule must be an object"]
    problems = []
    if set(rule) - _RULE_KEYS:
        problems.append(f"{where}: unknown key(s) {sorted(set(rule) - _RULE_KEYS)}")
    if not any(key in rule for key in ("require", "require_any", "forbid", "limit", "total_items")):
        problems.append(f"{where}: needs one of require, require_any, forbid, limit, total_items")
    total = rule.get("total_items")
    if total is not None and not (
        isinstance(total, Mapping)
        and set(total) == _TOTAL_KEYS
        and isinstance(total["fields"], list)
        and len(total["fields"]) >= 2
        and isinstance(total["max"], int)
        and not isinstance(total["max"], bool)
        and total["max"] >= 0
    ):
        problems.append(f"{where}.total_items: needs 'fields' (two or more list fields) and a whole-number 'max'")
        return problems
    for name in sorted(_rule_fields(rule) | ({rule["field"]} if "field" in rule else set())):
        if not spec.has_field(name):
            problems.append(f"{where}: unknown field {name!r}")
    for name, limits in rule.get("limit", {}).items():
        if not isinstance(limits, Mapping) or set(limits) - _LIMIT_KEYS:
            problems.append(f"{where}.limit.{name}: allowed keys are {sorted(_LIMIT_KEYS)}")
    for name in total["fields"] if total is not None else ():
        if spec.has_field(name) and not spec.field(name).is_list:
            problems.append(f"{where}.total_items: {name!r} is not a list field")
    if "message" in rule and not (isinstance(rule["message"], str) and rule["message"].strip()):
        problems.append(f"{where}: message must be non-empty text")
    return problems
