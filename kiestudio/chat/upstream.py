"""The request to Kie: the thread in the model's wire format, and the streamed call that carries it.

In the life of a reply this comes right after the send (``services``) has stored the question and created the
reply. ``prepare`` builds the request while the send still holds the thread in memory, so the reply starts
upstream without another database round trip. A thread with images to upload to Kie is planned later instead, by
the reply's runner in a thread of its own, from the row it claimed (``plan_for``). ``open_stream`` then opens the
streamed call the runner (``relay``) reads from, over one Kie client per event loop and key.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from kiestudio.chat import toolbox
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.selectors import thread_path
from kiestudio.core.kie import kie_client
from kiestudio.kie import (
    AsyncKieClient,
    ChatReply,
    ChatStream,
    image_block,
    openai_image_part,
    responses_image_part,
    responses_text_part,
)
from kiestudio.kie.catalog.chat import ChatModelSpec, get_chat_model
from kiestudio.uploads.kie import reference_kie_url
from kiestudio.workspaces.services import workspace_kie_key


class ReplyError(Exception):
    """A reply that cannot be sent (an attachment Kie could not take): it ends as failed with this message."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True)
class UpstreamPlan:
    spec: ChatModelSpec
    api_key: str
    messages: list[dict[str, Any]]
    system: str
    thinking: bool
    tools: tuple[dict[str, Any], ...] = ()  # definitions in the neutral form (``toolbox``)


# --- The thread in the model's wire format ----------------------------------------------------------------------


def _image_urls(message: Message) -> dict[int, str]:
    urls = {}
    for reference_id in message.image_ids:
        try:
            urls[reference_id] = reference_kie_url(
                reference_id=reference_id, workspace_id=message.workspace_id, client=kie_client()
            )
        except Exception as exc:
            detail = getattr(exc, "user_message", None) or str(exc)
            raise ReplyError("attachment", f"An attached image couldn't be sent to Kie: {detail}") from exc
    return urls


def _image_part(spec: ChatModelSpec, url: str) -> dict[str, Any]:
    if spec.api == "anthropic":
        return image_block(url)
    if spec.api == "responses":
        return responses_image_part(url)
    return openai_image_part(url)


def _result_text(result: dict[str, Any]) -> str:
    """A tool result's text, for formats whose tool results carry only text."""
    parts: list[Any] = result["content"] if isinstance(result.get("content"), list) else []
    return "\n\n".join(p["text"] for p in parts if isinstance(p, dict) and p.get("type") == "text") or "(no output)"


def _blocks(message: Message, spec: ChatModelSpec, urls: dict[int, str], *, answered: bool) -> list[dict[str, Any]]:
    """One message's content in the studio's neutral blocks: text, image (with its Kie URL), tool_use, tool_result
    (whose content is text and image blocks). A reply's calls go only where their results follow (``answered``):
    a call the creator left pending while the thread moved on is not shown to the model."""

    def media(block: dict[str, Any]) -> dict[str, Any] | None:
        if block.get("type") == "image" and block.get("reference") in urls:
            return _image_part(spec, urls[block["reference"]])
        if block.get("type") == "text" and block.get("text"):
            return {"type": "text", "text": block["text"]}
        return None

    blocks: list[dict[str, Any]] = []
    if message.role == Message.Role.USER:
        for block in message.content:
            if block.get("type") == "tool_result":
                inner = [part for b in block.get("content") or () if (part := media(b)) is not None]
                result = {"type": "tool_result", "tool_use_id": block["tool_use_id"], "content": inner}
                if block.get("is_error"):
                    result["is_error"] = True
                blocks.append(result)
            elif (part := media(block)) is not None:
                blocks.append(part)
        return blocks
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    if answered:
        blocks += [{k: b[k] for k in ("type", "id", "name", "input")} for b in message.tool_uses]
    return blocks


