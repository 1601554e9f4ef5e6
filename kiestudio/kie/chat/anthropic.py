"""Anthropic's Messages format (Claude): image blocks, the SSE stream and the whole answer."""

from __future__ import annotations

import json
from typing import Any

from ..sse import SSEMessage
from ..types import ChatEvent, ChatReply, ChatUsage, ToolCall
from .common import K, as_dict, as_int, credits_in, error_event, json_payload, truncated, unreadable

__all__ = ["AnthropicStreamTranslator", "image_block", "parse_anthropic_reply"]


def image_block(url: str | None = None, *, data: str | None = None, media_type: str = "image/png") -> dict[str, Any]:
    """An Anthropic image content block from a public URL or base64 data."""
    if url:
        return {"type": "image", "source": {"type": "url", "url": url}}
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data or ""}}


class AnthropicStreamTranslator:
    """Anthropic Messages SSE events → ChatEvents."""

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.stop_reason: str | None = None
        self.credits_consumed: float | None = None
        self.finished = False

    def _usage(self) -> ChatUsage:
        return ChatUsage(self.input_tokens, self.output_tokens)

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            if "input_tokens" in usage:
                self.input_tokens = as_int(usage.get("input_tokens"))
            if "output_tokens" in usage:
                self.output_tokens = as_int(usage.get("output_tokens"))

    def feed(self, message: SSEMessage) -> list[ChatEvent]:
        if self.finished:
            return []
        if message.data.strip() == "[DONE]":
            return self.finish()
        payload = json_payload(message)
        if payload is None:
            return [unreadable()]
        kind = payload.get("type") or message.event
        credits = credits_in(payload, payload.get("usage"), payload.get("delta"), payload.get("message"))
        if credits is not None:
            self.credits_consumed = credits

        if kind == "message_start":
            msg = as_dict(payload.get("message"))
            self._take_usage(msg.get("usage"))
            return [
                ChatEvent(
                    kind=K.MESSAGE_START,
                    message_id=msg.get("id"),
                    model=msg.get("model"),
                    usage=self._usage(),
                    credits_consumed=self.credits_consumed,
                    raw=payload,
                )
            ]
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_delta":
            index = payload.get("index")
            delta = as_dict(payload.get("delta"))
            match delta.get("type"):
                case "text_delta":
                    return [ChatEvent(kind=K.TEXT_DELTA, index=index, text=delta.get("text") or "")]
                case "thinking_delta":
                    return [ChatEvent(kind=K.THINKING_DELTA, index=index, text=delta.get("thinking") or "")]
                case "input_json_delta":
                    return [ChatEvent(kind=K.TOOL_INPUT_DELTA, index=index, text=delta.get("partial_json") or "")]
                case _:
                    return []  # signature_delta, citations: nothing the studio shows
        if kind == "content_block_stop":
            return [ChatEvent(kind=K.BLOCK_STOP, index=payload.get("index"))]
        if kind == "message_delta":
            delta = as_dict(payload.get("delta"))
            if delta.get("stop_reason"):
                self.stop_reason = delta["stop_reason"]
            self._take_usage(payload.get("usage"))
            return [
                ChatEvent(
                    kind=K.USAGE,
                    usage=self._usage(),
                    stop_reason=self.stop_reason,
                    credits_consumed=self.credits_consumed,
                    raw=payload,
                )
            ]
        if kind == "message_stop":
            self.finished = True
            return [
                ChatEvent(
                    kind=K.MESSAGE_STOP,
                    usage=self._usage(),
                    stop_reason=self.stop_reason,
                    credits_consumed=self.credits_consumed,
                )
            ]
        if kind == "ping":
            return [ChatEvent(kind=K.PING)]
        if kind == "error" or "error" in payload:
            self.finished = True
            return [error_event(payload.get("error"), payload)]
        return []

    @staticmethod
    def _block_start(payload: dict[str, Any]) -> list[ChatEvent]:
        """``content_block_start``: a tool call, or a text/thinking block (which may already hold some text)."""
        index = payload.get("index")
        block = as_dict(payload.get("content_block"))
        block_type = block.get("type")
        if block_type in ("tool_use", "server_tool_use"):
            events = [
                ChatEvent(
                    kind=K.TOOL_USE_START,
                    index=index,
                    block_type=block_type,
                    tool_id=block.get("id"),
                    tool_name=block.get("name"),
                    raw=payload,
                )
            ]
            if block.get("input"):
                events.append(ChatEvent(kind=K.TOOL_INPUT_DELTA, index=index, text=json.dumps(block["input"])))
            return events
        events = [ChatEvent(kind=K.BLOCK_START, index=index, block_type=block_type, raw=payload)]
        if block_type == "text" and block.get("text"):
            events.append(ChatEvent(kind=K.TEXT_DELTA, index=index, text=block["text"]))
        if block_type == "thinking" and block.get("thinking"):
            events.append(ChatEvent(kind=K.THINKING_DELTA, index=index, text=block["thinking"]))
        return events

    def finish(self) -> list[ChatEvent]:
        """End of the HTTP stream. A stream that never said message_stop was cut short."""
        if self.finished:
            return []
        self.finished = True
        return [truncated()]


def parse_anthropic_reply(body: dict[str, Any]) -> ChatReply:
    text, thinking, calls = [], [], []
    for block in body.get("content") or ():
        if not isinstance(block, dict):
            continue
        match block.get("type"):
            case "text":
                text.append(block.get("text") or "")
            case "thinking":
                thinking.append(block.get("thinking") or "")
            case "tool_use" | "server_tool_use":
                calls.append(
                    ToolCall(id=block.get("id") or "", name=block.get("name") or "", input=block.get("input") or {})
                )
    usage = as_dict(body.get("usage"))
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tuple(calls),
        stop_reason=body.get("stop_reason"),
        usage=ChatUsage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))),
        credits_consumed=credits_in(body, usage),
        raw=body,
    )
