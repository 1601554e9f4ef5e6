"""Check one model entry of the catalog data and build its :class:`ModelSpec` (used by :mod:`.loader`).

:func:`build_model` runs the checks in order: the entry's keys; its identity (key, family, kind, output); its
family's endpoints and model value; its texts and timings; its fields (:func:`~.fields.build_field`); its price,
rules, follow-up settings and documented differences. It then builds the spec and checks what needs the whole spec
(rule shapes, ``shown_when`` references).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from .fields import build_field, key_problems
from .pricing import check_price
from .specs import DOC_ASPECTS, FAMILIES, KINDS, OPERATIONS, OUTPUTS, PARENT_VALUES, TEXT_TYPES, FieldSpec, ModelSpec
from .validation import check_rule_shape

__all__ = ["FOLLOWUP_KINDS", "KEY_PATTERN", "KIND_OUTPUT", "MODEL_KEYS_OPTIONAL", "MODEL_KEYS_REQUIRED", "build_model"]

MODEL_KEYS_REQUIRED: tuple[str, ...] = (
    "key",
    "model",
    "family",
    "kind",
    "output",
    "name",
    "description",
    "endpoint",
    "record_endpoint",
    "typical_seconds",
    "deadline_seconds",
    "prompt_field",
    "fields",
    "price",
)
MODEL_KEYS_OPTIONAL: tuple[str, ...] = (
    "rules",
    "price_note",
    "followup_only",
    "from_parent",
    "parent_media",
    "operation",
    "docs_differences",
    "added",
)
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._/-]*$", re.IGNORECASE)
KIND_OUTPUT = {
    "text_to_image": "image",
    "image_edit": "image",
    "remove_background": "image",
    "text_to_video": "video",
    "image_to_video": "video",
    "video_to_video": "video",
    "speech": "audio",
    "sound_effect": "audio",
    "audio_edit": "audio",
    "talking_video": "video",
    "music": "audio",
    "video_extend": "video",
    "video_upgrade": "video",
    "music_remix": "audio",
    "stems": "audio",
    "audio_convert": "audio",
    "midi": "audio",
    "cover_art": "image",
    "music_video": "video",
}
#: Kinds made only from an earlier result: their models must be ``followup_only``.
FOLLOWUP_KINDS = frozenset(
    {"video_extend", "video_upgrade", "music_remix", "stems", "audio_convert", "midi", "cover_art", "music_video"}
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def build_model(raw: Any, where: str, group: str = "") -> tuple[ModelSpec | None, list[str]]:
    """Turn one JSON entry into a ModelSpec and list every problem found in it."""
    if not isinstance(raw, dict):
        return None, [f"{where}: a model entry must be an object"]
    problems = key_problems(raw, where, MODEL_KEYS_REQUIRED, MODEL_KEYS_OPTIONAL)
    if problems:
        return None, problems
    problems += _identity_problems(raw, where)
    problems += _family_problems(raw, where)
    problems += _text_and_timing_problems(raw, where)
    fields, found = _built_fields(raw, where)
    problems += found
    names = [field.name for field in fields]
    problems += check_price(raw["price"], frozenset(names), f"{where}.price")
    rules, found = _checked_rules(raw, where)
    problems += found
    problems += _check_followup(where, raw, names)
    problems += _check_differences(where, raw.get("docs_differences", {}), names)
    problems += _added_problems(raw.get("added"), where)
    if problems:
        return None, problems
    spec = _spec_from(raw, group, fields, rules)
    problems += _whole_spec_problems(spec, rules, where)
    return (None if problems else spec), problems


def _identity_problems(raw: dict[str, Any], where: str) -> list[str]:
    """Key, family, kind and output, and the output the kind produces."""
    problems = []
    key, family, kind, output = raw["key"], raw["family"], raw["kind"], raw["output"]
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems.append(f"{where}: key must be a URL-safe string")
    if family not in FAMILIES:
        problems.append(f"{where}: family {family!r} is not one of {', '.join(FAMILIES)}")
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if output not in OUTPUTS:
        problems.append(f"{where}: output {output!r} is not one of {', '.join(OUTPUTS)}")
    elif kind in KIND_OUTPUT and KIND_OUTPUT[kind] != output:
        problems.append(f"{where}: kind {kind} produces {KIND_OUTPUT[kind]}, not {output}")
    return problems


def _family_problems(raw: dict[str, Any], where: str) -> list[str]:
    """The endpoints and model value the entry's family expects (nothing to say about an unknown family)."""
    family = raw["family"]
    if family not in FAMILIES:
        return []
    problems = []
    info = FAMILIES[family]
    endpoints = (info["create_endpoint"], *info.get("other_endpoints", ()))
    if raw["endpoint"] not in endpoints:
        problems.append(f"{where}: endpoint should be one of {list(endpoints)} for family {family}")
    if raw["record_endpoint"] != info["record_endpoint"]:
        problems.append(f"{where}: record_endpoint should be {info['record_endpoint']!r} for family {family}")
    if info["model_param"] is None and raw["model"] is not None:
        problems.append(f"{where}: family {family} takes no model value; use null")
    if info["model_param"] is not None and not (isinstance(raw["model"], str) and raw["model"]):
        problems.append(f"{where}: family {family} needs a model value")
    return problems


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text_and_timing_problems(raw: dict[str, Any], where: str) -> list[str]:
    problems = []
    for text_key in ("name", "description"):
        if not isinstance(raw[text_key], str) or not raw[text_key].strip():
            problems.append(f"{where}: {text_key} must be non-empty text")
    typical, deadline = raw["typical_seconds"], raw["deadline_seconds"]
    if not _is_positive_int(typical):
        problems.append(f"{where}: typical_seconds must be a positive integer")
    elif not (_is_positive_int(deadline) and deadline > typical):
        problems.append(f"{where}: deadline_seconds must be an integer above typical_seconds")
    price_note = raw.get("price_note")
    if price_note is not None and not (isinstance(price_note, str) and price_note.strip()):
        problems.append(f"{where}: price_note must be non-empty text or absent")
    return problems


