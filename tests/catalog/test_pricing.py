"""Price DSL: each feature, checked against figures from the contract (USD / 0.005 = credits)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kiestudio.kie.catalog import (
    ModelSpec,
    PricingError,
    credits_to_usd,
    estimate_credits,
    evaluate_price,
    get_model,
    usd_to_credits,
    validate_inputs,
)
from kiestudio.kie.catalog.loader import build_model
from kiestudio.kie.catalog.pricing import check_price

URL = "https://example.com/a.png"


def credits(key, **inputs):
    spec = get_model(key)
    return estimate_credits(spec, validate_inputs(spec, inputs))


def usd(amount: str) -> Decimal:
    return usd_to_credits(amount)


def test_credit_conversion():
    assert usd("0.02") == Decimal("4.00")
    assert usd("0.004") == Decimal("0.80")
    assert credits_to_usd(Decimal("27")) == Decimal("0.1350")


@pytest.mark.parametrize(
    ("key", "inputs", "contract_usd"),
    [
        # flat price per task
        ("google/nano-banana", {"prompt": "x"}, "0.02"),
        ("z-image", {"prompt": "x"}, "0.004"),
        ("recraft/remove-background", {"image": URL}, "0.005"),
        ("recraft/crisp-upscale", {"image": URL}, "0.0025"),
        ("seedream/4.5-edit", {"prompt": "x", "image_urls": URL}, "0.0325"),
        ("flux-kontext/max", {"prompt": "x"}, "0.05"),
        ("runway/aleph", {"prompt": "x", "videoUrl": "https://example.com/v.mp4"}, "0.55"),
        # lookup by one field
        ("nano-banana-pro", {"prompt": "x", "resolution": "2K"}, "0.09"),
        ("nano-banana-pro", {"prompt": "x", "resolution": "4K"}, "0.12"),
        ("nano-banana-2", {"prompt": "x"}, "0.04"),
        ("nano-banana-2", {"prompt": "x", "resolution": "2K"}, "0.06"),
        ("nano-banana-2", {"prompt": "x", "resolution": "4K"}, "0.09"),
        ("flux-2/flex-text-to-image", {"prompt": "x", "resolution": "2K"}, "0.12"),
        ("gpt-image/1.5-text-to-image", {"prompt": "x", "quality": "high"}, "0.11"),
        ("ideogram/v3-text-to-image", {"prompt": "x", "rendering_speed": "TURBO"}, "0.0175"),
        ("topaz/image-upscale", {"image_url": URL, "upscale_factor": "8"}, "0.20"),
        # lookup by two fields
        ("runway/gen", {"prompt": "x", "duration": 5, "quality": "720p"}, "0.06"),
        ("runway/gen", {"prompt": "x", "duration": 10, "quality": "720p"}, "0.15"),
        ("runway/gen-image", {"prompt": "x", "imageUrl": URL, "duration": 5, "quality": "1080p"}, "0.15"),
        ("wan/2-6-text-to-video", {"prompt": "x", "resolution": "720p", "duration": "15"}, "1.05"),
        ("wan/2-6-text-to-video", {"prompt": "x", "resolution": "1080p", "duration": "10"}, "1.0475"),
        (
            "hailuo/02-image-to-video-standard",
            {"prompt": "x", "image_url": URL, "resolution": "512P", "duration": "6"},
            "0.06",
        ),
        ("hailuo/2-3-image-to-video-pro", {"prompt": "x", "image_url": URL, "resolution": "1080P"}, "0.40"),
        # credits per second of a numeric field
        ("kling-3.0/video", {"prompt": "x", "mode": "std", "duration": "10"}, "0.70"),
        ("kling-3.0/video", {"prompt": "x", "mode": "pro", "sound": "on", "duration": "10"}, "1.35"),
        ("kling-3.0/video", {"prompt": "x", "mode": "4K", "duration": "3"}, "1.005"),
        (
            "bytedance/seedance-1.5-pro",
            {"prompt": "xyz", "resolution": "1080p", "generate_audio": True, "duration": 12},
            "0.90",
        ),
        ("bytedance/seedance-1.5-pro", {"prompt": "xyz", "resolution": "480p", "duration": "4"}, "0.035"),
        ("bytedance/seedance-2", {"prompt": "xyz", "duration": 10}, "2.05"),
        (
            "bytedance/seedance-2",
            {"prompt": "xyz", "duration": 10, "reference_video_urls": "https://e.com/v.mp4"},
            "1.25",
        ),
        ("grok-imagine/image-to-video", {"image_urls": URL, "resolution": "720p", "duration": 10}, "0.15"),
        ("grok-imagine/image-to-video", {"image_urls": URL, "duration": 6}, "0.048"),
        ("elevenlabs/sound-effect-v2", {"text": "rain", "duration_seconds": 10}, "0.012"),
        # per N characters of a text field
        ("elevenlabs/text-to-speech-multilingual-v2", {"text": "a" * 1000}, "0.06"),
        ("elevenlabs/text-to-speech-multilingual-v2", {"text": "a" * 2500}, "0.15"),
        ("elevenlabs/text-to-speech-turbo-2-5", {"text": "a" * 500}, "0.015"),
        # multiplier by a field value
        ("kling-2.6/text-to-video", {"prompt": "x"}, "0.275"),
        ("kling-2.6/text-to-video", {"prompt": "x", "duration": "10"}, "0.55"),
        ("kling-2.6/text-to-video", {"prompt": "x", "duration": "10", "sound": "true"}, "1.10"),
        ("kling-2.6/image-to-video", {"prompt": "x", "image_urls": URL, "sound": "on"}, "0.55"),
        # multiplier by a numeric field
        ("bytedance/seedream-v4-text-to-image", {"prompt": "x", "max_images": "4"}, "0.07"),
        (
            "ideogram/character",
            {"prompt": "x", "reference_image_urls": URL, "rendering_speed": "QUALITY", "num_images": "3"},
            "0.36",
        ),
    ],
)
def test_prices_match_the_contract(key, inputs, contract_usd):
    assert credits(key, **inputs) == usd(contract_usd)


def test_dialogue_is_priced_by_the_characters_of_every_line():
    dialogue = [{"text": "a" * 300, "voice": "Brian"}, {"text": "b" * 200, "voice": "Adam"}]
    assert credits("elevenlabs/text-to-dialogue-v3", dialogue=dialogue) == usd("0.035")  # $0.07 per 1000 chars


def test_fractional_credits_are_quantized_to_cents():
    assert credits("qwen/text-to-image", prompt="x") == Decimal("4.19")  # 1.048576 MP at $0.02/MP
    assert credits("elevenlabs/text-to-speech-turbo-2-5", text="abc") == Decimal("0.02")  # 0.018 rounds half up
    assert credits("elevenlabs/sound-effect-v2", text="rain") == Decimal("1.20")  # assumes 5 s when empty


def test_missing_inputs_fall_back_to_defaults():
    assert estimate_credits(get_model("runway/gen"), {}) == Decimal("12.00")
    assert estimate_credits(get_model("nano-banana-pro"), {"resolution": "4K"}) == Decimal("24.00")
    assert estimate_credits(get_model("elevenlabs/text-to-speech-turbo-2-5"), {}) == Decimal("0.00")


def test_combinations_without_a_price_raise():
    # validate_inputs forbids this combination; unvalidated input gets a clear error instead of a wrong price
    with pytest.raises(PricingError, match="no price for duration, quality = '10\\|1080p'"):
        estimate_credits(get_model("runway/gen"), {"duration": 10, "quality": "1080p"})
    with pytest.raises(PricingError, match="depends on 'duration'"):
        evaluate_price({"credits": 2, "per": {"field": "duration"}}, {})


def _spec(price, fields=None) -> ModelSpec:
    raw = {
        "key": "test/model",
        "model": "test/model",
        "family": "market",
        "kind": "text_to_video",
        "output": "video",
        "name": "Test",
        "description": "Test model.",
        "endpoint": "POST /api/v1/jobs/createTask",
        "record_endpoint": "GET /api/v1/jobs/recordInfo",
        "typical_seconds": 10,
        "deadline_seconds": 100,
        "prompt_field": "prompt",
        "fields": fields
        or [
            {"name": "prompt", "type": "text", "label": "Prompt", "required": True, "default": None, "help": "h"},
            {"name": "seconds", "type": "number", "label": "Seconds", "required": False, "default": 4, "help": "h"},
            {
                "name": "tier",
                "type": "enum",
                "label": "Tier",
                "required": False,
                "default": "a",
                "help": "h",
                "choices": ["a", "b"],
            },
            {"name": "hd", "type": "boolean", "label": "HD", "required": False, "default": False, "help": "h"},
        ],
        "price": price,
    }
    spec, problems = build_model(raw, "test")
    assert not problems, problems
    return spec


def test_dsl_rounding_units_assume_default_and_nesting():
    up = _spec({"credits": 3, "per": {"field": "seconds", "unit": 5, "round": "up"}})
    assert estimate_credits(up, {"seconds": 6}) == Decimal("6.00")  # 2 started blocks of 5 s
    exact = _spec({"credits": 3, "per": {"field": "seconds", "unit": 5}})
    assert estimate_credits(exact, {"seconds": 6}) == Decimal("3.60")
    nested = _spec({"by": ["tier"], "table": {"a": {"by": ["hd"], "table": {"true": 10, "false": 5}}}, "default": 1})
    assert estimate_credits(nested, {"tier": "a", "hd": True}) == Decimal("10.00")
    assert estimate_credits(nested, {"tier": "a"}) == Decimal("5.00")
    assert estimate_credits(nested, {"tier": "b"}) == Decimal("1.00")
    factor = _spec(
        {"credits": 2, "multiply": [{"field": "tier", "table": {"b": 1.5}, "default": 1}, {"field": "seconds"}]}
    )
    assert estimate_credits(factor, {"tier": "b", "seconds": 3}) == Decimal("9.00")
    assert estimate_credits(factor, {}) == Decimal("8.00")  # tier a -> 1, seconds default 4


def test_price_structure_is_checked():
    names = frozenset({"prompt", "seconds"})
    assert check_price({"credits": 4}, names) == []
    assert check_price({"by": ["resolution"], "table": {"1K": 1}}, names) == ["price.by: unknown field 'resolution'"]
    assert "price: needs exactly one of 'credits' or 'by'" in check_price(
        {"credits": 1, "by": ["seconds"], "table": {"1": 1}}, names
    )
    assert check_price({"credits": 1, "per": {"field": "seconds", "measure": "minutes"}}, names) == [
        "price.per.measure: must be one of value, chars, items"
    ]
    assert check_price(-1, names) == ["price: credits must be a non-negative number"]
    assert check_price({"by": ["prompt", "seconds"], "table": {"x": 1}}, names) == [
        "price.table: key 'x' needs 2 part(s) joined by '|'"
    ]
