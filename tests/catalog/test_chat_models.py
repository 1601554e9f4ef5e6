from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from kiestudio.kie.catalog import CatalogError, UnknownModel
from kiestudio.kie.catalog.chat import (
    CHAT_MODELS_FILE,
    chat_model_groups,
    get_chat_model,
    load_chat_models,
    parse_chat_models,
)
from kiestudio.simulator.chat import CLAUDE_MODELS, OPENAI_MODELS, RESPONSES_MODELS

from .test_price_table import PRICES


def test_the_issue_models_are_in_the_catalog():
    models, default = load_chat_models()
    for key in ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6"):
        assert models[key].api == "anthropic"
    assert {m.api for m in models.values()} == {"anthropic", "openai", "responses"}
    assert models[default].key == default == get_chat_model(None).key
    assert not models["claude-haiku-4-5"].supports_thinking  # Kie: no thinkingFlag on Haiku 4.5


def test_the_newer_models_and_where_kie_serves_them():
    models, _ = load_chat_models()
    for key in ("claude-opus-4-7", "claude-opus-4-8", "claude-fable-5"):
        assert (models[key].api, models[key].path, models[key].wire_id) == ("anthropic", "/claude/v1/messages", key)
        assert models[key].thinking == "flag"  # each page documents thinkingFlag
    assert models["gemini-3.1-pro"].path == "/gemini-3.1-pro/v1/chat/completions"
    assert models["gemini-3.5-flash"].path == "/gemini-3-5-flash-openai/v1/chat/completions"
    for key in ("gpt-5-4", "gpt-5-5"):
        assert (models[key].api, models[key].path) == ("responses", "/codex/v1/responses")
    for key in ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.2-codex", "gpt-5.3-codex", "gpt-5.4-codex"):
        assert (models[key].api, models[key].path, models[key].wire_id) == ("responses", "/api/v1/responses", key)
        assert models[key].group_label == "OpenAI Codex (for code)"


#: The rows of Kie's price table (tests/catalog/kie_docs/pricing-2026-06-30.md) that price each chat model.
PRICE_ROWS = {
    "claude-haiku-4-5": "Claude-Haiku-4-5, chat",
    "claude-sonnet-4-5": "claude-sonnet-4-5, Chat",
    "claude-sonnet-4-6": "Claude-Sonnet-4-6, chat",
    "claude-opus-4-5": "claude-opus-4-5, Chat",
    "claude-opus-4-6": "Claude-Opus-4-6, chat",
    "claude-opus-4-7": "Claude-Opus-4-7, chat",
    "claude-opus-4-8": "Claude-Opus-4-8, chat",
    "claude-fable-5": "Claude-fable-5 , chat",
    "gpt-5-2": "gpt-5-2, Chat",
    "gpt-5-4": "gpt-5.4, Chat",
    "gpt-5-5": "gpt-5.5, Chat",
    "gpt-5-codex": "gpt-5-codex, Chat",
    "gpt-5.1-codex": "gpt-5.1-codex, Chat",
    "gpt-5.2-codex": "gpt-5.2-codex, Chat",
    "gpt-5.3-codex": "gpt-5.3-codex, Chat",
    "gpt-5.4-codex": "gpt-5.4-codex, Chat",
    "gemini-2.5-flash": "Gemini 2.5 flash, Chat",
    "gemini-3-flash": "Gemini 3 Flash, Chat",
    "gemini-3.5-flash": "Gemini 3.5 Flash, chat",
    "gemini-3-pro": "Gemini 3 Pro, Chat",
    "gemini-3.1-pro": "Gemini 3.1 Pro- openai, chat",
}


@pytest.mark.parametrize("key", list(load_chat_models()[0]))
def test_token_prices_match_kies_table(key):
    spec = get_chat_model(key)
    assert key in PRICE_ROWS, f"name the row of Kie's price table that prices {key}"
    rows = {label.lower(): usd for label, usd in PRICES.items()}
    [usd_in] = rows[f"{PRICE_ROWS[key]}, input".lower()]
    [usd_out] = rows[f"{PRICE_ROWS[key]}, output".lower()]
    assert (spec.input_usd, spec.output_usd) == (usd_in, usd_out)
    # And in credits, as the studio shows them: 1 credit = $0.005.
    assert spec.estimate_credits(1_000_000, 1_000_000) == (usd_in + usd_out) * 200


def test_the_simulator_charges_the_catalogs_prices():
    for spec in load_chat_models()[0].values():
        if spec.api == "anthropic":
            sim = CLAUDE_MODELS[spec.wire_id]
        elif spec.api == "openai":
            sim = OPENAI_MODELS[spec.wire_id]
        else:
            sim = RESPONSES_MODELS[spec.path][spec.wire_id]
        assert (sim.input_usd, sim.output_usd) == (spec.input_usd, spec.output_usd), spec.key


def test_the_picker_groups_models_in_file_order():
    groups = chat_model_groups()
    assert [label for label, _ in groups] == ["Anthropic", "OpenAI", "OpenAI Codex (for code)", "Google"]
    assert sum(len(models) for _, models in groups) == len(load_chat_models()[0])
    assert [m.key for m in dict(groups)["OpenAI"]] == ["gpt-5-2", "gpt-5-4", "gpt-5-5"]


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
    # The Responses format's reasoning.effort: Kie's default is low; thinking asks for high.
    assert get_chat_model("gpt-5-5").request_options(thinking=True) == {"reasoning_effort": "high"}
    assert get_chat_model("gpt-5.3-codex").request_options(thinking=False) == {"reasoning_effort": "low"}


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


def test_a_responses_model_needs_its_endpoint_and_a_switch_its_format_has():
    data = json.loads(CHAT_MODELS_FILE.read_text())
    broken = copy.deepcopy(data)
    by_key = {m["key"]: m for m in broken["models"]}
    del by_key["gpt-5-4"]["path"]
    by_key["gpt-5-5"]["thinking"] = "include_thoughts"
    by_key["claude-opus-4-8"]["thinking"] = "reasoning_effort"
    by_key["gemini-3-pro"]["path"] = "gemini-3-pro/v1/chat/completions"
    with pytest.raises(CatalogError) as info:
        parse_chat_models(broken)
    text = str(info.value)
    assert "models[gpt-5-4].path: a Responses model needs its endpoint" in text
    assert "models[gpt-5-5].thinking: the responses format has no 'include_thoughts' switch" in text
    assert "models[claude-opus-4-8].thinking: the anthropic format has no 'reasoning_effort' switch" in text
    assert "models[gemini-3-pro].path: must be a path starting with /" in text
