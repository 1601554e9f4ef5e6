"""Planning a chat answer: what the model thinks and says, which tool it calls, and what the answer costs. One plan
feeds every wire format; it is seeded by the conversation, so the same request gets the same answer."""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .. import text as prose
from ..markers import Markers, strip
from ..state import SimState
from .agent import agent_call, is_studio
from .models import USD_PER_CREDIT, ChatModel

__all__ = ["Plan", "content_text", "make_plan"]

TOOL_NAME_FILLER = frozenset({"current", "fetch", "list", "create", "make", "update", "delete", "info", "data", "tool"})


@dataclass
class Plan:
    thinking: str | None
    text: str
    tool: tuple[str, str, dict[str, Any] | str] | None  # (id, name, input; a string: input that is not JSON)
    stop_reason: str  # end_turn | max_tokens | tool_use
    input_tokens: int
    output_tokens: int
    credits: Decimal
    rng: random.Random = field(repr=False, default_factory=random.Random)
    chunk_delay: float | None = None  # [sim:delay S]
    cut_after: int | None = None  # [sim:cut N]: an error event after N text chunks
    drop_after: int | None = None  # [sim:drop N]: the connection drops after N text chunks
    garbled: bool = False  # [sim:malformed]: an unreadable event after the second text chunk

    def delay(self, config_delay: float) -> float:
        return config_delay if self.chunk_delay is None else self.chunk_delay


