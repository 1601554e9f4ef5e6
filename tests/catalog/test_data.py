"""Every catalog entry is complete, consistent and priced."""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kiestudio.kie.catalog import (
    FAMILIES,
    FIELD_TYPES,
    KINDS,
    OUTPUTS,
    InputValidationError,
    estimate_credits,
    load_catalog,
    validate_inputs,
)
from kiestudio.kie.catalog.loader import FIELD_KEYS_REQUIRED, MODEL_KEYS_REQUIRED

from .helpers import sample_inputs, sample_value

DATA_DIR = Path(__file__).resolve().parents[2] / "kiestudio" / "kie" / "catalog" / "data"
RAW_ENTRIES = [
    (path.name, entry)
    for path in sorted(DATA_DIR.glob("*.json"))
    for entry in json.loads(path.read_text(encoding="utf-8"))["models"]
]
SPECS = load_catalog().models
IDS = [spec.key for spec in SPECS]


def test_data_files_are_the_documented_groups():
    names = {path.name for path in DATA_DIR.glob("*.json")}
    assert {
        "images.json",
        "image_tools.json",
        "video.json",
        "audio.json",
        "veo.json",
        "suno.json",
        "gpt4o_image.json",
        "flux_kontext.json",
        "runway.json",
    } <= names


def test_at_least_45_models_and_every_kind_and_family_is_covered(catalog):
    assert len(catalog) >= 45
    assert len(RAW_ENTRIES) == len(catalog)
    assert set(catalog.kinds()) == set(KINDS)
    assert catalog.kinds() == tuple(KINDS)
    assert set(catalog.families()) == set(FAMILIES)
    for kind in KINDS:
        assert catalog.by_kind(kind), kind


def test_keys_are_unique_across_all_files():
    keys = [entry["key"] for _, entry in RAW_ENTRIES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("filename", "entry"), RAW_ENTRIES, ids=[e["key"] for _, e in RAW_ENTRIES])
def test_raw_entry_has_every_required_key(filename, entry):
    for key in MODEL_KEYS_REQUIRED:
        assert key in entry, f"{filename}: {entry.get('key')} lacks {key}"
    for field in entry["fields"]:
        for key in FIELD_KEYS_REQUIRED:
            assert key in field, f"{entry['key']}.{field.get('name')} lacks {key}"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_entry_is_complete_and_consistent(spec):
    assert spec.kind in KINDS
    assert spec.family in FAMILIES
    assert spec.output in OUTPUTS
    assert spec.name.strip() and spec.description.strip().endswith(".")
    assert spec.endpoint in (
        FAMILIES[spec.family]["create_endpoint"],
        *FAMILIES[spec.family].get("other_endpoints", ()),
    )
    assert spec.followup_only or spec.endpoint == FAMILIES[spec.family]["create_endpoint"]
    assert spec.record_endpoint == FAMILIES[spec.family]["record_endpoint"]
    assert 0 < spec.typical_seconds < spec.deadline_seconds
    assert spec.deadline_seconds >= 300
    if FAMILIES[spec.family]["model_param"] is None:
        assert spec.model is None
    else:
        assert isinstance(spec.model, str) and spec.model
    if spec.family == "market":
        # Market keys are Kie's own model ids; a second entry for one id (Kie documents qwen2/image-edit on a
        # text-to-image page too) takes a key of its own beside the entry keyed by the id.
        assert spec.key == spec.model or spec.model in IDS
    else:
        assert spec.key.startswith(("veo/", "suno/", "gpt4o-image", "flux-kontext/", "runway/"))
    if spec.prompt_field is not None:
        assert spec.field(spec.prompt_field).type in ("text", "string")
    assert spec.fields or spec.followup_only, spec.key  # a follow-up may need nothing but its parent
    assert len(set(spec.field_names)) == len(spec.fields)
    assert not {"callBackUrl", "model", "progressCallBackUrl"} & set(spec.field_names)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_fields_are_well_formed(spec):
    for field in spec.fields:
        assert field.type in FIELD_TYPES
        assert field.label and field.label[0].isupper(), field.name
        assert field.help, f"{spec.key}.{field.name} needs help text"
        if spec.family == "market":
            assert re.fullmatch(r"[a-z][a-z0-9_]*", field.name), f"Market inputs are snake_case: {field.name}"
        elif field.name != "aspect_ratio":  # Veo: the contract says to send aspect_ratio
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*", field.name), f"family inputs are camelCase: {field.name}"
        if field.type == "enum":
            assert field.choices
            assert len(set(map(str, field.choices))) == len(field.choices)
            if field.choice_labels:
                assert len(field.choice_labels) == len(field.choices)
        else:
            assert not field.choices
        if field.min is not None and field.max is not None:
            assert field.min <= field.max
        if field.has_default:
            default = field.default_value()
            if field.type == "enum":
                assert default in field.choices, f"{spec.key}.{field.name}: default {default!r} not in choices"
            if field.min is not None:
                assert default >= field.min
            if field.max is not None:
                assert default <= field.max
            if field.type == "boolean":
                assert isinstance(default, bool)
            if field.type == "integer":
                assert isinstance(default, int) and not isinstance(default, bool)