def _built_fields(raw: dict[str, Any], where: str) -> tuple[list[FieldSpec], list[str]]:
    """The entry's fields that are sound, and every problem with the list: bad fields, duplicates, the prompt."""
    fields: list[FieldSpec] = []
    problems: list[str] = []
    if not isinstance(raw["fields"], list):
        problems.append(f"{where}: fields must be a list")
    for index, raw_field in enumerate(raw["fields"] if isinstance(raw["fields"], list) else ()):
        field, found = build_field(raw_field, f"{where}.fields[{index}]")
        problems += found
        if field is not None:
            fields.append(field)
    names = [field.name for field in fields]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"{where}: duplicate field(s) {duplicates}")
    return fields, problems + _prompt_field_problems(raw["prompt_field"], fields, where)


def _prompt_field_problems(prompt_field: Any, fields: list[FieldSpec], where: str) -> list[str]:
    if prompt_field is None:
        return []
    matching = [field for field in fields if field.name == prompt_field]
    if not matching or matching[0].type not in TEXT_TYPES:
        return [f"{where}: prompt_field {prompt_field!r} must name a text field"]
    return []


def _checked_rules(raw: dict[str, Any], where: str) -> tuple[list[Any], list[str]]:
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        return [], [f"{where}: rules must be a list"]
    return rules, []


def _added_problems(added: Any, where: str) -> list[str]:
    if added is not None and not (isinstance(added, str) and _DATE.fullmatch(added)):
        return [f"{where}: added must be an ISO date (YYYY-MM-DD)"]
    return []


def _spec_from(raw: dict[str, Any], group: str, fields: list[FieldSpec], rules: list[Any]) -> ModelSpec:
    differences = raw.get("docs_differences", {})
    return ModelSpec(
        key=raw["key"],
        model=raw["model"],
        family=raw["family"],
        kind=raw["kind"],
        output=raw["output"],
        name=raw["name"].strip(),
        description=raw["description"].strip(),
        endpoint=raw["endpoint"],
        record_endpoint=raw["record_endpoint"],
        typical_seconds=raw["typical_seconds"],
        deadline_seconds=raw["deadline_seconds"],
        prompt_field=raw["prompt_field"],
        fields=tuple(fields),
        price=raw["price"],
        rules=tuple(rules),
        price_note=raw.get("price_note"),
        group=group,
        followup_only=raw.get("followup_only", False),
        from_parent=MappingProxyType(dict(raw.get("from_parent", {}))),
        parent_media=raw.get("parent_media"),
        operation=raw.get("operation", "create"),
        docs_differences=MappingProxyType(
            {name: MappingProxyType(dict(aspects)) for name, aspects in differences.items()}
        ),
        added=raw.get("added"),
    )