def _openai_turns(role: str, blocks: list[dict[str, Any]], api: str) -> list[dict[str, Any]]:
    """Tool calls and results in OpenAI's formats: chat completions (``tool_calls``, ``role: tool``) and
    Responses (``function_call`` and ``function_call_output`` items). Images inside tool results follow them as
    a user turn, since neither format takes images in a tool's output."""
    calls = [b for b in blocks if b["type"] == "tool_use"]
    results = [b for b in blocks if b["type"] == "tool_result"]
    plain = [b for b in blocks if b["type"] not in ("tool_use", "tool_result")]
    turns: list[dict[str, Any]] = []
    if api == "responses":
        if plain:
            turns.append({"role": role, "content": plain})
        for call in calls:
            arguments = json.dumps(call["input"])
            turns.append({"type": "function_call", "call_id": call["id"], "name": call["name"], "arguments": arguments})
        turns += [
            {"type": "function_call_output", "call_id": r["tool_use_id"], "output": _result_text(r)} for r in results
        ]
    else:
        if calls:
            text = "\n\n".join(b["text"] for b in plain if b["type"] == "text")
            tool_calls = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["input"])},
                }
                for c in calls
            ]
            turns.append({"role": "assistant", "content": text or None, "tool_calls": tool_calls})
            plain = []
        turns += [{"role": "tool", "tool_call_id": r["tool_use_id"], "content": _result_text(r)} for r in results]
        if plain:
            turns.append({"role": role, "content": plain})
    images = [p for r in results for p in r["content"] if p.get("type") != "text"]
    if images:
        turns.append(
            {"role": "user", "content": [{"type": "text", "text": "The images from the tool results:"}, *images]}
        )
    return turns


def upstream_messages(path: list[Message], spec: ChatModelSpec) -> list[dict[str, Any]]:
    """The thread in the model's wire format. Empty or failed replies are left out; same-role turns merge."""
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(path):
        urls = _image_urls(message) if message.image_ids else {}
        answered = i + 1 < len(path) and path[i + 1].is_tool_results
        blocks = _blocks(message, spec, urls, answered=answered)
        if not blocks:
            continue
        role = str(message.role)
        if spec.api != "anthropic" and any(b["type"] in ("tool_use", "tool_result") for b in blocks):
            turns += _openai_turns(role, blocks, spec.api)
        elif turns and turns[-1].get("role") == role and isinstance(turns[-1].get("content"), list):
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if not isinstance(turn.get("content"), list):
            continue
        blocks = turn["content"]
        if spec.api == "responses":
            # Kie documents Responses content as a list of parts; OpenAI takes the model's own turns as output_text.
            turn["content"] = [
                responses_text_part(b["text"], role=turn["role"]) if b.get("type") == "text" else b for b in blocks
            ]
        elif all(b.get("type") == "text" for b in blocks):  # plain strings where there is only text: widely accepted
            turn["content"] = "\n\n".join(b["text"] for b in blocks)
    return turns


def wire_tools(definitions: list[dict[str, Any]], api: str) -> list[dict[str, Any]]:
    """Tool definitions (name, description, JSON Schema) in the model's wire format."""
    if api == "anthropic":
        return [
            {"name": d["name"], "description": d["description"], "input_schema": d["input_schema"]} for d in definitions
        ]
    if api == "responses":
        return [
            {"type": "function", "name": d["name"], "description": d["description"], "parameters": d["input_schema"]}
            for d in definitions
        ]
    return [
        {
            "type": "function",
            "function": {"name": d["name"], "description": d["description"], "parameters": d["input_schema"]},
        }
        for d in definitions
    ]


# --- The plan: built by the send, or by the runner -------------------------------------------------------------


def prepare(
    *, conversation: Conversation, path: list[Message], spec: ChatModelSpec, thinking: bool
) -> UpstreamPlan | None:
    """The upstream request for a reply about to be created, built while the send still holds the thread in
    memory: the reply then starts upstream without a database round trip. None when an image in the thread must
    first be uploaded to Kie (slow: the runner does that in its own thread)."""
    if any(m.image_ids for m in path if m.role == Message.Role.USER):
        return None
    return UpstreamPlan(
        spec=spec,
        api_key=workspace_kie_key(conversation.workspace),
        messages=upstream_messages(path, spec),
        system=conversation.system_prompt,
        thinking=thinking,
        tools=tuple(toolbox.definitions(conversation)),
    )


