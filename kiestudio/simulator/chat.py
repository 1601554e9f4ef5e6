"""Chat endpoints (contract 7): Anthropic Messages at /claude/v1/messages, OpenAI chat completions at
/{model}/v1/chat/completions and OpenAI's Responses API at /codex/v1/responses (GPT-5.4/5.5) and
/api/v1/responses (Codex), each non-streaming JSON and SSE in the vendor's exact wire format."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import text as prose
from .common import BadRequest, bearer_key, chat_error, key_ok, note, read_json, sim_of, wait_or_shutdown
from .markers import Markers, parse, strip
from .state import SimState


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


USD_PER_CREDIT = Decimal("0.005")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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


# ------------------------------------------------------------------------------------------ planning


@dataclass
class Plan:
    thinking: str | None
    text: str
    tool: tuple[str, str, dict[str, Any]] | None  # (id, name, input)
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


class DroppedConnection(Exception):
    """Raised inside a stream to make the server abort the connection mid-body ([sim:drop])."""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif block.get("type") == "tool_result":
                    parts.append(_content_text(block.get("content")))
    return "\n".join(parts)


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


TOOL_NAME_FILLER = frozenset({"current", "fetch", "list", "create", "make", "update", "delete", "info", "data", "tool"})


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
) -> Plan:
    last_user = next((m for m in reversed(messages) if m.get("role") in ("user", "tool")), messages[-1])
    prompt = _content_text(last_user.get("content"))
    seed_text = json.dumps([sim.config.seed, messages], sort_keys=True, default=str)
    rng = random.Random(hashlib.sha256(seed_text.encode()).hexdigest())
    words = markers.words or sim.config.chat_reply_words
    thought = prose.thinking(rng, prompt, sim.config.chat_thinking_words) if thinking and model.thinking else None

    tool = None
    if tool_allowed and not _has_tool_result(last_user):
        chosen = _wants_tool(tools, prompt, markers, forced_tool)
        if chosen is not None:
            name = str(chosen["name"])
            schema = chosen.get("input_schema") or chosen.get("parameters") or {"type": "object", "properties": {}}
            tool_input = _schema_value(schema, name, prose_strip(prompt))
            if not isinstance(tool_input, dict):
                tool_input = {"input": tool_input}
            tool_id = "toolu_" + hashlib.sha256((seed_text + name).encode()).hexdigest()[:24]
            tool = (tool_id, name, tool_input)
    if tool is not None:
        reply = f"I'll use the {tool[1]} tool to answer that."
    elif _has_tool_result(last_user):
        reply = "Based on the tool result: " + prose.reply(rng, prompt, max(10, words - 4))
    else:
        reply = prose.reply(rng, prose_strip(prompt), words)

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


def prose_strip(prompt: str) -> str:
    return strip(prompt)


def _chunks(text: str, per_chunk: int) -> list[str]:
    tokens = prose.tokens(text)
    size = max(1, per_chunk)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)] or [""]


def _json_pieces(value: dict[str, Any], size: int = 12) -> list[str]:
    raw = json.dumps(value)
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


async def _pre_checks(request: Request, markers: Markers, credits: Decimal) -> Response | None:
    sim = sim_of(request)
    if markers.chat_error:
        status, message = markers.chat_error
        return chat_error(status, message or _default_message(status))
    if markers.hang is not None:
        await wait_or_shutdown(sim, sim.config.hang_seconds if markers.hang < 0 else markers.hang)
        return chat_error(504, "Upstream timed out")
    if markers.slow is not None:
        await wait_or_shutdown(sim, sim.config.slow_seconds if markers.slow < 0 else markers.slow)
    if markers.http_5xx:
        return chat_error(markers.http_5xx, _default_message(markers.http_5xx))
    if "chat" in sim.config.fault_kinds:
        r_5xx, r_slow = sim.fault_rng.random(), sim.fault_rng.random()
        if r_slow < sim.config.slow_rate:
            await wait_or_shutdown(sim, sim.config.slow_seconds)
        if r_5xx < sim.config.fault_5xx_rate:
            return chat_error(500, _default_message(500))
    with sim.lock:
        if sim.balance < credits or sim.balance <= 0:
            return chat_error(402, "insufficient credits")
        sim.balance -= credits
    return None


def _default_message(status: int) -> str:
    return {
        400: "Invalid request",
        401: "Invalid API key",
        429: "Rate limit exceeded, please retry later",
        500: "Internal server error",
    }.get(status, "Upstream error")


def _sse(event: str | None, payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise BadRequest(f"messages.{index}: each message needs a role and content")
    return messages


# --------------------------------------------------------------------------------------- Anthropic


async def claude_messages(request: Request) -> Response:
    sim = sim_of(request)
    if not key_ok(sim, bearer_key(request, allow_x_api_key=True)):
        return chat_error(401, "Invalid API key")
    try:
        body = await read_json(request)
        messages = _messages(body)
    except BadRequest as exc:
        return chat_error(400, exc.message)
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return chat_error(400, f"messages.{index}.role: must be 'user' or 'assistant'")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return chat_error(400, "model: field required")
    note(request, model=model_id)
    base_id = model_id.removesuffix("-v1messages")
    model = CLAUDE_MODELS.get(base_id)
    if model is None:
        return chat_error(400, f"model: '{model_id}' is not supported")
    max_tokens = body.get("max_tokens", 4096)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return chat_error(400, "max_tokens: must be a positive integer")
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        return chat_error(400, "tools: must be a list")
    choice = _dict(body.get("tool_choice"))
    forced = choice.get("name") if choice.get("type") == "tool" else ("" if choice.get("type") == "any" else None)
    thinking = body.get("thinkingFlag") is True or (
        isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled"
    )
    last_text = _content_text(messages[-1].get("content"))
    markers = parse([last_text])
    plan = make_plan(
        sim,
        model,
        messages=messages,
        extra_input=[body.get("system"), tools],
        tools=[t for t in tools if isinstance(t, dict)],
        forced_tool=forced,
        tool_allowed=choice.get("type") != "none",
        thinking=thinking,
        max_tokens=max_tokens,
        markers=markers,
    )
    if refused := await _pre_checks(request, markers, plan.credits):
        return refused
    stream = body.get("stream")
    if stream is None:
        stream = model.stream_default if sim.config.chat_stream_default is None else sim.config.chat_stream_default
    message_id = "msg_" + hashlib.sha256(f"{plan.rng.random()}".encode()).hexdigest()[:24]
    signature = base64.b64encode(hashlib.sha256((plan.thinking or "").encode()).digest() * 2).decode()
    if not stream:
        return JSONResponse(_claude_body(message_id, base_id, plan, signature))
    return StreamingResponse(
        _counted(sim, _claude_events(sim, message_id, base_id, plan, signature)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _counted(sim: SimState, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Count open chat streams, and the ones the client abandoned (closed before the last event)."""
    with sim.lock:
        sim.chat_streams_open += 1
    finished = False
    sent: list[float] | None = [] if sim.config.chat_timings else None
    try:
        async for chunk in events:
            yield chunk
            # Resumed once the server has written the chunk: that moment is when it left, for benchmarks.
            if sent is not None and (
                b'"text_delta"' in chunk
                or b'"response.output_text.delta"' in chunk
                or (b'"content":"' in chunk and b'"content":""' not in chunk)
            ):
                sent.append(time.monotonic())
        finished = True
    except DroppedConnection:
        finished = True
        raise
    finally:
        with sim.lock:
            sim.chat_streams_open -= 1
            if not finished:
                sim.chat_streams_abandoned += 1
            if sent is not None:
                sim.chat_timings.append(sent)


