"""Read ``data/*.json`` into a :class:`Catalog` of :class:`ModelSpec` objects, checking the data."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import CatalogError, UnknownModel
from .pricing import check_price
from .specs import (
    DOC_ASPECTS,
    FAMILIES,
    FIELD_TYPES,
    KINDS,
    NUMERIC_TYPES,
    OPERATIONS,
    OUTPUTS,
    PARENT_VALUES,
    TEXT_TYPES,
    FieldSpec,
    ModelSpec,
)
from .validation import _Invalid, check_constraints, check_rule_shape, coerce_value

#: Data files in display order; any other ``*.json`` file in ``data/`` follows alphabetically.
DATA_FILES: tuple[str, ...] = (
    "images.json",
    "gpt4o_image.json",
    "flux_kontext.json",
    "image_tools.json",
    "veo.json",
    "video.json",
    "runway.json",
    "audio.json",
    "suno.json",
)

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
)
#: Added by the HTTP client, never a user input.
RESERVED_FIELDS = frozenset({"callBackUrl", "model", "progressCallBackUrl"})
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


class Catalog:
    """All models, in a stable display order (kind, then data file, then position in the file)."""

    def __init__(self, models: Iterable[ModelSpec]):
        self._models = tuple(models)
        self._by_key: dict[str, ModelSpec] = {}
        for spec in self._models:
            if spec.key in self._by_key:
                raise CatalogError([f"duplicate model key {spec.key!r}"])
            self._by_key[spec.key] = spec

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self._models

    @property
    def originals(self) -> tuple[ModelSpec, ...]:
        """Models the Generate page offers (follow-up-only entries are reached from a result instead)."""
        return tuple(spec for spec in self._models if not spec.followup_only)

    def get(self, key: str) -> ModelSpec:
        try:
            return self._by_key[key]
        except (KeyError, TypeError):
            raise UnknownModel(key, tuple(self._by_key)) from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def keys(self) -> tuple[str, ...]:
        return tuple(spec.key for spec in self._models)

    def by_kind(self, kind: str) -> tuple[ModelSpec, ...]:
        if kind not in KINDS:
            raise ValueError(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return tuple(spec for spec in self._models if spec.kind == kind)

    def by_family(self, family: str) -> tuple[ModelSpec, ...]:
        if family not in FAMILIES:
            raise ValueError(f"Unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
        return tuple(spec for spec in self._models if spec.family == family)

    def by_model(self, family: str, model: str | None) -> tuple[ModelSpec, ...]:
        """Entries that send this Kie ``model`` value in ``family`` (a model may back several entries)."""
        return tuple(spec for spec in self._models if spec.family == family and spec.model == model)

    def kinds(self) -> tuple[str, ...]:
        """Kinds that have at least one model, in ``KINDS`` order."""
        present = {spec.kind for spec in self._models}
        return tuple(kind for kind in KINDS if kind in present)

    def families(self) -> tuple[str, ...]:
        present = {spec.family for spec in self._models}
        return tuple(family for family in FAMILIES if family in present)

    def makers(self, *, originals: bool = True) -> tuple[tuple[str, str], ...]:
        """``(key, name)`` of the makers that have a model (on the Generate page, with ``originals``)."""
        models = self.originals if originals else self._models
        present = {spec.maker for spec in models}
        return tuple((key, name) for key, name, _ in load_makers() if key in present)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} models>"


@functools.cache
def load_catalog() -> Catalog:
    """The catalog shipped in ``kiestudio/kie/catalog/data`` (read and checked once, then cached)."""
    data = resources.files(__package__).joinpath("data")
    files = {item.name: item.read_text(encoding="utf-8") for item in data.iterdir() if item.name.endswith(".json")}
    return parse_catalog(files)


def get_model(key: str) -> ModelSpec:
    """Shortcut for ``load_catalog().get(key)``."""
    return load_catalog().get(key)


def read_catalog(directory: str | Path) -> Catalog:
    """Read and check a catalog from another directory of JSON files (not cached)."""
    path = Path(directory)
    return parse_catalog({item.name: item.read_text(encoding="utf-8") for item in sorted(path.glob("*.json"))})


def parse_catalog(files: Mapping[str, str]) -> Catalog:
    """Build a catalog from ``{file name: JSON text}``; raises :class:`CatalogError` listing every problem."""
    order = {name: index for index, name in enumerate(DATA_FILES)}
    names = sorted(files, key=lambda name: (order.get(name, len(order)), name))
    problems: list[str] = []
    entries: list[tuple[int, int, int, ModelSpec]] = []
    seen: dict[str, str] = {}
    for file_index, name in enumerate(names):
        try:
            document = json.loads(files[name])
        except ValueError as exc:
            problems.append(f"{name}: invalid JSON ({exc})")
            continue
        if not isinstance(document, dict) or not isinstance(document.get("models"), list):
            problems.append(f"{name}: expected an object with a 'models' list")
            continue
        group = name.removesuffix(".json")
        for position, raw in enumerate(document["models"]):
            where = f"{name}[{position}]" + (f" ({raw.get('key')})" if isinstance(raw, dict) else "")
            spec, found = build_model(raw, where, group)
            problems += found
            if spec is None:
                continue
            if spec.key in seen:
                problems.append(f"{where}: key {spec.key!r} is already used in {seen[spec.key]}")
                continue
            seen[spec.key] = name
            entries.append((list(KINDS).index(spec.kind), file_index, position, spec))
    makers = load_makers()
    for index, (*order, spec) in enumerate(entries):
        # A key no maker claims gets none (tests/catalog checks that every shipped model has one).
        entries[index] = (*order, dataclasses.replace(spec, maker=maker_of(spec.key, makers) or ""))
    if problems:
        raise CatalogError(problems)
    entries.sort(key=lambda entry: entry[:3])
    return Catalog(entry[3] for entry in entries)


@functools.cache
def load_makers() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``(key, name, prefixes)`` for every maker, in display order (``makers.json``)."""
    raw = json.loads(resources.files(__package__).joinpath("makers.json").read_text(encoding="utf-8"))
    return tuple((m["key"], m["name"], tuple(m["prefixes"])) for m in raw["makers"])


