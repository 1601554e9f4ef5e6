"""Json fields that describe their entries (``item_fields``): Kling 3.0's shots and elements, ElevenLabs Dialogue's
lines, Wan 2.7's colour theme and edit areas. The catalog says each entry's shape as data; validation checks every
entry against it and names the entry and the sub-field of each problem; raw JSON text is still taken."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from kiestudio.kie.catalog import CatalogError, InputValidationError, get_model, parse_catalog, validate_inputs
from kiestudio.kie.catalog.schema import input_schema

URL = "https://example.com/dog.png"
KLING = "kling-3.0/video"
DIALOGUE = "elevenlabs/text-to-dialogue-v3"
WAN = "wan/2-7-image"


def errors(key: str, raw: dict) -> dict[str, list[str]]:
    with pytest.raises(InputValidationError) as caught:
        validate_inputs(get_model(key), raw)
    return caught.value.errors


def clean(key: str, raw: dict) -> dict:
    return validate_inputs(get_model(key), raw)


# --- The catalog's description ---------------------------------------------------------------------------------


def test_each_json_field_of_the_catalog_describes_its_entries():
    shots = get_model(KLING).field("multi_prompt")
    assert shots.item_label == "Shot" and shots.max_items == 5 and shots.item_shape == "object"
    prompt, duration = shots.item_fields
    assert (prompt.name, prompt.type, prompt.max_length, prompt.required) == ("prompt", "textarea", 500, True)
    assert (duration.name, duration.type, duration.min, duration.max) == ("duration", "integer", 1, 12)

    elements = get_model(KLING).field("kling_elements")
    assert elements.item_label == "Element" and elements.max_items == 3
    assert [sub.name for sub in elements.item_fields] == [
        "name",
        "description",
        "element_input_urls",
        "element_input_video_urls",  # kie-api.md: {name, description, element_input_urls[], element_input_video_urls[]}
    ]
    pictures, video = elements.item_fields[2:]
    assert (pictures.type, pictures.label, pictures.min_items, pictures.max_items) == ("image_urls", "Pictures", 2, 4)
    assert (video.type, video.label, video.required, video.max_items) == ("video_urls", "Video", False, 1)

    lines = get_model(DIALOGUE).field("dialogue")
    voice, text = lines.item_fields
    assert lines.item_label == "Line" and voice.type == "choice" and voice.other_choices
    assert len(voice.choices) == len(voice.choice_labels) == 67 and text.type == "textarea"

    for key in (WAN, "wan/2-7-image-pro"):
        palette, areas = get_model(key).field("color_palette"), get_model(key).field("bbox_list")
        assert [sub.type for sub in palette.item_fields] == ["colour", "percent"]
        assert (palette.min_items, palette.max_items) == (3, 10)
        assert areas.item_shape == "list" and [sub.type for sub in areas.item_fields] == ["box", "box"]


def entry(**field) -> str:
    base = {"name": "shots", "type": "json", "label": "Shots", "required": False, "default": None, "help": ""}
    model = {
        "key": "t/one",
        "model": "t/one",
        "family": "market",
        "kind": "text_to_video",
        "output": "video",
        "name": "T",
        "description": "T.",
        "endpoint": "POST /api/v1/jobs/createTask",
        "record_endpoint": "GET /api/v1/jobs/recordInfo",
        "typical_seconds": 10,
        "deadline_seconds": 600,
        "prompt_field": None,
        "fields": [{**base, **field}],
        "price": {"credits": 1},
    }
    return json.dumps({"models": [model]})


def load_problems(**field) -> str:
    with pytest.raises(CatalogError) as caught:
        parse_catalog({"t.json": entry(**field)})
    return str(caught.value)


def test_broken_item_descriptions_are_refused_when_the_catalog_loads():
    sub = {"name": "prompt", "type": "textarea", "label": "What happens", "required": True, "help": ""}
    assert parse_catalog({"t.json": entry(item_label="Shot", item_fields=[sub])}).get("t/one").field("shots")
    assert "item_label must name one entry" in load_problems(item_fields=[sub])
    assert "item_fields must be a non-empty list" in load_problems(item_label="Shot", item_fields=[])
    assert "only json fields describe their items" in load_problems(type="text", item_label="Shot", item_fields=[sub])
    assert "type 'video' is not one of" in load_problems(item_label="Shot", item_fields=[{**sub, "type": "video"}])
    assert "only choice items have choices" in load_problems(item_label="Shot", item_fields=[{**sub, "choices": ["a"]}])
    assert "a choice needs a non-empty list" in load_problems(
        item_label="Shot", item_fields=[{**sub, "type": "choice"}]
    )
    assert "max does not apply to a textarea item" in load_problems(item_label="Shot", item_fields=[{**sub, "max": 3}])
    assert "min_length is above max_length" in load_problems(
        item_label="Shot", item_fields=[{**sub, "min_length": 9, "max_length": 2}]
    )
    assert "duplicate item_fields names" in load_problems(item_label="Shot", item_fields=[sub, sub])
    assert "unknown key(s) ['colour']" in load_problems(item_label="Shot", item_fields=[{**sub, "colour": 1}])
    assert "item_shape must be one of" in load_problems(item_label="Shot", item_shape="table", item_fields=[sub])


# --- Kling 3.0: shots -------------------------------------------------------------------------------------------


def test_shots_are_checked_row_by_row_and_come_out_as_kie_takes_them():
    shots = [{"prompt": " a fox wakes up ", "duration": "3"}, {"prompt": "it runs", "duration": 2}]
    cleaned = clean(KLING, {"prompt": "x", "multi_shots": True, "multi_prompt": shots})
    assert cleaned["multi_prompt"] == [
        {"prompt": "a fox wakes up", "duration": 3},
        {"prompt": "it runs", "duration": 2},
    ]
    # The raw JSON body (an API caller's, a chat tool's) is taken as before.
    assert clean(KLING, {"prompt": "x", "multi_prompt": json.dumps(shots)})["multi_prompt"][0]["duration"] == 3


def test_a_bad_shot_is_named_with_its_row_and_setting():
    bad = [{"prompt": "a fox", "duration": 3}, {"prompt": "it runs", "duration": 13}, {"duration": 2}]
    assert errors(KLING, {"prompt": "x", "multi_prompt": bad}) == {
        "multi_prompt": ["Shot 2: Length (seconds) must be at most 12", "Shot 3: What happens is required"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": [{"prompt": "a" * 501, "duration": 1}]}) == {
        "multi_prompt": ["Shot 1: What happens must be at most 500 characters (it has 501)"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": [{"prompt": "a", "duration": 2.5}]}) == {
        "multi_prompt": ["Shot 1: Length (seconds) must be a whole number"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": [{"prompt": "a", "duration": 2, "camera": "pan"}]}) == {
        "multi_prompt": ["Shot 1 has no setting 'camera' (it takes prompt, duration)"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": [{"prompt": "a", "duration": 1}] * 6}) == {
        "multi_prompt": ["Shots allows at most 5 shots (got 6)"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": ["a fox"]}) == {
        "multi_prompt": ["Shot 1: write it as an object with prompt, duration"]
    }
    assert errors(KLING, {"prompt": "x", "multi_prompt": {"prompt": "a fox"}}) == {
        "multi_prompt": ["Shots: give a list, one entry per shot"]
    }


# --- Kling 3.0: elements ----------------------------------------------------------------------------------------


def test_elements_take_a_name_a_description_and_two_to_four_pictures():
    dog = {"name": "dog", "description": "a small brown dog", "element_input_urls": [URL, URL]}
    assert clean(KLING, {"prompt": "x @dog", "kling_elements": [dog]})["kling_elements"] == [dog]
    one_picture = {**dog, "element_input_urls": [URL]}
    assert errors(KLING, {"prompt": "x", "kling_elements": [dog, one_picture]}) == {
        "kling_elements": ["Element 2: Pictures needs at least 2 pictures (got 1)"]
    }
    not_a_link = {**dog, "element_input_urls": [URL, "dog.png"]}
    assert errors(KLING, {"prompt": "x", "kling_elements": [not_a_link]}) == {
        "kling_elements": ["Element 1: Pictures: picture 2 must be a web address starting with http:// or https://"]
    }
    assert errors(KLING, {"prompt": "x", "kling_elements": [{**dog, "element_input_urls": [URL] * 5}]}) == {
        "kling_elements": ["Element 1: Pictures takes at most 4 pictures (got 5)"]
    }
    assert errors(KLING, {"prompt": "x", "kling_elements": [{**dog, "description": ""}]}) == {
        "kling_elements": ["Element 1: What it is is required"]
    }
    assert errors(KLING, {"prompt": "x", "kling_elements": [dog] * 4}) == {
        "kling_elements": ["Elements allows at most 3 elements (got 4)"]
    }
    # An element may also bring a clip of itself (Kie's element_input_video_urls): at most one, a web address.
    moving = {**dog, "element_input_video_urls": [URL.replace(".png", ".mp4")]}
    assert clean(KLING, {"prompt": "x @dog", "kling_elements": [moving]})["kling_elements"] == [moving]
    assert errors(KLING, {"prompt": "x", "kling_elements": [{**dog, "element_input_video_urls": [URL, URL]}]}) == {
        "kling_elements": ["Element 1: Video takes at most 1 video (got 2)"]
    }
    assert errors(KLING, {"prompt": "x", "kling_elements": [{**dog, "element_input_video_urls": ["dog.mp4"]}]}) == {
        "kling_elements": ["Element 1: Video: video 1 must be a web address starting with http:// or https://"]
    }


# --- ElevenLabs Dialogue ----------------------------------------------------------------------------------------


def test_dialogue_lines_take_a_voice_from_the_list_or_a_name_kie_knows():
    lines = [{"voice": "EkK5I93UQWFDigLMpZcX", "text": "Hi there!"}, {"text": "Oh, hello!", "voice": "Brian"}]
    assert clean(DIALOGUE, {"dialogue": lines})["dialogue"] == lines
    assert errors(DIALOGUE, {"dialogue": [{"text": "Hi"}, {"voice": "Brian", "text": 5}]}) == {
        "dialogue": ["Line 1: Voice is required", "Line 2: What they say must be text"]
    }
    assert errors(DIALOGUE, {"dialogue": "[]"}) == {"dialogue": ["Dialogue is required"]}


# --- Wan 2.7: colour theme and edit areas ----------------------------------------------------------------------


def test_a_colour_theme_is_written_as_kie_writes_it():
    palette = [
        {"hex": "#c2d1e6", "ratio": 40},
        {"hex": "1F2A44", "ratio": "35%"},
        {"hex": "#E8B04B", "ratio": "25.00%"},
    ]
    assert clean(WAN, {"prompt": "x", "color_palette": palette})["color_palette"] == [
        {"hex": "#C2D1E6", "ratio": "40.00%"},
        {"hex": "#1F2A44", "ratio": "35.00%"},
        {"hex": "#E8B04B", "ratio": "25.00%"},
    ]
    bad = [{"hex": "blue", "ratio": 40}, {"hex": "#1F2A44", "ratio": 140}, {"hex": "#E8B04B"}]
    assert errors(WAN, {"prompt": "x", "color_palette": bad}) == {
        "color_palette": [
            "Colour 1: Colour must be a colour written like #1F2A44",
            "Colour 2: Share (%) must be a share between 0 and 100 per cent",
            "Colour 3: Share (%) is required",
        ]
    }
    assert errors(WAN, {"prompt": "x", "color_palette": palette[:2]}) == {
        "color_palette": ["Colour theme needs at least 3 colours (got 2)"]
    }


def test_edit_areas_are_up_to_two_boxes_for_each_picture():
    pictures = [URL, URL]
    areas = [[[120, 80, 480, 400]], [], [[0, 0, 10, 10], [20, 20, "40", 40]]]
    cleaned = clean(WAN, {"prompt": "x", "input_urls": pictures, "bbox_list": areas})
    assert cleaned["bbox_list"] == [[[120, 80, 480, 400]], [], [[0, 0, 10, 10], [20, 20, 40, 40]]]
    bad = [[[1, 2, 3]], [[10, 10, 5, 20]], [[0, 0, 1, 1]] * 3]
    assert errors(WAN, {"prompt": "x", "input_urls": pictures, "bbox_list": bad}) == {
        "bbox_list": [
            "Picture 1: First area must be four whole numbers of pixels: left, top, right, bottom",
            "Picture 2: First area must have its right edge past its left and its bottom below its top",
            "Picture 3 takes at most 2 (got 3)",
        ]
    }


# --- The tools' schema ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "good", "bad"),
    [
        (KLING, "multi_prompt", [{"prompt": "a fox", "duration": 3}], [{"prompt": "a fox", "duration": 13}]),
        (KLING, "kling_elements", [{"name": "dog", "description": "a dog", "element_input_urls": [URL, URL]}], [{}]),
        (DIALOGUE, "dialogue", [{"voice": "Brian", "text": "Hi"}], [{"voice": "Brian"}]),
        (WAN, "color_palette", [{"hex": "#C2D1E6", "ratio": "40.00%"}] * 3, [{"hex": "blue", "ratio": "40%"}] * 3),
        (WAN, "bbox_list", [[[1, 2, 3, 4]], []], [[[1, 2, 3]]]),
    ],
)
def test_the_tools_schema_gives_each_entrys_shape(key, name, good, bad):
    prop = input_schema(get_model(key))["properties"][name]
    assert prop["type"] == "array"
    validator = Draft202012Validator(prop)
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors(bad))
