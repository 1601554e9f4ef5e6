"""OpenAI chat completions at /{model}/v1/chat/completions: the whole answer as JSON, or its chunk stream."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..common import BadRequest, bearer_key, chat_error, key_ok, note, read_json, sim_of
from ..markers import parse
from ..state import SimState
from .models import OPENAI_MODELS
from .plan import Plan, content_text, make_plan
from .wire import (
    DroppedConnection,
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

__all__ = ["chat_completions"]

ROLES = ("developer", "system", "user", "assistant", "tool")


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
        messages = parse_messages(body)
    except BadRequest as exc:
        return chat_error(400, exc.message)
    for index, message in enumerate(messages):
        if message.get("role") not in ROLES:
            return chat_error(400, f"messages.{index}.role: must be one of {', '.join(ROLES)}")
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
    markers = parse([content_text(messages[-1].get("content"))])
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
    if refused := await pre_checks(request, markers, plan.credits):
        return refused
    stream = wants_stream(sim, model, body)
    completion_id = "chatcmpl-" + hashlib.sha256(f"{plan.rng.random()}".encode()).hexdigest()[:24]
    created = int(time.time())
    finish = {"tool_use": "tool_calls", "max_tokens": "length"}.get(plan.stop_reason, "stop")
    usage = {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
    }
    if not stream:
        return JSONResponse(_completion(completion_id, created, model_id, plan, finish, usage))
    return event_stream(sim, _openai_chunks(sim, completion_id, created, model_id, plan, finish, usage))


def _completion(
    completion_id: str, created: int, model_id: str, plan: Plan, finish: str, usage: dict[str, int]
) -> dict[str, Any]:
    """The whole answer: a ``chat.completion`` object."""
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
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model_id,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
        "credits_consumed": number(plan.credits),
    }


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
        return sse(None, payload)

    delay = plan.delay(config.chat_chunk_delay)

    yield chunk({"role": "assistant", "content": ""})
    if plan.thinking:
        for piece in chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause(delay)
            yield chunk({"reasoning_content": piece})
    for sent, piece in enumerate(chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause(delay)
        yield chunk({"content": piece})
        if sent == 2 and plan.garbled:
            yield b'data: {"id":"chatcmpl-x","choices":[{"index":0,"delta":{"cont\n\n'
        if sent == plan.cut_after:
            message = "The server had an error while processing your request."
            yield sse(None, {"error": {"message": message, "type": "server_error"}})
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
        for piece in json_pieces(tool_input):
            await pause(delay)
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield chunk({}, finish, usage=usage, credits_consumed=number(plan.credits))
    yield sse(None, "[DONE]")
