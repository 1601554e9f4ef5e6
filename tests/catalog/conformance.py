"""Compare catalog entries with Kie's published field specs (``kie_docs/market-specs.json``).

The docs are the oracle: a catalog field must carry the documented name, type, choices, default, required
flag and length limits, unless the entry declares the difference in ``docs_differences`` with a reason.
Run ``python -m tests.catalog.conformance`` for a report of every undeclared difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kiestudio.kie.catalog import FAMILIES, FieldSpec, ModelSpec, load_catalog

DOCS = Path(__file__).resolve().parent / "kie_docs" / "market-specs.json"
#: Pages the parser behind market-specs.json missed, transcribed from the same mirror.
SUPPLEMENT = DOCS.with_name("supplement.json")
MARKET_PATH = "/api/v1/jobs/createTask"
#: Body keys the client adds itself (never catalog fields).
CLIENT_KEYS = frozenset({"callBackUrl", "model", "progressCallBackUrl"})

#: Documented type -> catalog field types that carry it on the wire.
TYPES = {
    "string": {"text", "string", "enum", "image_url", "video_url", "audio_url"},
    "boolean": {"boolean", "enum"},
    "number": {"number", "integer", "enum"},
    "integer": {"integer", "enum"},
    "array": {"image_urls", "video_urls", "audio_urls", "json"},
    "object": {"json"},
}


@dataclass(frozen=True)
class Difference:
    field: str
    aspect: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.aspect} ({self.detail})"


@cache
def documents() -> dict[str, list[dict[str, Any]]]:
    docs = json.loads(DOCS.read_text(encoding="utf-8"))
    extra = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))
    for path, entries in extra.items():
        if path.startswith("/"):
            docs.setdefault(path, []).extend(entries)
    return docs


def market_ids() -> set[str]:
    """The Market model ids Kie's docs snapshot lists (the supplement adds none of its own)."""
    snapshot = json.loads(DOCS.read_text(encoding="utf-8"))
    return {model for entry in snapshot[MARKET_PATH] for model in entry["ids"]}


def documented_specs(spec: ModelSpec) -> list[dict[str, Any]]:
    """Every documented field spec that describes ``spec`` (a doc slip may list one id on two pages)."""
    if spec.family == "market":
        return [entry["fields"] for entry in documents()[MARKET_PATH] if spec.model in entry["ids"] and entry["fields"]]
    path = spec.endpoint.split(" ", 1)[1]
    found = []
    for entry in documents().get(path, []):
        if not entry["fields"]:
            continue
        # Family endpoints list their own ``model`` values; a follow-up (Veo extend: fast/quality) names them apart.
        other_model = bool(entry["ids"]) and spec.model is not None and spec.model not in entry["ids"]
        if other_model and FAMILIES[spec.family].get("model_param") and not spec.followup_only:
            continue
        found.append(entry["fields"])
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _choice_types_fit(field: FieldSpec, doc_type: str) -> bool:
    if doc_type == "string":
        return all(isinstance(choice, str) for choice in field.choices)
    if doc_type == "boolean":
        return all(isinstance(choice, bool) for choice in field.choices)
    return all(isinstance(choice, int | float) and not isinstance(choice, bool) for choice in field.choices)


def compare(spec: ModelSpec, doc: dict[str, dict[str, Any]]) -> list[Difference]:
    """Every way ``spec`` differs from one documented field spec."""
    out: list[Difference] = []
    ours = {field.name: field for field in spec.fields}
    filled = set(spec.from_parent) | ({spec.parent_media} if spec.parent_media else set())
    for name in doc:
        if name not in ours and name not in CLIENT_KEYS and name not in filled:
            out.append(Difference(name, "missing", "documented, not offered"))
    for name, field in ours.items():
        if name not in doc:
            out.append(Difference(name, "extra", "not in the documented spec"))
            continue
        want = doc[name]
        doc_type = want["type"]
        if field.type not in TYPES.get(doc_type, set()) or (
            field.type == "enum" and not _choice_types_fit(field, doc_type)
        ):
            out.append(Difference(name, "type", f"ours {field.type}, documented {doc_type}"))
        if "enum" in want:
            if field.type != "enum" or {_text(c) for c in field.choices} != {_text(c) for c in want["enum"]}:
                ours_choices = [_text(c) for c in field.choices] if field.type == "enum" else "free input"
                out.append(Difference(name, "enum", f"ours {ours_choices}, documented {want['enum']}"))
        elif field.type == "enum" and doc_type != "boolean":
            out.append(Difference(name, "enum", f"ours {[_text(c) for c in field.choices]}, documented free input"))
        documented_default = want.get("default")
        required = bool(want.get("req"))
        if documented_default is not None:
            if field.default is None or _text(field.default) != _text(documented_default):
                out.append(Difference(name, "default", f"ours {field.default!r}, documented {documented_default!r}"))
        elif field.default is not None and not required:
            # Kie applies its own default when the field is left out; ours would always be sent instead.
            out.append(Difference(name, "default", f"ours {field.default!r}, documented none"))
        always_sent = field.required or field.default is not None
        if required and not always_sent:
            out.append(Difference(name, "required", "documented required, ours optional"))
        if field.required and not required:
            out.append(Difference(name, "required", "ours required, documented optional"))
        if doc_type == "string" and field.max_length != want.get("maxLength"):
            out.append(Difference(name, "max_length", f"ours {field.max_length}, documented {want.get('maxLength')}"))
        if doc_type == "array" and field.type != "json" and field.max_items != want.get("maxItems"):
            out.append(Difference(name, "max_items", f"ours {field.max_items}, documented {want.get('maxItems')}"))
    return out


def undeclared(spec: ModelSpec) -> list[Difference]:
    """Differences from the closest documented spec that ``docs_differences`` does not declare."""
    docs = documented_specs(spec)
    declared = spec.docs_differences
    if not docs:
        if "undocumented" in declared.get("*", {}):
            return []
        return [Difference("*", "undocumented", "no documented spec; declare why, or fix the model id")]
    best = min((compare(spec, doc) for doc in docs), key=lambda found: len(_open(found, declared)))
    return _open(best, declared)


def stale(spec: ModelSpec) -> list[str]:
    """Declared differences that no longer exist (the declaration must go when the catalog is fixed)."""
    docs = documented_specs(spec)
    declared = {(name, aspect) for name, aspects in spec.docs_differences.items() for aspect in aspects}
    if not docs:
        return sorted(f"{name}: {aspect}" for name, aspect in declared if aspect != "undocumented")
    real = set()
    for doc in docs:
        real |= {(d.field, d.aspect) for d in compare(spec, doc)}
    return sorted(f"{name}: {aspect}" for name, aspect in declared - real)


def _open(found: Iterable[Difference], declared) -> list[Difference]:
    return [d for d in found if d.aspect not in declared.get(d.field, {})]


def checked_specs() -> list[ModelSpec]:
    """Catalog entries with a create call of their own (follow-ups of other families included)."""
    return [spec for spec in load_catalog() if spec.operation == "create"]


if __name__ == "__main__":  # pragma: no cover - a report for people editing the catalog
    for spec in checked_specs():
        problems = undeclared(spec) + [f"stale declaration {s}" for s in stale(spec)]
        if problems:
            print(spec.key)
            for problem in problems:
                print("   ", problem)