def maker_of(key: str, makers: tuple[tuple[str, str, tuple[str, ...]], ...] | None = None) -> str | None:
    for maker, _, prefixes in makers if makers is not None else load_makers():
        if key.startswith(prefixes):
            return maker
    return None


def build_model(raw: Any, where: str, group: str = "") -> tuple[ModelSpec | None, list[str]]:
    """Turn one JSON entry into a ModelSpec and list every problem found in it."""
    if not isinstance(raw, dict):
        return None, [f"{where}: a model entry must be an object"]
    problems = [f"{where}: missing {key!r}" for key in MODEL_KEYS_REQUIRED if key not in raw]
    unknown = set(raw) - set(MODEL_KEYS_REQUIRED) - set(MODEL_KEYS_OPTIONAL)
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
    if problems:
        return None, problems

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
    if family in FAMILIES:
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
    for text_key in ("name", "description"):
        if not isinstance(raw[text_key], str) or not raw[text_key].strip():
            problems.append(f"{where}: {text_key} must be non-empty text")
    typical, deadline = raw["typical_seconds"], raw["deadline_seconds"]
    if not (isinstance(typical, int) and not isinstance(typical, bool) and typical > 0):
        problems.append(f"{where}: typical_seconds must be a positive integer")
    elif not (isinstance(deadline, int) and not isinstance(deadline, bool) and deadline > typical):
        problems.append(f"{where}: deadline_seconds must be an integer above typical_seconds")
    price_note = raw.get("price_note")
    if price_note is not None and not (isinstance(price_note, str) and price_note.strip()):
        problems.append(f"{where}: price_note must be non-empty text or absent")

    fields: list[FieldSpec] = []
    if not isinstance(raw["fields"], list):
        problems.append(f"{where}: fields must be a list")
    else:
        for index, raw_field in enumerate(raw["fields"]):
            field, found = build_field(raw_field, f"{where}.fields[{index}]")
            problems += found
            if field is not None:
                fields.append(field)
    names = [field.name for field in fields]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"{where}: duplicate field(s) {duplicates}")
    prompt_field = raw["prompt_field"]
    if prompt_field is not None:
        matching = [field for field in fields if field.name == prompt_field]
        if not matching or matching[0].type not in TEXT_TYPES:
            problems.append(f"{where}: prompt_field {prompt_field!r} must name a text field")
    problems += check_price(raw["price"], frozenset(names), f"{where}.price")
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        problems.append(f"{where}: rules must be a list")
        rules = []
    followup_only = raw.get("followup_only", False)
    from_parent = raw.get("from_parent", {})
    parent_media = raw.get("parent_media")
    operation = raw.get("operation", "create")
    problems += _check_followup(where, kind, names, followup_only, from_parent, parent_media, operation)
    differences = raw.get("docs_differences", {})
    problems += _check_differences(where, differences, names)
    added = raw.get("added")
    if added is not None and not (isinstance(added, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", added)):
        problems.append(f"{where}: added must be an ISO date (YYYY-MM-DD)")
    if problems:
        return None, problems

    spec = ModelSpec(
        key=key,
        model=raw["model"],
        family=family,
        kind=kind,
        output=output,
        name=raw["name"].strip(),
        description=raw["description"].strip(),
        endpoint=raw["endpoint"],
        record_endpoint=raw["record_endpoint"],
        typical_seconds=typical,
        deadline_seconds=deadline,
        prompt_field=prompt_field,
        fields=tuple(fields),
        price=raw["price"],
        rules=tuple(rules),
        price_note=price_note,
        group=group,
        followup_only=followup_only,
        from_parent=MappingProxyType(dict(from_parent)),
        parent_media=parent_media,
        operation=operation,
        docs_differences=MappingProxyType(
            {name: MappingProxyType(dict(aspects)) for name, aspects in differences.items()}
        ),
        added=added,
    )
    for index, rule in enumerate(rules):
        problems += check_rule_shape(spec, rule, f"{where}.rules[{index}]")
    for shown in fields:
        for name in shown.shown_when or {}:
            if name == shown.name or name not in names:
                problems.append(f"{where} {shown.name!r}: shown_when names {name!r}, which is not another field")
    return (None if problems else spec), problems


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
            if aspect not in DOC_ASPECTS:
                problems.append(f"{where}: docs_differences[{name!r}]: unknown aspect {aspect!r}")
            if not isinstance(reason, str) or len(reason.strip()) < 10:
                problems.append(f"{where}: docs_differences[{name!r}][{aspect!r}] needs a reason")
            if (name == "*") != (aspect == "undocumented"):
                problems.append(f"{where}: docs_differences: 'undocumented' goes on '*' and only there")
            elif aspect not in ("missing", "undocumented") and name not in names:
                problems.append(f"{where}: docs_differences names {name!r}, which is not a field")
            elif aspect == "missing" and name in names:
                problems.append(f"{where}: docs_differences says {name!r} is missing, but it is a field")
    return problems


def _check_followup(
    where: str, kind: str, names: list[str], followup_only: Any, from_parent: Any, parent_media: Any, operation: Any
) -> list[str]:
    problems = []
    if not isinstance(followup_only, bool):
        problems.append(f"{where}: followup_only must be true or false")
    elif kind in FOLLOWUP_KINDS and not followup_only:
        problems.append(f"{where}: kind {kind} is made from an earlier result; set followup_only")
    if not isinstance(from_parent, dict):
        problems.append(f"{where}: from_parent must be an object")
    else:
        for wire, value in from_parent.items():
            if value not in PARENT_VALUES:
                problems.append(f"{where}: from_parent {wire!r} takes {value!r}; use one of {', '.join(PARENT_VALUES)}")
            if wire in names:
                problems.append(f"{where}: from_parent {wire!r} is also a form field")
    if parent_media is not None and (not isinstance(parent_media, str) or parent_media in names):
        problems.append(f"{where}: parent_media must name a wire field that is not a form field")
    if operation not in OPERATIONS:
        problems.append(f"{where}: operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    if (from_parent or parent_media or operation != "create") and followup_only is not True:
        problems.append(f"{where}: a model that needs a parent must be followup_only")
    return problems


def build_field(raw: Any, where: str) -> tuple[FieldSpec | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: a field must be an object"]
    problems = [f"{where}: missing {key!r}" for key in FIELD_KEYS_REQUIRED if key not in raw]
    unknown = set(raw) - set(FIELD_KEYS_REQUIRED) - set(FIELD_KEYS_OPTIONAL)
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
    if problems:
        return None, problems
    name, kind = raw["name"], raw["type"]
    where = f"{where} {name!r}"
    if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
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
    choices = raw.get("choices")
    if kind == "enum":
        if not isinstance(choices, list) or not choices:
            problems.append(f"{where}: an enum needs a non-empty choices list")
            choices = []
        elif len({json.dumps(choice) for choice in choices}) != len(choices):
            problems.append(f"{where}: duplicate choices")
    elif choices is not None:
        problems.append(f"{where}: only enum fields have choices")
    choice_labels = raw.get("choice_labels")
    if choice_labels is not None and (
        kind != "enum"
        or not isinstance(choice_labels, list)
        or len(choice_labels) != len(choices or [])
        or not all(isinstance(label, str) and label.strip() for label in choice_labels)
    ):
        problems.append(f"{where}: choice_labels must be one non-empty label per choice")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is not None and (
            kind not in NUMERIC_TYPES or isinstance(value, bool) or not isinstance(value, int | float)
        ):
            problems.append(f"{where}: {bound} needs a numeric field and a number")
    for bound in ("min_length", "max_length", "min_items", "max_items"):
        value = raw.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append(f"{where}: {bound} must be a non-negative integer")
    for low, high in (("min", "max"), ("min_length", "max_length"), ("min_items", "max_items")):
        if isinstance(raw.get(low), int | float) and isinstance(raw.get(high), int | float) and raw[low] > raw[high]:
            problems.append(f"{where}: {low} is above {high}")
    shown_when = raw.get("shown_when")
    if shown_when is not None and not (
        isinstance(shown_when, dict)
        and shown_when
        and all(
            isinstance(want, str | int | float | bool)
            or (isinstance(want, list) and want and all(isinstance(w, str | int | float | bool) for w in want))
            for want in shown_when.values()
        )
    ):
        problems.append(f"{where}: shown_when maps other fields to a value or a list of values")
    if problems:
        return None, problems
    default = raw["default"]
    field = FieldSpec(
        name=name,
        type=kind,
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
        choice_labels=tuple(choice_labels or ()),
        shown_when=MappingProxyType(dict(shown_when)) if shown_when else None,
    )
    if default is not None:
        try:
            coerced = coerce_value(field, default)
        except _Invalid as exc:
            return None, [f"{where}: default {default!r} is invalid: {exc}"]
        if coerced != default or type(coerced) is not type(default):
            problems.append(f"{where}: default {default!r} should be written as {coerced!r}")
        problems += [f"{where}: default {default!r}: {problem}" for problem in check_constraints(field, coerced)]
    return (None if problems else field), problems