def content_text(content: Any) -> str:
    """A message's text: a string, or the text blocks (and tool results) of a content list."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") == "tool_result":
                    parts.append(content_text(block.get("content")))
    return "\n".join(parts)


def _answering_tools(messages: list[dict[str, Any]]) -> bool:
    """Tool results came back since the model last spoke (the turns after its last message hold one; a Responses or
    chat-completions request may follow them with a user turn carrying the results' pictures)."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return False
        if _has_tool_result(message):
            return True
    return False


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return message.get("role") == "tool" or (
        isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def _count_tokens(value: Any) -> int:
    raw = value if isinstance(value, str) else json.dumps(value)
    return max(1, round(len(re.findall(r"\w+|[^\w\s]", raw)) * 0.75))


def _credits(model: ChatModel, input_tokens: int, output_tokens: int) -> Decimal:
    usd = (model.input_usd * input_tokens + model.output_usd * output_tokens) / Decimal(1_000_000)
    return (usd / USD_PER_CREDIT).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _schema_value(schema: Any, name: str, prompt: str, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 4:
        return prose.topic(prompt)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        wanted = schema.get("required") or list(props)
        return {key: _schema_value(props.get(key, {}), key, prompt, depth + 1) for key in wanted}
    if kind == "array":
        return [_schema_value(schema.get("items", {}), name, prompt, depth + 1)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    capitals = re.findall(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]+)*", prompt)
    if any(word in name.lower() for word in ("location", "city", "place", "country")) and capitals:
        return capitals[-1]
    return prose.topic(prompt)


def _wants_tool(
    tools: list[dict[str, Any]], prompt: str, markers: Markers, forced: str | None
) -> dict[str, Any] | None:
    """The tool the reply should call, or None."""
    if not tools:
        return None
    by_name = {str(t.get("name")): t for t in tools if t.get("name")}
    if forced is not None:
        return by_name.get(forced) or next(iter(by_name.values()), None)
    if markers.tool is not None:
        return by_name.get(markers.tool) or next(iter(by_name.values()), None)
    lowered = prompt.lower()
    words = set(re.findall(r"[a-z0-9]+", lowered))
    for name, tool in by_name.items():
        if name.lower() in lowered or name.lower().replace("_", " ") in lowered:
            return tool
    for name, tool in by_name.items():
        parts = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())
        if any(len(part) >= 4 and part not in TOOL_NAME_FILLER and part in words for part in parts):
            return tool
    if re.search(r"\b(tool|tools|function)\b", lowered):
        return next(iter(by_name.values()), None)
    return None


def _title_asked(messages: list[dict[str, Any]], system: Any) -> str | None:
    """A request whose system prompt asks for a title of the conversation is answered with a few words of its first
    user message, as a model naming a chat would; None for any other request."""
    instructions = [content_text(system)] if system else []
    instructions += [content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")]
    said = " ".join(instructions).lower()
    if not (re.search(r"\btitle\b", said) and re.search(r"\bconversations?\b", said)):
        return None
    first = next((m for m in messages if m.get("role") == "user"), None)
    return prose.title(strip(content_text(first.get("content")))) if first else "Untitled"


def make_plan(
    sim: SimState,
    model: ChatModel,
    *,
    messages: list[dict[str, Any]],
    extra_input: Any,
    tools: list[dict[str, Any]],
    forced_tool: str | None,
    tool_allowed: bool,
    thinking: bool,
    max_tokens: int,
    markers: Markers,
    system: Any = None,
) -> Plan:
    """``system`` is the system prompt given outside ``messages`` (Anthropic's ``system``, Responses'
    ``instructions``)."""
    last_user = next((m for m in reversed(messages) if m.get("role") in ("user", "tool")), messages[-1])
    prompt = content_text(last_user.get("content"))
    seed_text = json.dumps([sim.config.seed, messages], sort_keys=True, default=str)
    rng = random.Random(hashlib.sha256(seed_text.encode()).hexdigest())
    words = markers.words or sim.config.chat_reply_words
    thought = prose.thinking(rng, prompt, sim.config.chat_thinking_words) if thinking and model.thinking else None

    tool = None
    answering = _answering_tools(messages)
    title = _title_asked(messages, system)  # a title is all the answer
    tool_allowed = tool_allowed and title is None
    if tool_allowed and is_studio(tools):  # the studio's own tools: the simulator plays an agent (agent.py)
        picked = agent_call(messages, tools, content_text, answering)
        if picked is not None:
            tool_id = "toolu_" + hashlib.sha256((seed_text + picked[0]).encode()).hexdigest()[:24]
            tool = (tool_id, picked[0], picked[1])
    elif tool_allowed and not answering:
        chosen = _wants_tool(tools, prompt, markers, forced_tool)
        if chosen is not None:
            name = str(chosen["name"])
            schema = chosen.get("input_schema") or chosen.get("parameters") or {"type": "object", "properties": {}}
            tool_input = _schema_value(schema, name, strip(prompt))
            if not isinstance(tool_input, dict):
                tool_input = {"input": tool_input}
            tool_id = "toolu_" + hashlib.sha256((seed_text + name).encode()).hexdigest()[:24]
            tool = (tool_id, name, tool_input)
    if title is not None:
        reply = title
    elif tool is not None:
        reply = f"I'll use the {tool[1]} tool to answer that."
    elif answering:
        reply = "Based on the tool result: " + prose.reply(rng, prompt, max(10, words - 4))
    else:
        reply = prose.reply(rng, strip(prompt), words)

    output = len(prose.tokens(reply)) + (len(prose.tokens(thought)) if thought else 0)
    if tool:
        output += _count_tokens(tool[2])
    stop = "tool_use" if tool else "end_turn"
    if output > max_tokens:
        keep = max(1, max_tokens - (len(prose.tokens(thought)) if thought else 0))
        reply = "".join(prose.tokens(reply)[:keep]).rstrip()
        tool = None
        stop = "max_tokens"
        output = min(output, max_tokens)
    input_tokens = _count_tokens([messages, extra_input])
    return Plan(
        thought,
        reply,
        tool,
        stop,
        input_tokens,
        output,
        _credits(model, input_tokens, output),
        rng,
        chunk_delay=markers.chunk_delay,
        cut_after=markers.cut_after,
        drop_after=markers.drop_after,
        garbled=markers.malformed,
    )