def _claude_usage(plan: Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "output_tokens": plan.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
        "inference_geo": "not_available",
    }


def _claude_body(message_id: str, model: str, plan: Plan, signature: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if plan.thinking:
        content.append({"type": "thinking", "thinking": plan.thinking, "signature": signature})
    content.append({"type": "text", "text": plan.text})
    if plan.tool:
        tool_id, name, tool_input = plan.tool
        content.append(
            {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input, "caller": {"type": "direct"}}
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": plan.stop_reason,
        "usage": _claude_usage(plan),
        "credits_consumed": _number(plan.credits),
    }


async def _claude_events(
    sim: SimState, message_id: str, model: str, plan: Plan, signature: str
) -> AsyncIterator[bytes]:
    config = sim.config
    delay = plan.delay(config.chat_chunk_delay)
    usage = {**_claude_usage(plan), "output_tokens": 1}
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield _sse("message_start", {"type": "message_start", "message": start})
    yield _sse("ping", {"type": "ping"})
    index = 0

    async def pause() -> None:
        if delay > 0:
            await asyncio.sleep(delay)

    if plan.thinking:
        block: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        yield _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        for piece in _chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause()
            delta = {"type": "thinking_delta", "thinking": piece}
            yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        delta = {"type": "signature_delta", "signature": signature}
        yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
    )
    for sent, piece in enumerate(_chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause()
        if sent % 25 == 0:
            yield _sse("ping", {"type": "ping"})
        delta = {"type": "text_delta", "text": piece}
        yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        if sent == 2 and plan.garbled:
            yield b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n'
        if sent == plan.cut_after:
            error = {"type": "overloaded_error", "message": "Overloaded"}
            yield _sse("error", {"type": "error", "error": error})
            return
        if sent == plan.drop_after:
            raise DroppedConnection
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    index += 1
    if plan.tool:
        tool_id, name, tool_input = plan.tool
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
        yield _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        for piece in ["", *_json_pieces(tool_input)]:
            await pause()
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    final = {
        "type": "message_delta",
        "delta": {"stop_reason": plan.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": plan.output_tokens},
        "credits_consumed": _number(plan.credits),
    }
    yield _sse("message_delta", final)
    yield _sse("message_stop", {"type": "message_stop"})


# ------------------------------------------------------------------------------------------ OpenAI


async def chat_completions(request: Request) -> Response:
    sim = sim_of(request)
    model_id = request.path_params["model"]
    note(request, model=model_id)
    if not key_ok(sim, bearer_key(request)):
        return chat_error(401, "Invalid API key")
    model = OPENAI_MODELS.get(model_id)
    if model is None:
        return chat_error(404, f"The model '{model_id}' does not exist", "not_found_error")
    try:
        body = await read_json(request)
        messages = _messages(body)
    except BadRequest as exc:
        return chat_error(400, exc.message)
    roles = ("developer", "system", "user", "assistant", "tool")
    for index, message in enumerate(messages):
        if message.get("role") not in roles:
            return chat_error(400, f"messages.{index}.role: must be one of {', '.join(roles)}")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 8192
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return chat_error(400, "max_tokens: must be a positive integer")
    raw_tools = body.get("tools") or []
    tools = [
        {"name": t["function"].get("name"), "parameters": t["function"].get("parameters")}
        for t in raw_tools
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("name")
    ]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        forced = choice["function"].get("name")
    elif choice == "required":
        forced = ""
    thoughts = body.get("include_thoughts") is True
    markers = parse([_content_text(messages[-1].get("content"))])
    plan = make_plan(
        sim,
        model,
        messages=messages,
        extra_input=raw_tools,
        tools=tools,
        forced_tool=forced,
        tool_allowed=choice != "none",
        thinking=thoughts,
        max_tokens=max_tokens,
        markers=markers,
    )
    if refused := await _pre_checks(request, markers, plan.credits):
        return refused
    stream = body.get("stream")
    if stream is None:
        stream = model.stream_default if sim.config.chat_stream_default is None else sim.config.chat_stream_default
    completion_id = "chatcmpl-" + hashlib.sha256(f"{plan.rng.random()}".encode()).hexdigest()[:24]
    created = int(time.time())
    finish = {"tool_use": "tool_calls", "max_tokens": "length"}.get(plan.stop_reason, "stop")
    usage = {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
    }
    if not stream:
        message = {"role": "assistant", "content": plan.text}
        if plan.thinking:
            message["reasoning_content"] = plan.thinking
        if plan.tool:
            tool_id, name, tool_input = plan.tool
            message["tool_calls"] = [
                {
                    "id": "call_" + tool_id[6:],
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(tool_input)},
                }
            ]
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model_id,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
                "credits_consumed": _number(plan.credits),
            }
        )
    return StreamingResponse(
        _counted(sim, _openai_chunks(sim, completion_id, created, model_id, plan, finish, usage)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _openai_chunks(
    sim: SimState, completion_id: str, created: int, model_id: str, plan: Plan, finish: str, usage: dict[str, int]
) -> AsyncIterator[bytes]:
    config = sim.config

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }
        return _sse(None, payload)

    delay = plan.delay(config.chat_chunk_delay)

    async def pause() -> None:
        if delay > 0:
            await asyncio.sleep(delay)

    yield chunk({"role": "assistant", "content": ""})
    if plan.thinking:
        for piece in _chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause()
            yield chunk({"reasoning_content": piece})
    for sent, piece in enumerate(_chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause()
        yield chunk({"content": piece})
        if sent == 2 and plan.garbled:
            yield b'data: {"id":"chatcmpl-x","choices":[{"index":0,"delta":{"cont\n\n'
        if sent == plan.cut_after:
            yield _sse(
                None,
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                    }
                },
            )
            return
        if sent == plan.drop_after:
            raise DroppedConnection
    if plan.tool:
        tool_id, name, tool_input = plan.tool
        call = {
            "index": 0,
            "id": "call_" + tool_id[6:],
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        yield chunk({"tool_calls": [call]})
        for piece in _json_pieces(tool_input):
            await pause()
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield chunk({}, finish, usage=usage, credits_consumed=_number(plan.credits))
    yield _sse(None, "[DONE]")


# --------------------------------------------------------------------------------------- Responses

#: Content part types per input role: OpenAI takes the model's own earlier turns as output_text (or refusal).
INPUT_PARTS = frozenset({"input_text", "input_image", "input_file"})
ASSISTANT_PARTS = frozenset({"output_text", "refusal"})
INPUT_ROLES = ("user", "assistant", "system", "developer", "tool")


def _responses_input(raw: Any) -> list[dict[str, Any]]:
    """The ``input`` as chat messages (roles and text) for planning; BadRequest names the first problem."""
    if isinstance(raw, str):
        if not raw:
            raise BadRequest("input: must not be empty")
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise BadRequest("input: a string or a non-empty array of messages is required")
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where}: must be an object")
        kind = item.get("type")
        if kind == "function_call_output":  # a tool result handed back to the model
            messages.append({"role": "tool", "content": str(item.get("output", ""))})
            continue
        if kind in ("function_call", "reasoning"):  # the model's own earlier items, echoed back
            continue
        role = item.get("role")
        if role not in INPUT_ROLES:
            raise BadRequest(f"{where}.role: must be one of {', '.join(INPUT_ROLES)}")
        content = item.get("content")
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        if not isinstance(content, list) or not content:
            raise BadRequest(f"{where}.content: a string or a non-empty array of parts is required")
        allowed = ASSISTANT_PARTS if role == "assistant" else INPUT_PARTS
        for part_index, part in enumerate(content):
            part_type = part.get("type") if isinstance(part, dict) else None
            if part_type not in allowed:
                supported = " and ".join(repr(t) for t in sorted(allowed))
                raise BadRequest(
                    f"{where}.content[{part_index}].type: Invalid value: {part_type!r}. Supported values are: {supported}."
                )
            if part_type in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                raise BadRequest(f"{where}.content[{part_index}].text: required")
            if part_type == "input_image" and not (part.get("image_url") or part.get("file_id")):
                raise BadRequest(f"{where}.content[{part_index}].image_url: required")
        messages.append({"role": role, "content": content})
    if not any(m["role"] in ("user", "tool") for m in messages):
        raise BadRequest("input: at least one user message is required")
    return messages


