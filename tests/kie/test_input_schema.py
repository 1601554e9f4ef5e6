"""Every catalog model's inputs as a JSON Schema: valid by the 2020-12 metaschema, and agreeing with the catalog's
own validation (what the schema allows, ``validate_inputs`` accepts, and the reverse for the usual mistakes)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from kiestudio.kie.catalog import InputValidationError, load_catalog, validate_inputs
from kiestudio.kie.catalog.schema import input_schema
from kiestudio.kie.catalog.specs import URL_LIST_TYPES, URL_TYPES

MODELS = list(load_catalog())


@pytest.mark.parametrize("spec", MODELS, ids=lambda s: s.key)
def test_every_model_has_a_valid_schema_whose_defaults_fit(spec):
    schema = input_schema(spec)
    Draft202012Validator.check_schema(schema)
    shown = [field for field in spec.fields if not field.alias_of]  # another name for a field: left out
    assert set(schema["properties"]) == {field.name for field in shown}
    for field in shown:
        prop = schema["properties"][field.name]
        assert field.label.rstrip(".") in prop["description"]
        if field.choices:
            assert prop["enum"] == list(field.choices)
        if field.has_default and field.type not in URL_TYPES | URL_LIST_TYPES:
            assert not list(Draft202012Validator(prop).iter_errors(prop["default"])), field.name


def test_what_validation_accepts_fits_the_schema():
    """From a prompt and the defaults alone (models that need media or more are left out), what the catalog's
    validation accepts, the schema accepts too."""
    compared = 0
    for spec in MODELS:
        values = {spec.prompt_field: "a lighthouse at dusk"} if spec.prompt_field else {}
        try:
            cleaned = validate_inputs(spec, values)
        except InputValidationError:
            continue
        assert not [e.message for e in Draft202012Validator(input_schema(spec)).iter_errors(cleaned)], spec.key
        compared += 1
    assert compared >= 60


def test_the_schema_refuses_what_validation_refuses():
    spec = next(s for s in MODELS if any(f.type == "enum" and len(f.choices) > 1 for f in s.fields) and s.prompt_field)
    validator = Draft202012Validator(input_schema(spec))
    enum = next(f for f in spec.fields if f.type == "enum" and len(f.choices) > 1)
    bad = {spec.prompt_field: "a lighthouse", enum.name: "not-a-choice"}
    assert any(e.validator == "enum" for e in validator.iter_errors(bad))
    assert any(e.validator == "additionalProperties" for e in validator.iter_errors({"no_such_field": 1}))


def test_media_fields_take_gallery_ids_or_urls():
    spec = next(s for s in MODELS if any(f.type == "image_urls" for f in s.fields))
    name = next(f.name for f in spec.fields if f.type == "image_urls")
    as_ids = input_schema(spec)["properties"][name]
    assert as_ids["type"] == "array" and as_ids["items"] == {"type": "integer", "minimum": 1}
    assert "gallery item ids" in as_ids["description"]
    as_urls = input_schema(spec, media="url")["properties"][name]
    assert as_urls["items"] == {"type": "string", "format": "uri"}