def _free_at_kie(spec) -> bool:
    """Kie's price table lists a few operations at $0 (Suno's "Generate Midi From Audio"): a flat price of 0."""
    return spec.price in (0, {"credits": 0})


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_defaults_validate_and_price_is_positive(spec):
    raw = sample_inputs(spec)
    cleaned = validate_inputs(spec, raw)
    for name, default in spec.defaults().items():
        if name not in raw:
            assert cleaned[name] == default
    credits = estimate_credits(spec, cleaned)
    assert isinstance(credits, Decimal)
    assert credits > 0 or _free_at_kie(spec)
    assert credits == credits.quantize(Decimal("0.01"))
    # Every required field without a default is really required.
    for field in spec.fields:
        if field.required and not field.has_default:
            with pytest.raises(InputValidationError) as exc:
                validate_inputs(spec, {k: v for k, v in raw.items() if k != field.name})
            assert f"{field.label} is required" in exc.value.errors[field.name]


def _price_selectors(node) -> set[str]:
    if not isinstance(node, dict):
        return set()
    found = set(node.get("by", [])) | {m["field"] for m in node.get("multiply", []) if "table" in m}
    for sub in list(node.get("table", {}).values()) + [node.get("default"), node.get("credits")]:
        found |= _price_selectors(sub)
    return found


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_price_covers_every_allowed_combination(spec):
    """For each combination of the enum/boolean fields the price looks at, a valid input has a price."""
    axes = []
    for selector in sorted(_price_selectors(spec.price)):
        name = selector.removeprefix("has:")
        field = spec.field(name)
        if selector.startswith("has:"):
            axes.append([(name, None), (name, sample_value(field))])
        elif field.type == "enum":
            axes.append([(name, choice) for choice in field.choices])
        elif field.type == "boolean":
            axes.append([(name, True), (name, False)])
    priced = 0
    for combo in itertools.product(*axes):
        overrides = {name: value for name, value in combo if value is not None}
        try:
            raw = sample_inputs(spec, **overrides)
        except InputValidationError:
            continue  # a rule forbids this combination (e.g. Runway 10 s at 1080p)
        cleaned = validate_inputs(spec, raw)
        assert estimate_credits(spec, cleaned) > 0 or _free_at_kie(spec), (spec.key, combo)
        priced += 1
    assert priced >= 1


def test_estimates_are_flagged(catalog):
    flagged = {spec.key for spec in catalog if spec.is_estimate}
    assert {"bytedance/v1-pro-text-to-video", "topaz/video-upscale", "runway/extend", "veo/veo3_lite/image"} <= flagged
    # Priced from Kie's table (2026-06-30): no longer estimates.
    assert not {"google/nano-banana", "veo/veo3_fast", "suno/V5", "gpt4o-image", "veo/4k", "suno/wav"} & flagged
    for spec in catalog:
        if spec.price_note:
            assert spec.price_note.strip()


def test_every_model_has_a_maker_and_the_makers_file_is_sound(catalog):
    from kiestudio.kie.catalog.loader import load_makers, maker_of

    keys = [key for key, _, _ in load_makers()]
    assert len(keys) == len(set(keys))
    for spec in catalog:
        assert spec.maker in keys, spec.key
        assert spec.maker == maker_of(spec.key)
    # Every maker listed has a model on the Generate page, so no chip filters to nothing.
    assert {key for key, _ in catalog.makers()} == set(keys)
    assert maker_of("veo/veo3_fast") == "google" and maker_of("bytedance/seedance-2") == "bytedance"
    assert maker_of("no-such/model") is None
