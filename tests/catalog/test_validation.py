"""validate_inputs: coercion, defaults, per-field errors, unknown fields and cross-field rules."""

from __future__ import annotations

import pytest

from kiestudio.kie.catalog import InputValidationError, get_model, validate_inputs
from kiestudio.kie.catalog.validation import check_rule

URL = "https://example.com/a.png"


def errors_for(key, raw):
    with pytest.raises(InputValidationError) as exc:
        validate_inputs(get_model(key), raw)
    return exc.value


# ---------------------------------------------------------------- coercion and defaults


def test_defaults_are_applied_in_field_order_and_input_is_not_mutated():
    raw = {"prompt": "  a lighthouse at dusk  "}
    cleaned = validate_inputs(get_model("nano-banana-2"), raw)
    assert cleaned == {
        "prompt": "a lighthouse at dusk",
        "aspect_ratio": "auto",
        "resolution": "1K",
        "output_format": "jpg",
    }
    assert list(cleaned) == ["prompt", "aspect_ratio", "resolution", "output_format"]
    assert raw == {"prompt": "  a lighthouse at dusk  "}


def test_empty_optional_values_are_dropped_and_empty_values_with_defaults_get_the_default():
    cleaned = validate_inputs(
        get_model("google/imagen4"),
        {"prompt": "a cat", "negative_prompt": "   ", "seed": "", "aspect_ratio": None},
    )
    assert cleaned == {"prompt": "a cat", "aspect_ratio": "1:1"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("on", True),
        ("true", True),
        ("1", True),
        ("yes", True),
        (True, True),
        (1, True),
        ("off", False),
        ("false", False),
        ("0", False),
        ("no", False),
        (False, False),
        (["false", "on"], True),
    ],
)
def test_booleans_are_coerced_from_form_values(raw, expected):
    cleaned = validate_inputs(get_model("kling-2.6/text-to-video"), {"prompt": "waves", "sound": raw})
    assert cleaned["sound"] is expected


def test_numbers_integers_and_numeric_enums_are_coerced():
    cleaned = validate_inputs(
        get_model("qwen/text-to-image"),
        {"prompt": "a cat", "num_inference_steps": "40", "guidance_scale": "3.5", "seed": "12.0"},
    )
    assert cleaned["num_inference_steps"] == 40 and isinstance(cleaned["num_inference_steps"], int)
    assert cleaned["guidance_scale"] == 3.5
    assert cleaned["seed"] == 12
    runway = validate_inputs(get_model("runway/gen"), {"prompt": "a storm", "duration": "10"})
    assert runway["duration"] == 10  # Runway wants an integer
    kling = validate_inputs(get_model("kling-2.6/text-to-video"), {"prompt": "a storm", "duration": 10})
    assert kling["duration"] == "10"  # Kling wants the string "10"


def test_enum_matches_case_insensitively():
    cleaned = validate_inputs(get_model("nano-banana-2"), {"prompt": "a cat", "resolution": "4k"})
    assert cleaned["resolution"] == "4K"


def test_url_lists_accept_lists_and_newline_or_comma_separated_text():
    spec = get_model("google/nano-banana-edit")
    text = "https://example.com/1.png\nhttps://example.com/2.png, https://example.com/3.png\n"
    assert validate_inputs(spec, {"prompt": "edit", "image_urls": text})["image_urls"] == [
        "https://example.com/1.png",
        "https://example.com/2.png",
        "https://example.com/3.png",
    ]
    assert validate_inputs(spec, {"prompt": "edit", "image_urls": [URL]})["image_urls"] == [URL]


def test_querydict_like_input_uses_getlist_for_list_fields():
    class FakeQueryDict(dict):
        def __init__(self, pairs):
            super().__init__()
            self._lists = {}
            for key, value in pairs:
                self._lists.setdefault(key, []).append(value)
                self[key] = value  # like QueryDict: item access gives the last value

        def getlist(self, key):
            return list(self._lists.get(key, []))

    data = FakeQueryDict(
        [("prompt", "merge"), ("image_urls", "https://example.com/1.png"), ("image_urls", "https://example.com/2.png")]
    )
    cleaned = validate_inputs(get_model("google/nano-banana-edit"), data)
    assert cleaned["image_urls"] == ["https://example.com/1.png", "https://example.com/2.png"]


def test_json_fields_are_parsed_from_text():
    cleaned = validate_inputs(
        get_model("elevenlabs/text-to-dialogue-v3"), {"dialogue": '[{"text": "Hi!", "voice": "Brian"}]'}
    )
    assert cleaned["dialogue"] == [{"text": "Hi!", "voice": "Brian"}]
    assert cleaned["stability"] == 0.5


# ---------------------------------------------------------------- per-field errors


def test_required_field_message():
    exc = errors_for("google/nano-banana", {})
    assert exc.errors == {"prompt": ["Prompt is required"]}
    assert str(exc) == "Please fix: Prompt is required"


