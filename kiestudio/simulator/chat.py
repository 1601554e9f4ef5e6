"""Chat endpoints (contract 7): Anthropic Messages at /claude/v1/messages and OpenAI chat completions at
/{model}/v1/chat/completions, both non-streaming JSON and SSE in each vendor's exact wire format."""

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
    "claude-fable-5": _m("2", "10", True),
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
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
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
                b'"text_delta"' in chunk or (b'"content":"' in chunk and b'"content":""' not in chunk)
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
    start = {
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
        block = {"type": "thinking", "thinking": "", "signature": ""}
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
        message: dict[str, Any] = {"role": "assistant", "content": plan.text}
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


routes = [
    Route("/claude/v1/messages", claude_messages, methods=["POST"]),
    Route("/{model}/v1/chat/completions", chat_completions, methods=["POST"]),
]