def _responses_tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("tools: must be an array")
    if not all(isinstance(t, dict) for t in raw):
        raise BadRequest("tools: each tool must be an object")
    kinds = {t.get("type") for t in raw}
    if "web_search" in kinds and "function" in kinds:
        raise BadRequest("tools: web_search and function tools can't be combined in one request")
    if unknown := kinds - {"web_search", "function"}:
        raise BadRequest(f"tools: unsupported tool type {sorted(map(str, unknown))}")
    if any(t.get("type") == "function" and not t.get("name") for t in raw):
        raise BadRequest("tools: a function tool needs a name")
    return [
        {"name": t["name"], "parameters": t.get("parameters")}
        for t in raw
        if isinstance(t, dict) and t.get("type") == "function" and t.get("name")
    ]


async def responses(request: Request) -> Response:
    sim = sim_of(request)
    if not key_ok(sim, bearer_key(request)):
        return chat_error(401, "Invalid API key")
    endpoint = request.url.path
    try:
        body = await read_json(request)
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise BadRequest("model: field required")
        note(request, model=model_id)
        model = RESPONSES_MODELS[endpoint].get(model_id)
        if model is None:
            raise BadRequest(f"model: '{model_id}' is not supported on {endpoint}")
        messages = _responses_input(body.get("input"))
        tools = _responses_tools(body.get("tools"))
        reasoning = body.get("reasoning") if body.get("reasoning") is not None else {}
        if not isinstance(reasoning, dict):
            raise BadRequest("reasoning: must be an object")
        effort = reasoning.get("effort", "low")
        if effort not in REASONING_EFFORTS:
            raise BadRequest(f"reasoning.effort: must be one of {', '.join(REASONING_EFFORTS)}")
        max_tokens = body.get("max_output_tokens") or 8192
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise BadRequest("max_output_tokens: must be a positive integer")
    except BadRequest as exc:
        return chat_error(400, exc.message)
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict) and choice.get("type") == "function":
        forced = choice.get("name")
    elif choice == "required":
        forced = ""
    last = next(m for m in reversed(messages) if m["role"] in ("user", "tool"))
    markers = parse([_content_text(last.get("content"))])
    # OpenAI always reasons; a readable summary of it streams only when the request asks for one.
    summary = reasoning.get("summary") in ("auto", "concise", "detailed") and effort != "low"
    plan = make_plan(
        sim,
        model,
        messages=messages,
        extra_input=[body.get("tools"), body.get("instructions")],
        tools=tools,
        forced_tool=forced,
        tool_allowed=choice != "none",
        thinking=summary,
        max_tokens=max_tokens,
        markers=markers,
    )
    if refused := await _pre_checks(request, markers, plan.credits):
        return refused
    stream = body.get("stream")
    if stream is None:
        stream = model.stream_default if sim.config.chat_stream_default is None else sim.config.chat_stream_default
    ids = _ResponseIds.make(plan)
    echo = {"model": model_id, "effort": effort, "tools": body.get("tools") or [], "choice": choice or "auto"}
    if not stream:
        return JSONResponse(_response_object(ids, plan, echo, done=True))
    return StreamingResponse(
        _counted(sim, _response_events(sim, ids, plan, echo)), media_type="text/event-stream", headers=SSE_HEADERS
    )


