"""The chat models the simulator serves, per wire format, with Kie's prices (contract 7.4)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["CLAUDE_MODELS", "OPENAI_MODELS", "REASONING_EFFORTS", "RESPONSES_MODELS", "USD_PER_CREDIT", "ChatModel"]

USD_PER_CREDIT = Decimal("0.005")


@dataclass(frozen=True)
class ChatModel:
    input_usd: Decimal  # per million tokens (contract 7.4)
    output_usd: Decimal
    stream_default: bool = False
    thinking: bool = True


def _m(i: str, o: str, stream: bool = False, thinking: bool = True) -> ChatModel:
    return ChatModel(Decimal(i), Decimal(o), stream, thinking)


#: Claude ids, without the ``-v1messages`` suffix (both forms are accepted). ``stream`` defaults to true.
CLAUDE_MODELS: dict[str, ChatModel] = {
    "claude-haiku-4-5": _m("0.275", "1.425", True, thinking=False),
    "claude-sonnet-4-5": _m("0.85", "4.275", True),
    "claude-sonnet-4-6": _m("0.85", "4.275", True),
    "claude-opus-4-5": _m("1.425", "7.15", True),
    "claude-opus-4-6": _m("1.425", "7.15", True),
    "claude-opus-4-7": _m("1.425", "7.15", True),
    "claude-opus-4-8": _m("2", "10", True),
    "claude-fable-5": _m("4", "20", True),  # Kie's price table (2026-06-30): $4 in, $20 out
}
#: Path-routed OpenAI-style models (contract 7.2); Gemini pages say ``stream`` defaults to true.
OPENAI_MODELS: dict[str, ChatModel] = {
    "gpt-5-2": _m("0.44", "3.5"),
    "gemini-2.5-pro": _m("0.38", "3.00", True),
    "gemini-2.5-flash": _m("0.09", "0.75", True),
    "gemini-3-pro": _m("0.50", "3.50", True),
    "gemini-3.1-pro": _m("0.50", "3.50", True),
    "gemini-3-flash": _m("0.15", "0.90", True),
    "gemini-3-5-flash-openai": _m("0.45", "2.70", True),
    "claude-sonnet-4-5": _m("0.85", "4.275"),  # the older OpenAI-style Claude path
}
#: Responses-format models by endpoint (contract 7.3); ``stream`` defaults to true on both.
RESPONSES_MODELS: dict[str, dict[str, ChatModel]] = {
    "/codex/v1/responses": {
        "gpt-5-4": _m("0.70", "5.60", True),
        "gpt-5-5": _m("1.4", "8.4", True),
    },
    "/api/v1/responses": {
        "gpt-5-codex": _m("0.50", "4.00", True),
        "gpt-5.1-codex": _m("0.50", "4.00", True),
        "gpt-5.2-codex": _m("0.70", "5.60", True),
        "gpt-5.3-codex": _m("0.70", "5.60", True),
        "gpt-5.4-codex": _m("0.70", "5.60", True),
    },
}
REASONING_EFFORTS = ("low", "medium", "high", "xhigh")
