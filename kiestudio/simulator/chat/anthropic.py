"""Anthropic Messages at /claude/v1/messages: the whole answer as JSON, or its SSE stream."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..common import BadRequest, bearer_key, chat_error, key_ok, note, read_json, sim_of
from ..markers import parse
from ..state import SimState
from .models import CLAUDE_MODELS
from .plan import Plan, content_text, make_plan
from .wire import (
    DroppedConnection,
    as_dict,
    chunks,
    event_stream,
    json_pieces,
    number,
    parse_messages,
    pause,
    pre_checks,
    sse,
    wants_stream,
)

__all__ = ["claude_messages"]


async def claude_messages(request: Request) -> Response:
    sim = sim_of(request)
    if not key_ok(sim, bearer_key(request, allow_x_api_key=True)):
        return chat_error(401, "Invalid API key")
    try:
        body = await read_json(request)
        messages = parse_messages(body)
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
    choice = as_dict(body.get("tool_choice"))
    forced = choice.get("name") if choice.get("type") == "tool" else ("" if choice.get("type") == "any" else None)
    thinking = body.get("thinkingFlag") is True or (
        isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled"
    )
    last_text = content_text(messages[-1].get("content"))
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
        system=body.get("system"),
    )
    if refused := await pre_checks(request, markers, plan.credits):
        return refused
    stream = wants_stream(sim, model, body)
    message_id = "msg_" + hashlib.sha256(f"{plan.rng.random()}".encode()).hexdigest()[:24]
    signature = base64.b64encode(hashlib.sha256((plan.thinking or "").encode()).digest() * 2).decode()
    if not stream:
        return JSONResponse(_claude_body(message_id, base_id, plan, signature))
    return event_stream(sim, _claude_events(sim, message_id, base_id, plan, signature))


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
        "credits_consumed": number(plan.credits),
    }


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


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
    yield sse("message_start", {"type": "message_start", "message": start})
    yield sse("ping", {"type": "ping"})
    index = 0

    if plan.thinking:
        yield _block_start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause(delay)
            yield _block_delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _block_delta(index, {"type": "signature_delta", "signature": signature})
        yield _block_stop(index)
        index += 1
    yield _block_start(index, {"type": "text", "text": ""})
    for sent, piece in enumerate(chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause(delay)
        if sent % 25 == 0:
            yield sse("ping", {"type": "ping"})
        yield _block_delta(index, {"type": "text_delta", "text": piece})
        if sent == 2 and plan.garbled:
            yield b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n'
        if sent == plan.cut_after:
            error = {"type": "overloaded_error", "message": "Overloaded"}
            yield sse("error", {"type": "error", "error": error})
            return
        if sent == plan.drop_after:
            raise DroppedConnection
    yield _block_stop(index)
    index += 1
    if plan.tool:
        tool_id, name, tool_input = plan.tool
        yield _block_start(index, {"type": "tool_use", "id": tool_id, "name": name, "input": {}})
        for piece in ["", *json_pieces(tool_input)]:
            await pause(delay)
            yield _block_delta(index, {"type": "input_json_delta", "partial_json": piece})
        yield _block_stop(index)
    final = {
        "type": "message_delta",
        "delta": {"stop_reason": plan.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": plan.output_tokens},
        "credits_consumed": number(plan.credits),
    }
    yield sse("message_delta", final)
    yield sse("message_stop", {"type": "message_stop"})