@dataclass(frozen=True)
class _ResponseIds:
    response: str
    reasoning: str
    message: str
    call: str
    created: int

    @classmethod
    def make(cls, plan: Plan) -> _ResponseIds:
        digest = hashlib.sha256(f"{plan.rng.random()}".encode()).hexdigest()
        tool_hash = plan.tool[0][6:] if plan.tool else digest[:24]
        return cls("resp_" + digest[:32], "rs_" + digest[8:40], "msg_" + digest[16:48], tool_hash, int(time.time()))


def _response_items(ids: _ResponseIds, plan: Plan) -> list[dict[str, Any]]:
    """The finished ``output`` items: reasoning, the message, and the function call when there is one."""
    summary = [{"type": "summary_text", "text": plan.thinking}] if plan.thinking else []
    text = {"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}
    items: list[dict[str, Any]] = [
        {"type": "reasoning", "id": ids.reasoning, "summary": summary},
        {"type": "message", "id": ids.message, "status": "completed", "role": "assistant", "content": [text]},
    ]
    if plan.tool:
        _, name, tool_input = plan.tool
        items.append(
            {
                "type": "function_call",
                "id": "fc_" + ids.call,
                "call_id": "call_" + ids.call,
                "name": name,
                "arguments": json.dumps(tool_input),
                "status": "completed",
            }
        )
    return items


def _response_object(ids: _ResponseIds, plan: Plan, echo: dict[str, Any], *, done: bool) -> dict[str, Any]:
    """OpenAI's Response object; finished, it carries the output, usage and Kie's ``credits_consumed``."""
    incomplete = plan.stop_reason == "max_tokens"
    body: dict[str, Any] = {
        "id": ids.response,
        "object": "response",
        "created_at": ids.created,
        "status": ("incomplete" if incomplete else "completed") if done else "in_progress",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if done and incomplete else None,
        "instructions": None,
        "model": echo["model"],
        "output": _response_items(ids, plan) if done else [],
        "parallel_tool_calls": True,
        "reasoning": {"effort": echo["effort"], "summary": None},
        "tool_choice": echo["choice"],
        "tools": echo["tools"],
        "usage": None,
    }
    if done:
        thought = len(prose.tokens(plan.thinking)) if plan.thinking else 0
        body["usage"] = {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": plan.output_tokens,
            "output_tokens_details": {"reasoning_tokens": thought},
            "total_tokens": plan.input_tokens + plan.output_tokens,
        }
        body["credits_consumed"] = _number(plan.credits)
    return body


async def _response_events(sim: SimState, ids: _ResponseIds, plan: Plan, echo: dict[str, Any]) -> AsyncIterator[bytes]:
    config = sim.config
    delay = plan.delay(config.chat_chunk_delay)
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return _sse(kind, payload)

    async def pause() -> None:
        if delay > 0:
            await asyncio.sleep(delay)

    final = _response_items(ids, plan)
    yield event("response.created", response=_response_object(ids, plan, echo, done=False))
    yield event("response.in_progress", response=_response_object(ids, plan, echo, done=False))

    reasoning = final[0]
    yield event("response.output_item.added", output_index=0, item={**reasoning, "summary": []})
    if plan.thinking:
        part: dict[str, Any] = {"type": "summary_text", "text": ""}
        where = {"item_id": ids.reasoning, "output_index": 0, "summary_index": 0}
        yield event("response.reasoning_summary_part.added", **where, part=part)
        for piece in _chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause()
            yield event("response.reasoning_summary_text.delta", **where, delta=piece)
        yield event("response.reasoning_summary_text.done", **where, text=plan.thinking)
        yield event("response.reasoning_summary_part.done", **where, part={**part, "text": plan.thinking})
    yield event("response.output_item.done", output_index=0, item=reasoning)

    message = final[1]
    where = {"item_id": ids.message, "output_index": 1, "content_index": 0}
    yield event("response.output_item.added", output_index=1, item={**message, "status": "in_progress", "content": []})
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    yield event("response.content_part.added", **where, part=part)
    for sent, piece in enumerate(_chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause()
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
        if sent == 2 and plan.garbled:
            yield b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"te\n\n'
        if sent == plan.cut_after:
            message_text = "The server had an error while processing your request."
            yield event("error", code="server_error", message=message_text, param=None)
            return
        if sent == plan.drop_after:
            raise DroppedConnection
    yield event("response.output_text.done", **where, text=plan.text, logprobs=[])
    yield event("response.content_part.done", **where, part={**part, "text": plan.text})
    yield event("response.output_item.done", output_index=1, item=message)

    if plan.tool:
        call = final[2]
        where = {"item_id": call["id"], "output_index": 2}
        yield event(
            "response.output_item.added", output_index=2, item={**call, "arguments": "", "status": "in_progress"}
        )
        for piece in _json_pieces(plan.tool[2]):
            await pause()
            yield event("response.function_call_arguments.delta", **where, delta=piece)
        yield event("response.function_call_arguments.done", **where, arguments=call["arguments"], name=call["name"])
        yield event("response.output_item.done", output_index=2, item=call)

    finished = _response_object(ids, plan, echo, done=True)
    kind = "response.incomplete" if finished["status"] == "incomplete" else "response.completed"
    yield event(kind, response=finished)
    yield _sse(None, "[DONE]")  # Kie ends every Responses stream with it (OpenAI's own stream does not)


routes = [
    Route("/claude/v1/messages", claude_messages, methods=["POST"]),
    Route("/codex/v1/responses", responses, methods=["POST"]),
    Route("/api/v1/responses", responses, methods=["POST"]),
    Route("/{model}/v1/chat/completions", chat_completions, methods=["POST"]),
]
