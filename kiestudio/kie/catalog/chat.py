"""The chat model catalog: ``chat_models.json`` read into :class:`ChatModelSpec` objects.

Data, not code: a model is added, renamed or re-priced by editing the JSON. ``api`` says which wire format
Kie speaks for it (``anthropic`` Messages at ``/claude/v1/messages``, ``openai`` chat completions at
``/{wire_id}/v1/chat/completions``, or ``responses``: OpenAI's Responses API at the ``path`` the entry names,
``/codex/v1/responses`` or ``/api/v1/responses``), and ``thinking`` how its extended thinking is switched on.
``group`` (default: the vendor) is the heading the model is listed under in the model picker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from .errors import CatalogError, UnknownModel

__all__ = [
    "ChatModelSpec",
    "chat_model_groups",
    "cheapest_chat_model",
    "get_chat_model",
    "load_chat_models",
    "parse_chat_models",
]

CHAT_MODELS_FILE = Path(__file__).with_name("chat_models.json")
APIS = ("anthropic", "openai", "responses")
# flag: Kie's ``thinkingFlag``; include_thoughts: Gemini's switch; reasoning_effort: GPT's high/low (``reasoning.effort``
# in the Responses format).
THINKING_STYLES = ("flag", "include_thoughts", "reasoning_effort")
#: The switches each wire format has (looked up with whatever a catalog entry says, which may be missing).
FORMAT_THINKING: dict[str | None, tuple[str, ...]] = {
    "anthropic": ("flag",),
    "openai": ("include_thoughts", "reasoning_effort"),
    "responses": ("reasoning_effort",),
}


@dataclass(frozen=True)
class ChatModelSpec:
    key: str
    name: str
    vendor: str
    api: str
    wire_id: str
    thinking: str | None
    vision: bool
    max_tokens: int
    input_usd: Decimal  # per million tokens
    output_usd: Decimal
    usd_per_credit: Decimal
    description: str = ""
    path: str = ""  # the endpoint Kie serves the model at (see ``default_path``)
    group: str = ""  # the picker's heading; the vendor when empty

    @property
    def group_label(self) -> str:
        return self.group or self.vendor

    @property
    def supports_thinking(self) -> bool:
        return self.thinking is not None

    def estimate_credits(self, input_tokens: int, output_tokens: int) -> Decimal:
        """Kie's token price in credits, for when an answer does not say what it cost."""
        usd = (self.input_usd * input_tokens + self.output_usd * output_tokens) / Decimal(1_000_000)
        return (usd / self.usd_per_credit).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)

    def request_options(self, *, thinking: bool) -> dict[str, Any]:
        """Keyword arguments for ``AsyncKieClient.stream_claude`` / ``stream_openai_chat`` / ``stream_responses``."""
        if self.api == "anthropic":
            return {"max_tokens": self.max_tokens, "thinking": thinking and self.thinking == "flag"}
        if self.thinking == "include_thoughts":
            return {"include_thoughts": thinking}
        if self.thinking == "reasoning_effort":
            return {"reasoning_effort": "high" if thinking else "low"}
        return {}


def default_path(api: str, wire_id: str) -> str:
    """Where Kie serves a model of this format when the entry names no ``path`` (Responses models must)."""
    if api == "anthropic":
        return "/claude/v1/messages"
    if api == "openai":
        return f"/{wire_id}/v1/chat/completions"
    return ""


def _decimal(value: Any, where: str, problems: list[str]) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        problems.append(f"{where}: {value!r} is not a number")
        return Decimal(0)
    if number < 0:
        problems.append(f"{where}: must not be negative")
    return number


