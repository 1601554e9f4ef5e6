"""OpenAI's Responses API at /codex/v1/responses (GPT-5.4/5.5) and /api/v1/responses (Codex): the finished
Response object as JSON, or the ``response.*`` event stream."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import text as prose
from ..common import BadRequest, bearer_key, chat_error, key_ok, note, read_json, sim_of
from ..markers import parse
from ..state import SimState
from .models import REASONING_EFFORTS, RESPONSES_MODELS
from .plan import Plan, content_text, make_plan
from .wire import DroppedConnection, chunks, event_stream, json_pieces, number, pause, pre_checks, sse, wants_stream

__all__ = ["responses"]

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
    markers = parse([content_text(last.get("content"))])
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
        system=body.get("instructions"),
    )
    if refused := await pre_checks(request, markers, plan.credits):
        return refused
    stream = wants_stream(sim, model, body)
    ids = _ResponseIds.make(plan)
    echo = {"model": model_id, "effort": effort, "tools": body.get("tools") or [], "choice": choice or "auto"}
    if not stream:
        return JSONResponse(_response_object(ids, plan, echo, done=True))
    return event_stream(sim, _response_events(sim, ids, plan, echo))


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
        body["credits_consumed"] = number(plan.credits)
    return body


async def _response_events(sim: SimState, ids: _ResponseIds, plan: Plan, echo: dict[str, Any]) -> AsyncIterator[bytes]:
    config = sim.config
    delay = plan.delay(config.chat_chunk_delay)
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return sse(kind, payload)

    final = _response_items(ids, plan)
    yield event("response.created", response=_response_object(ids, plan, echo, done=False))
    yield event("response.in_progress", response=_response_object(ids, plan, echo, done=False))

    reasoning = final[0]
    yield event("response.output_item.added", output_index=0, item={**reasoning, "summary": []})
    if plan.thinking:
        part: dict[str, Any] = {"type": "summary_text", "text": ""}
        where = {"item_id": ids.reasoning, "output_index": 0, "summary_index": 0}
        yield event("response.reasoning_summary_part.added", **where, part=part)
        for piece in chunks(plan.thinking, config.chat_tokens_per_chunk):
            await pause(delay)
            yield event("response.reasoning_summary_text.delta", **where, delta=piece)
        yield event("response.reasoning_summary_text.done", **where, text=plan.thinking)
        yield event("response.reasoning_summary_part.done", **where, part={**part, "text": plan.thinking})
    yield event("response.output_item.done", output_index=0, item=reasoning)

    message = final[1]
    where = {"item_id": ids.message, "output_index": 1, "content_index": 0}
    yield event("response.output_item.added", output_index=1, item={**message, "status": "in_progress", "content": []})
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    yield event("response.content_part.added", **where, part=part)
    for sent, piece in enumerate(chunks(plan.text, config.chat_tokens_per_chunk), start=1):
        await pause(delay)
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
        for piece in json_pieces(plan.tool[2]):
            await pause(delay)
            yield event("response.function_call_arguments.delta", **where, delta=piece)
        yield event("response.function_call_arguments.done", **where, arguments=call["arguments"], name=call["name"])
        yield event("response.output_item.done", output_index=2, item=call)

    finished = _response_object(ids, plan, echo, done=True)
    kind = "response.incomplete" if finished["status"] == "incomplete" else "response.completed"
    yield event(kind, response=finished)
    yield sse(None, "[DONE]")  # Kie ends every Responses stream with it (OpenAI's own stream does not)
