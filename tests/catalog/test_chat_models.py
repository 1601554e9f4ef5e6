from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from kiestudio.kie.catalog import CatalogError, UnknownModel
from kiestudio.kie.catalog.chat import CHAT_MODELS_FILE, get_chat_model, load_chat_models, parse_chat_models


def test_the_issue_models_are_in_the_catalog():
    models, default = load_chat_models()
    for key in ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6"):
        assert models[key].api == "anthropic"
    assert {m.api for m in models.values()} == {"anthropic", "openai"}
    assert models[default].key == default == get_chat_model(None).key
    assert not models["claude-haiku-4-5"].supports_thinking  # Kie: no thinkingFlag on Haiku 4.5


def test_unknown_model():
    with pytest.raises(UnknownModel):
        get_chat_model("claude-nonexistent")


def test_prices_follow_the_contract_table():
    sonnet = get_chat_model("claude-sonnet-4-6")
    # 0.85 USD in / 4.275 USD out per million tokens, 0.005 USD per credit.
    assert sonnet.estimate_credits(1_000_000, 0) == Decimal("170")
    assert sonnet.estimate_credits(1000, 1000) == Decimal("1.0250")


def test_request_options_per_thinking_style():
    assert get_chat_model("claude-opus-4-6").request_options(thinking=True) == {"max_tokens": 8192, "thinking": True}
    assert get_chat_model("claude-haiku-4-5").request_options(thinking=True)["thinking"] is False
    assert get_chat_model("gemini-3-pro").request_options(thinking=True) == {"include_thoughts": True}
    assert get_chat_model("gpt-5-2").request_options(thinking=False) == {"reasoning_effort": "low"}


def test_bad_data_is_reported_all_at_once():
    data = json.loads(CHAT_MODELS_FILE.read_text())
    broken = copy.deepcopy(data)
    broken["models"][0]["api"] = "soap"
    broken["models"][1]["input_usd"] = "cheap"
    broken["models"][2]["thinking"] = "maybe"
    broken["models"].append(copy.deepcopy(data["models"][3]))
    broken["default"] = "nope"
    with pytest.raises(CatalogError) as info:
        parse_chat_models(broken)
    text = str(info.value)
    for fragment in ("api: must be one of", "is not a number", "thinking: must be null", "duplicate key", "default"):
        assert fragment in text
