"""Loading, lookups, ordering and the data checks of the loader."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from kiestudio.kie.catalog import (
    FAMILIES,
    KINDS,
    Catalog,
    CatalogError,
    FieldSpec,
    ModelSpec,
    UnknownModel,
    get_model,
    load_catalog,
    parse_catalog,
    read_catalog,
)

PACKAGE = Path(__file__).resolve().parents[2] / "kiestudio" / "kie" / "catalog"
GOOD = {
    "key": "demo/model",
    "model": "demo/model",
    "family": "market",
    "kind": "text_to_image",
    "output": "image",
    "name": "Demo",
    "description": "Demo model.",
    "endpoint": "POST /api/v1/jobs/createTask",
    "record_endpoint": "GET /api/v1/jobs/recordInfo",
    "typical_seconds": 10,
    "deadline_seconds": 600,
    "prompt_field": "prompt",
    "fields": [
        {"name": "prompt", "type": "text", "label": "Prompt", "required": True, "default": None, "help": "Say it."},
        {
            "name": "size",
            "type": "enum",
            "label": "Size",
            "required": False,
            "default": "1K",
            "help": "Size.",
            "choices": ["1K", "2K"],
        },
    ],
    "price": {"by": ["size"], "table": {"1K": 1, "2K": 2}},
}


def parse(*models):
    return parse_catalog({"demo.json": json.dumps({"models": list(models)})})


def broken(**changes):
    model = json.loads(json.dumps(GOOD))
    model.update(changes)
    with pytest.raises(CatalogError) as exc:
        parse(model)
    return "\n".join(exc.value.problems)


def test_load_catalog_is_cached_and_get_model_uses_it():
    catalog = load_catalog()
    assert load_catalog() is catalog
    assert isinstance(catalog, Catalog)
    assert get_model("google/nano-banana") is catalog.get("google/nano-banana")
    assert "google/nano-banana" in catalog and "nope" not in catalog
    assert len(list(catalog)) == len(catalog) == len(catalog.keys())


def test_unknown_model_is_a_key_error_with_a_clear_message():
    with pytest.raises(KeyError):
        get_model("google/nano-banan")
    with pytest.raises(UnknownModel) as exc:
        load_catalog().get("nano-banana")
    assert exc.value.key == "nano-banana"
    assert str(exc.value).startswith("Unknown model 'nano-banana': it is not in the Kie Studio model catalog")
    assert "did you mean" in str(exc.value)


def test_lookups_by_kind_family_and_wire_model(catalog):
    assert all(spec.kind == "music" for spec in catalog.by_kind("music"))
    assert [spec.key for spec in catalog.by_family("suno") if not spec.followup_only] == [
        "suno/V4",
        "suno/V4_5",
        "suno/V4_5PLUS",
        "suno/V4_5ALL",
        "suno/V5",
        "suno/V5_5",
    ]
    assert {spec.key for spec in catalog.by_family("suno") if spec.followup_only} == {
        "suno/extend",
        "suno/cover",
        "suno/add-vocals",
        "suno/add-instrumental",
    }
    assert not any(spec.followup_only for spec in catalog.originals)
    assert {spec.key for spec in catalog.by_model("veo", "veo3_fast")} == {"veo/veo3_fast", "veo/veo3_fast/image"}
    assert [spec.key for spec in catalog.by_model("aleph", None)] == ["runway/aleph"]
    with pytest.raises(ValueError, match="Unknown kind"):
        catalog.by_kind("painting")
    with pytest.raises(ValueError, match="Unknown family"):
        catalog.by_family("midjourney")


def test_display_order_follows_kinds_then_files(catalog):
    order = list(KINDS)
    positions = [order.index(spec.kind) for spec in catalog.models]
    assert positions == sorted(positions)
    assert catalog.models[0].key == "google/nano-banana"
    assert catalog.by_kind("text_to_video")[0].key == "veo/veo3_fast"


def test_kinds_and_families_constants():
    assert KINDS["text_to_image"] == "Text to image"
    assert list(KINDS)[-1] == "music_video"  # follow-up kinds come after the ones the Generate page lists
    assert FAMILIES["runway"]["record_endpoint"] == "GET /api/v1/runway/record-detail"
    assert FAMILIES["market"]["input_wrapper"] == "input"
    assert FAMILIES["gpt4o_image"]["model_param"] is None
    with pytest.raises(TypeError):
        KINDS["new"] = "New"  # read-only


def test_specs_are_frozen_hashable_and_helpful():
    spec = get_model("runway/gen")
    assert isinstance(spec, ModelSpec) and isinstance(spec.fields[0], FieldSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"
    assert {spec: 1}[get_model("runway/gen")] == 1
    assert spec.field("duration").choices == (5, 10)
    with pytest.raises(KeyError, match="runway/gen has no field 'resolution'"):
        spec.field("resolution")
    assert spec.defaults() == {"duration": 5, "quality": "720p", "aspectRatio": "16:9"}
    assert spec.kind_label == "Text to video" and spec.family_name == "Runway"
    voice = get_model("elevenlabs/text-to-speech-turbo-2-5").field("voice")
    assert voice.choice_pairs()[0] == ("EkK5I93UQWFDigLMpZcX", "James – husky, engaging, bold")
    assert get_model("runway/gen").field("quality").choice_pairs() == (("720p", "720p"), ("1080p", "1080p"))


def test_read_catalog_from_a_directory(tmp_path):
    (tmp_path / "demo.json").write_text(json.dumps({"models": [GOOD]}), encoding="utf-8")
    catalog = read_catalog(tmp_path)
    assert catalog.keys() == ("demo/model",)
    assert catalog.get("demo/model").field("size").default == "1K"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"kind": "painting"}, "kind 'painting' is not one of"),
        ({"family": "midjourney"}, "family 'midjourney' is not one of"),
        ({"output": "video"}, "kind text_to_image produces image, not video"),
        ({"endpoint": "POST /api/v1/veo/generate"}, "endpoint should be one of ['POST /api/v1/jobs/createTask']"),
        ({"deadline_seconds": 5}, "deadline_seconds must be an integer above typical_seconds"),
        ({"prompt_field": "size"}, "prompt_field 'size' must name a text field"),
        ({"price": {"by": ["quality"], "table": {"x": 1}}}, "price.by: unknown field 'quality'"),
        ({"colour": "red"}, "unknown key(s) ['colour']"),
        ({"rules": [{"require": ["title"]}]}, "rules[0]: unknown field 'title'"),
        ({"rules": [{"total_items": {"fields": ["prompt"], "max": 2}}]}, "rules[0].total_items: needs 'fields'"),
        ({"rules": [{"total_items": {"fields": ["prompt", "size"], "max": 2}}]}, "'prompt' is not a list field"),
    ],
)
def test_broken_models_are_reported(changes, problem):
    assert problem in broken(**changes)


@pytest.mark.parametrize(
    ("field_changes", "problem"),
    [
        ({"default": "8K"}, "default '8K' is invalid: Size: choose one of 1K, 2K"),
        ({"choices": []}, "an enum needs a non-empty choices list"),
        ({"name": "callBackUrl"}, "callBackUrl is added by the client"),
        ({"type": "colour"}, "type 'colour' is not one of"),
        ({"choice_labels": ["one"]}, "choice_labels must be one non-empty label per choice"),
        ({"shown_when": {"quality": "high"}}, "shown_when names 'quality', which is not another field"),
        ({"shown_when": {"size": "1K"}}, "shown_when names 'size', which is not another field"),
        ({"shown_when": {}}, "shown_when maps other fields to a value or a list of values"),
        ({"shown_when": {"prompt": {"present": True}}}, "shown_when maps other fields to a value or a list of values"),
    ],
)
def test_broken_fields_are_reported(field_changes, problem):
    model = json.loads(json.dumps(GOOD))
    model["fields"][1].update(field_changes)
    with pytest.raises(CatalogError) as exc:
        parse(model)
    assert problem in str(exc.value)


def test_defaults_must_respect_min_max_and_type():
    model = json.loads(json.dumps(GOOD))
    model["fields"].append(
        {
            "name": "steps",
            "type": "integer",
            "label": "Steps",
            "required": False,
            "default": 300,
            "help": "h",
            "min": 1,
            "max": 250,
        }
    )
    model["fields"].append(
        {"name": "hd", "type": "boolean", "label": "HD", "required": False, "default": "yes", "help": "h"}
    )
    with pytest.raises(CatalogError) as exc:
        parse(model)
    assert "default 300: Steps must be at most 250" in str(exc.value)
    assert "default 'yes' should be written as True" in str(exc.value)


def test_duplicate_keys_and_bad_json_are_reported():
    with pytest.raises(CatalogError, match="key 'demo/model' is already used in demo.json"):
        parse(GOOD, GOOD)
    with pytest.raises(CatalogError, match="bad.json: invalid JSON"):
        parse_catalog({"bad.json": "{"})


def test_package_is_pure_python_and_uses_future_annotations():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        modules = [alias.name for n in imports if isinstance(n, ast.Import) for alias in n.names]
        modules += [n.module or "" for n in imports if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m.split(".")[0] == "django"], path.name
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        first = body[0]
        assert isinstance(first, ast.ImportFrom) and first.module == "__future__", path.name


def test_request_body_wraps_inputs_per_family():
    from kiestudio.kie.catalog import request_body, validate_inputs

    nano = get_model("google/nano-banana")
    body = request_body(nano, validate_inputs(nano, {"prompt": "a cat"}), "https://studio.example/cb")
    assert body == {
        "model": "google/nano-banana",
        "callBackUrl": "https://studio.example/cb",
        "input": {"prompt": "a cat", "aspect_ratio": "1:1", "output_format": "png"},
    }
    runway = get_model("runway/gen")
    assert request_body(runway, {"prompt": "rain", "duration": 5}) == {"prompt": "rain", "duration": 5}
    veo = get_model("veo/veo3_fast")
    assert request_body(veo, {"prompt": "rain"})["model"] == "veo3_fast"
    suno = get_model("suno/V5")
    with pytest.raises(ValueError, match="Suno requires a callBackUrl"):
        request_body(suno, {"prompt": "a song"})
    assert request_body(suno, {"prompt": "a song"}, "https://studio.example/cb")["model"] == "V5"


def test_a_field_can_apply_only_while_others_hold_a_value():
    model = json.loads(json.dumps(GOOD))
    model["fields"].append(
        {"name": "hd", "type": "boolean", "label": "HD", "required": False, "default": False, "help": "h"}
    )
    model["fields"][1]["shown_when"] = {"hd": True}
    model["fields"][0]["shown_when"] = {"size": ["1K", "2K"]}
    spec = parse(model).get("demo/model")
    size, prompt = spec.field("size"), spec.field("prompt")
    assert size.is_shown({"hd": True}) and not size.is_shown({"hd": False}) and not size.is_shown({})
    assert prompt.is_shown({"size": "2K"}) and not prompt.is_shown({"size": "4K"})
    assert spec.field("hd").is_shown({})  # no conditions: always
    hash(size)  # still a frozen, hashable spec


def test_suno_style_and_title_apply_in_custom_mode_only(catalog):
    custom = [spec for spec in catalog.models if spec.family == "suno" and spec.has_field("customMode")]
    assert len(custom) >= 7  # six Suno versions and the cover follow-up
    for spec in custom:
        for name in ("style", "title"):
            assert dict(spec.field(name).shown_when) == {"customMode": True}, (spec.key, name)