def _whole_spec_problems(spec: ModelSpec, rules: list[Any], where: str) -> list[str]:
    """Rule shapes (they name fields and choices), and ``shown_when`` naming only other fields."""
    problems = []
    for index, rule in enumerate(rules):
        problems += check_rule_shape(spec, rule, f"{where}.rules[{index}]")
    names = spec.field_names
    for shown in spec.fields:
        for name in shown.shown_when or {}:
            if name == shown.name or name not in names:
                problems.append(f"{where} {shown.name!r}: shown_when names {name!r}, which is not another field")
    return problems


def _check_differences(where: str, differences: Any, names: list[str]) -> list[str]:
    """``docs_differences``: ``{field: {aspect: reason}}``; every reason is real text, every field one of ours (a
    ``missing`` field is one we leave out, and ``*`` stands for the whole model)."""
    if not isinstance(differences, dict):
        return [f"{where}: docs_differences must be an object"]
    problems = []
    for name, aspects in differences.items():
        if not isinstance(aspects, dict) or not aspects:
            problems.append(f"{where}: docs_differences[{name!r}] must map aspects to reasons")
            continue
        for aspect, reason in aspects.items():
            problems += _difference_problems(where, name, aspect, reason, names)
    return problems


def _difference_problems(where: str, name: str, aspect: Any, reason: Any, names: list[str]) -> list[str]:
    """What is wrong with one ``docs_differences[name][aspect] = reason``."""
    found = []
    if aspect not in DOC_ASPECTS:
        found.append(f"{where}: docs_differences[{name!r}]: unknown aspect {aspect!r}")
    if not isinstance(reason, str) or len(reason.strip()) < 10:
        found.append(f"{where}: docs_differences[{name!r}][{aspect!r}] needs a reason")
    if (name == "*") != (aspect == "undocumented"):
        found.append(f"{where}: docs_differences: 'undocumented' goes on '*' and only there")
    elif aspect not in ("missing", "undocumented") and name not in names:
        found.append(f"{where}: docs_differences names {name!r}, which is not a field")
    elif aspect == "missing" and name in names:
        found.append(f"{where}: docs_differences says {name!r} is missing, but it is a field")
    return found


def _check_followup(where: str, raw: dict[str, Any], names: list[str]) -> list[str]:
    """``followup_only``, ``from_parent``, ``parent_media`` and ``operation``, which belong together."""
    followup_only = raw.get("followup_only", False)
    from_parent = raw.get("from_parent", {})
    parent_media = raw.get("parent_media")
    operation = raw.get("operation", "create")
    problems = _followup_flag_problems(where, raw["kind"], followup_only)
    problems += _from_parent_problems(where, from_parent, names)
    if parent_media is not None and (not isinstance(parent_media, str) or parent_media in names):
        problems.append(f"{where}: parent_media must name a wire field that is not a form field")
    if operation not in OPERATIONS:
        problems.append(f"{where}: operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    if (from_parent or parent_media or operation != "create") and followup_only is not True:
        problems.append(f"{where}: a model that needs a parent must be followup_only")
    return problems


def _followup_flag_problems(where: str, kind: Any, followup_only: Any) -> list[str]:
    if not isinstance(followup_only, bool):
        return [f"{where}: followup_only must be true or false"]
    if kind in FOLLOWUP_KINDS and not followup_only:
        return [f"{where}: kind {kind} is made from an earlier result; set followup_only"]
    return []


def _from_parent_problems(where: str, from_parent: Any, names: list[str]) -> list[str]:
    if not isinstance(from_parent, dict):
        return [f"{where}: from_parent must be an object"]
    problems = []
    for wire, value in from_parent.items():
        if value not in PARENT_VALUES:
            problems.append(f"{where}: from_parent {wire!r} takes {value!r}; use one of {', '.join(PARENT_VALUES)}")
        if wire in names:
            problems.append(f"{where}: from_parent {wire!r} is also a form field")
    return problems