def test_enum_message_lists_the_choices():
    exc = errors_for("google/nano-banana", {"prompt": "x", "aspect_ratio": "7:1"})
    assert exc.errors["aspect_ratio"] == [
        "Aspect ratio: choose one of 1:1, 9:16, 16:9, 3:4, 4:3, 3:2, 2:3, 5:4, 4:5, 21:9, auto"
    ]


def test_long_choice_lists_are_shortened():
    exc = errors_for("elevenlabs/text-to-speech-turbo-2-5", {"text": "Hello", "voice": "Nobody"})
    (message,) = exc.errors["voice"]
    assert message.startswith("Voice: choose one of EkK5I93UQWFDigLMpZcX, ") and message.endswith(", …")


def test_min_and_max_messages_name_the_field():
    spec_key = "bytedance/seedance-1.5-pro"
    too_long = errors_for(spec_key, {"prompt": "a fox", "duration": "20"})
    assert too_long.errors == {"duration": ["Length (seconds) must be at most 12"]}
    too_short = errors_for(spec_key, {"prompt": "a fox", "duration": 1})
    assert too_short.errors == {"duration": ["Length (seconds) must be at least 4"]}
    speed = errors_for("elevenlabs/text-to-speech-turbo-2-5", {"text": "Hi", "speed": "1.5"})
    assert speed.errors == {"speed": ["Speed must be at most 1.2"]}


def test_length_and_item_count_messages():
    exc = errors_for("z-image", {"prompt": "x" * 1001})
    assert exc.errors == {"prompt": ["Prompt must be at most 1000 characters (it has 1001)"]}
    exc = errors_for("bytedance/seedance-1.5-pro", {"prompt": "ab"})
    assert exc.errors == {"prompt": ["Prompt must be at least 3 characters (it has 2)"]}
    exc = errors_for("gpt4o-image/edit", {"prompt": "x", "filesUrl": [URL] * 6})
    assert exc.errors == {"filesUrl": ["Images to edit allows at most 5 items (got 6)"]}


def test_type_errors_name_the_field():
    exc = errors_for(
        "qwen/text-to-image",
        {"prompt": "x", "num_inference_steps": "12.5", "guidance_scale": "lots", "enable_safety_checker": "maybe"},
    )
    assert exc.errors == {
        "num_inference_steps": ["Steps must be a whole number"],
        "guidance_scale": ["Prompt strength must be a number"],
        "enable_safety_checker": ["Safety checker must be true or false"],
    }
    exc = errors_for("elevenlabs/text-to-dialogue-v3", {"dialogue": "[not json"})
    assert exc.errors == {"dialogue": ["Dialogue must be valid JSON"]}


def test_urls_must_be_http_or_https():
    exc = errors_for("recraft/remove-background", {"image": "file:///etc/passwd"})
    assert exc.errors == {"image": ["Image must be a web address starting with http:// or https://"]}
    exc = errors_for("google/nano-banana-edit", {"prompt": "x", "image_urls": [URL, "ftp://example.com/b.png"]})
    assert exc.errors == {
        "image_urls": ["Images to edit: item 2 must be a web address starting with http:// or https://"]
    }
    assert validate_inputs(get_model("recraft/remove-background"), {"image": "http://example.com/a.png"})


def test_unknown_fields_are_rejected_alongside_other_errors():
    exc = errors_for("google/nano-banana", {"callBackUrl": "https://evil.example", "model": "x"})
    assert set(exc.errors) == {"callBackUrl", "model", "prompt"}
    assert exc.errors["callBackUrl"] == ["Unknown field 'callBackUrl': Nano Banana has no such option"]
    assert "Prompt is required" in str(exc)
    assert "callBackUrl" in str(exc)


# ---------------------------------------------------------------- cross-field rules


def test_runway_ten_seconds_cannot_be_1080p():
    spec = get_model("runway/gen")
    exc = errors_for("runway/gen", {"prompt": "a storm", "duration": 10, "quality": "1080p"})
    assert exc.errors == {"quality": ["10-second videos can only be 720p; choose 5 seconds for 1080p."]}
    assert validate_inputs(spec, {"prompt": "a storm", "duration": 10, "quality": "720p"})["quality"] == "720p"
    assert validate_inputs(spec, {"prompt": "a storm", "duration": 5, "quality": "1080p"})["quality"] == "1080p"


def test_suno_custom_mode_needs_style_and_title():
    exc = errors_for("suno/V5", {"customMode": "on", "instrumental": "on"})
    assert exc.errors == {
        "style": ["Custom mode needs a style and a title."],
        "title": ["Custom mode needs a style and a title."],
    }
    cleaned = validate_inputs(
        get_model("suno/V5"), {"customMode": "on", "instrumental": "on", "style": "lo-fi", "title": "Rain"}
    )
    assert cleaned == {"customMode": True, "instrumental": True, "style": "lo-fi", "title": "Rain"}