def plan_for(message: Message) -> UpstreamPlan:
    """The upstream request of a reply its runner has just claimed (loaded with its conversation and parent);
    the thread's images are uploaded to Kie on the way."""
    conversation = message.conversation
    spec = get_chat_model(message.model_key or conversation.model_key)
    return UpstreamPlan(
        spec=spec,
        api_key=workspace_kie_key(conversation.workspace_id),
        messages=upstream_messages(thread_path(message.parent), spec),
        system=conversation.system_prompt,
        thinking=message.thinking_requested,
        tools=tuple(toolbox.definitions(conversation)),
    )


# --- The streamed call, over one Kie client per event loop and key ---------------------------------------------

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], AsyncKieClient]] = (
    weakref.WeakKeyDictionary()
)


def _new_client(api_key: str, *, keepalive: int = 256) -> AsyncKieClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=keepalive)
    return AsyncKieClient(
        api_key,
        base_url=settings.KIE_BASE_URL,
        upload_base_url=settings.KIE_UPLOAD_BASE_URL,
        timeout=settings.KIE_TIMEOUT,
        chat_timeout=httpx.Timeout(settings.KIE_TIMEOUT, read=settings.KIE_CHAT_READ_TIMEOUT),
        retries=1,  # one quick retry when Kie provably did nothing (429, 5xx); then the error shows
        transport=httpx.AsyncHTTPTransport(limits=limits),
    )


def _client(api_key: str) -> AsyncKieClient:
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    key = (api_key, settings.KIE_BASE_URL, settings.KIE_CHAT_READ_TIMEOUT)
    client = per_loop.get(key)
    if client is None:
        client = per_loop[key] = _new_client(api_key)
    return client


def open_stream(plan: UpstreamPlan) -> ChatStream:
    """The streamed call to Kie in the model's own API; entered, it yields the reply's events as they arrive."""
    client = _client(plan.api_key)
    options = plan.spec.request_options(thinking=plan.thinking)
    if plan.tools:
        options["tools"] = wire_tools(list(plan.tools), plan.spec.api)
    if plan.spec.api == "anthropic":
        return client.stream_claude(plan.spec.wire_id, plan.messages, system=plan.system or None, **options)
    if plan.spec.api == "responses":
        return client.stream_responses(
            plan.spec.wire_id, plan.messages, path=plan.spec.path, system=plan.system or None, **options
        )
    messages = plan.messages
    if plan.system:
        messages = [{"role": "system", "content": plan.system}, *messages]
    return client.stream_openai_chat(plan.spec.wire_id, messages, **options)


# --- A whole answer at once, for the studio's own small requests (a conversation's title) ----------------------


def ask_once(plan: UpstreamPlan, *, max_tokens: int) -> ChatReply:
    """One non-streamed answer to ``plan``, from synchronous code (a worker's task), over a client of its own."""
    return asyncio.run(_ask_once(plan, max_tokens))


async def _ask_once(plan: UpstreamPlan, max_tokens: int) -> ChatReply:
    options = plan.spec.request_options(thinking=plan.thinking)
    async with _new_client(plan.api_key, keepalive=1) as client:
        if plan.spec.api == "anthropic":
            options["max_tokens"] = min(max_tokens, plan.spec.max_tokens)
            return await client.claude(plan.spec.wire_id, plan.messages, system=plan.system or None, **options)
        if plan.spec.api == "responses":
            return await client.responses(
                plan.spec.wire_id, plan.messages, path=plan.spec.path, system=plan.system or None, **options
            )
        messages = [{"role": "system", "content": plan.system}, *plan.messages] if plan.system else plan.messages
        return await client.openai_chat(plan.spec.wire_id, messages, **options)