def parse_chat_models(data: dict[str, Any]) -> tuple[dict[str, ChatModelSpec], str]:
    """Check the data and build the specs; every problem is reported at once in a CatalogError."""
    problems: list[str] = []
    per_credit = _decimal(data.get("usd_per_credit", "0.005"), "usd_per_credit", problems)
    if per_credit == 0:
        problems.append("usd_per_credit: must be positive")
    models: dict[str, ChatModelSpec] = {}
    for index, raw in enumerate(data.get("models") or []):
        where = f"models[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be an object")
            continue
        key = raw.get("key")
        if not isinstance(key, str) or not key:
            problems.append(f"{where}.key: required")
            continue
        where = f"models[{key}]"
        if key in models:
            problems.append(f"{where}: duplicate key")
        for name in ("name", "vendor", "wire_id"):
            if not isinstance(raw.get(name), str) or not raw[name]:
                problems.append(f"{where}.{name}: required")
        if raw.get("api") not in APIS:
            problems.append(f"{where}.api: must be one of {', '.join(APIS)}")
        if raw.get("thinking") is not None and raw["thinking"] not in THINKING_STYLES:
            problems.append(f"{where}.thinking: must be null or one of {', '.join(THINKING_STYLES)}")
        elif raw.get("thinking") is not None and raw["thinking"] not in FORMAT_THINKING.get(raw.get("api"), ()):
            problems.append(f"{where}.thinking: the {raw.get('api')} format has no {raw['thinking']!r} switch")
        path = raw.get("path") or default_path(str(raw.get("api")), str(raw.get("wire_id", key)))
        if raw.get("api") == "responses" and not (isinstance(path, str) and path.endswith("/responses")):
            problems.append(f"{where}.path: a Responses model needs its endpoint, e.g. /codex/v1/responses")
        elif raw.get("api") in APIS and not (isinstance(path, str) and path.startswith("/")):
            problems.append(f"{where}.path: must be a path starting with /")
        group = raw.get("group", "")
        if not isinstance(group, str):
            problems.append(f"{where}.group: must be text")
            group = ""
        max_tokens = raw.get("max_tokens", 4096)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            problems.append(f"{where}.max_tokens: must be a positive integer")
            max_tokens = 4096
        models[key] = ChatModelSpec(
            key=key,
            name=str(raw.get("name", key)),
            vendor=str(raw.get("vendor", "")),
            api=str(raw.get("api")),
            wire_id=str(raw.get("wire_id", key)),
            thinking=raw.get("thinking"),
            vision=bool(raw.get("vision", False)),
            max_tokens=max_tokens,
            input_usd=_decimal(raw.get("input_usd"), f"{where}.input_usd", problems),
            output_usd=_decimal(raw.get("output_usd"), f"{where}.output_usd", problems),
            usd_per_credit=per_credit or Decimal("0.005"),
            description=str(raw.get("description", "")),
            path=str(path),
            group=group,
        )
    if not models:
        problems.append("models: at least one chat model is required")
    default = data.get("default")
    if models and default not in models:
        problems.append(f"default: {default!r} is not one of the models")
    if problems:
        raise CatalogError(problems)
    return models, str(default)


@cache
def load_chat_models() -> tuple[dict[str, ChatModelSpec], str]:
    """``(models by key, default key)``, read once per process."""
    return parse_chat_models(json.loads(CHAT_MODELS_FILE.read_text(encoding="utf-8")))


def chat_model_groups(models: Iterable[ChatModelSpec] | None = None) -> list[tuple[str, list[ChatModelSpec]]]:
    """``(heading, models)`` for the model picker: groups in order of first appearance, models in file order."""
    groups: dict[str, list[ChatModelSpec]] = {}
    for spec in load_chat_models()[0].values() if models is None else models:
        groups.setdefault(spec.group_label, []).append(spec)
    return list(groups.items())


def get_chat_model(key: str | None) -> ChatModelSpec:
    """The spec for ``key``; the default model when ``key`` is empty; ``UnknownModel`` otherwise."""
    models, default = load_chat_models()
    if not key:
        return models[default]
    try:
        return models[key]
    except KeyError:
        raise UnknownModel(key, list(models)) from None


def cheapest_chat_model(input_tokens: int, output_tokens: int) -> ChatModelSpec:
    """The model whose token prices make a request of this size cheapest (the first in file order on a tie): for
    the studio's own small requests, such as a conversation's title."""

    def price(spec: ChatModelSpec) -> Decimal:  # unrounded: a small request's credits round to the same few digits
        return (spec.input_usd * input_tokens + spec.output_usd * output_tokens) / spec.usd_per_credit

    return min(load_chat_models()[0].values(), key=price)