def test_suno_simple_mode_rules():
    assert errors_for("suno/V4", {}).errors == {"prompt": ["Describe the song you want (or switch on custom mode)."]}
    exc = errors_for("suno/V4", {"prompt": "x" * 501})
    assert exc.errors == {"prompt": ["In simple mode the song description can be at most 500 characters."]}
    exc = errors_for("suno/V4", {"prompt": "a happy song", "vocalGender": "f"})
    assert exc.errors == {"vocalGender": ["Voice can only be chosen in custom mode."]}
    exc = errors_for("suno/V5", {"customMode": True, "style": "jazz", "title": "Blue"})
    assert exc.errors == {"prompt": ["Custom mode with vocals needs lyrics in the prompt."]}


def test_rule_with_generated_message_and_limit():
    exc = errors_for(
        "veo/veo3_fast/image",
        {"prompt": "walk", "imageUrls": [URL, URL, URL], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"},
    )
    assert exc.errors == {"imageUrls": ["Give one image to animate, or two for the first and last frame."]}
    cleaned = validate_inputs(
        get_model("veo/veo3_fast/image"),
        {"prompt": "walk", "imageUrls": [URL] * 3, "generationType": "REFERENCE_2_VIDEO"},
    )
    assert len(cleaned["imageUrls"]) == 3


def test_require_any_and_presence_conditions():
    exc = errors_for("grok-imagine/image-to-video", {"prompt": "dance"})
    assert exc.errors == {"image_urls": ["Add a picture, or the ID of an earlier Grok Imagine image task."]}
    assert validate_inputs(get_model("grok-imagine/image-to-video"), {"task_id": "task_123"})["task_id"] == "task_123"
    exc = errors_for("bytedance/seedance-2", {"prompt": "a sunrise", "last_frame_url": URL})
    assert exc.errors == {"first_frame_url": ["A last frame needs a first frame too."]}
    assert errors_for("bytedance/seedance-2", {}).errors == {
        "prompt": ["Write a prompt or add a picture or video to start from."]
    }


def test_total_items_counts_several_list_fields_together():
    spec = get_model("wan/2-7-r2v")
    three, two = ["https://example.com/a.png"] * 3, ["https://example.com/a.mp4"] * 2
    cleaned = validate_inputs(spec, {"prompt": "x", "reference_image": three, "reference_video": two})
    assert len(cleaned["reference_image"]) + len(cleaned["reference_video"]) == 5
    exc = errors_for("wan/2-7-r2v", {"prompt": "x", "reference_image": three, "reference_video": two + two[:1]})
    assert exc.errors == {"reference_image": ["Use at most 5 references in all (pictures and clips together)."]}
    rule = {"total_items": {"fields": ["reference_image", "reference_video"], "max": 5}}
    found = check_rule(spec, rule, {"reference_image": three, "reference_video": three})
    assert found == [
        ("reference_image", "Reference pictures and Reference clips allow at most 5 items together (got 6)")
    ]


def test_hailuo_1080p_is_six_seconds_only():
    exc = errors_for(
        "hailuo/2-3-image-to-video-pro", {"prompt": "x", "image_url": URL, "resolution": "1080P", "duration": "10"}
    )
    assert exc.errors == {"duration": ["1080P videos can only be 6 seconds long."]}


def test_rules_are_skipped_when_their_fields_already_have_errors():
    exc = errors_for("runway/gen", {"prompt": "x", "duration": 10, "quality": "8K"})
    assert exc.errors == {"quality": ["Resolution: choose one of 720p, 1080p"]}


def test_veo_reference_mode_is_eight_seconds_only():
    """Kie's Veo page: REFERENCE_2_VIDEO supports 8-second videos only."""
    raw = {"prompt": "x", "imageUrls": [URL], "generationType": "REFERENCE_2_VIDEO"}
    exc = errors_for("veo/veo3_fast/image", {**raw, "duration": "6"})
    assert exc.errors == {"duration": ["Reference mode makes 8-second videos only: set the length to 8 seconds."]}
    assert validate_inputs(get_model("veo/veo3_fast/image"), {**raw, "duration": "8"})["duration"] == 8
    frames = {"prompt": "x", "imageUrls": [URL], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "duration": "6"}
    assert validate_inputs(get_model("veo/veo3_fast/image"), frames)["duration"] == 6


def test_kling_3_always_sends_the_fields_its_page_marks_required():
    """Kie's Kling 3.0 page marks multi_prompt and kling_elements required: they go out (empty) when unused."""
    from kiestudio.kie.catalog import request_body

    spec = get_model("kling-3.0/video")
    body = request_body(spec, validate_inputs(spec, {"prompt": "a fox wakes up"}))
    assert body["input"]["multi_prompt"] == [] and body["input"]["kling_elements"] == []
    assert body["input"]["multi_shots"] is False and body["input"]["sound"] is False
    exc = errors_for("kling-3.0/video", {"prompt": "x", "multi_shots": True})
    assert "multi_prompt" in exc.errors
