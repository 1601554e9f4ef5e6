"""The catalog against Kie's published field specs (the vendored docs snapshot is the oracle, not our reading).

Every Market model (and every family endpoint with a documented spec) must carry the documented field names,
types, choices, defaults, required flags and length limits; where the studio knowingly differs, the entry says
so in ``docs_differences`` with a reason, and a declaration that no longer matches a real difference fails too.
"""

from __future__ import annotations

import json

import pytest

from kiestudio.kie.catalog import load_catalog, parse_catalog
from kiestudio.kie.catalog.fmt import DATA, dumps

from .conformance import checked_specs, compare, documented_specs, market_ids, stale, undeclared

SPECS = checked_specs()


@pytest.mark.parametrize("spec", SPECS, ids=[spec.key for spec in SPECS])
def test_every_model_matches_kies_spec_or_declares_why(spec):
    problems = [str(d) for d in undeclared(spec)]
    assert not problems, f"{spec.key} differs from Kie's published spec: {problems}"
    assert not stale(spec), f"{spec.key} declares differences that are gone: {stale(spec)}"


def test_at_least_100_of_kies_106_documented_market_models_are_in_the_catalog():
    documented = market_ids()
    ours = {spec.model for spec in load_catalog() if spec.family == "market"}
    assert len(documented) == 106
    covered = documented & ours
    assert len(covered) >= 100, f"{len(covered)} of {len(documented)}; missing: {sorted(documented - ours)}"


def test_every_market_model_in_the_catalog_is_documented_or_says_why_not():
    for spec in load_catalog():
        if spec.family == "market" and not documented_specs(spec):
            assert "undocumented" in spec.docs_differences.get("*", {}), spec.key


def test_the_check_catches_a_wrong_field_name_type_enum_default_and_required_flag():
    """The oracle itself: a copy of Seedream 4.0 with each documented property broken in turn."""
    raw = _raw("bytedance/seedream-v4-text-to-image")
    spec = _spec(raw)
    doc = documented_specs(spec)[0]
    assert compare(spec, doc) == []

    renamed = _raw("bytedance/seedream-v4-text-to-image")
    _field(renamed, "image_resolution")["name"] = "resolution"
    renamed["price"] = json.loads(json.dumps(renamed["price"]).replace('"image_resolution"', '"resolution"'))
    found = {(d.field, d.aspect) for d in compare(_spec(renamed), doc)}
    assert found == {("image_resolution", "missing"), ("resolution", "extra")}

    broken = _raw("bytedance/seedream-v4-text-to-image")
    _field(broken, "image_resolution")["choices"] = ["1K", "2K"]
    _field(broken, "image_size")["default"] = "square"
    _field(broken, "seed").update({"type": "string"})
    _field(broken, "prompt")["max_length"] = 4000
    _field(broken, "nsfw_checker")["required"] = True
    found = {(d.field, d.aspect) for d in compare(_spec(broken), doc)}
    assert found == {
        ("image_resolution", "enum"),
        ("image_size", "default"),
        ("seed", "type"),
        ("prompt", "max_length"),
        ("nsfw_checker", "required"),
    }


def test_a_declared_difference_hides_only_what_it_names():
    raw = _raw("bytedance/seedream-v4-text-to-image")
    _field(raw, "prompt")["max_length"] = 4000
    raw["docs_differences"] = {"prompt": {"max_length": "A tighter limit for a test of the declarations."}}
    assert undeclared(_spec(raw)) == [] and stale(_spec(raw)) == []
    _field(raw, "prompt")["max_length"] = 5000
    assert stale(_spec(raw)) == ["prompt: max_length"]


def test_data_files_keep_the_house_layout():
    for path in sorted(DATA.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert dumps(json.loads(text)) == text, f"run python -m kiestudio.kie.catalog.fmt ({path.name})"


def _raw(key):
    for path in sorted(DATA.glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["models"]:
            if entry["key"] == key:
                return entry
    raise KeyError(key)


def _field(raw, name):
    return next(field for field in raw["fields"] if field["name"] == name)


def _spec(raw):
    return parse_catalog({"images.json": json.dumps({"models": [raw]})}).get(raw["key"])
