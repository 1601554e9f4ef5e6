"""OpenAI's chat-completions format (GPT-5.2, Gemini): image parts, the SSE stream and the whole answer."""

from __future__ import annotations

from typing import Any

from ..sse import SSEMessage
from ..types import ChatEvent, ChatReply, ChatUsage, ToolCall
from .common import (
    K,
    NumberedBlocks,
    as_dict,
    as_int,
    credits_in,
    error_event,
    json_payload,
    tool_input,
    truncated,
    unreadable,
)

__all__ = ["OpenAIStreamTranslator", "openai_image_part", "parse_openai_reply"]

#: ``finish_reason`` in Anthropic's words (the studio's one vocabulary).
OPENAI_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def openai_image_part(url: str) -> dict[str, Any]:
    """An OpenAI-format image part (Gemini also takes video, audio and PDF URLs this way)."""
    return {"type": "image_url", "image_url": {"url": url}}


def _first_choice(body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices") if isinstance(body.get("choices"), list) else []
    return choices[0] if choices and isinstance(choices[0], dict) else {}


def _text(content: Any) -> Any:
    """Message content as text when it came as a list of parts."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


class OpenAIStreamTranslator(NumberedBlocks):
    """OpenAI ``chat.completion.chunk`` SSE events → ChatEvents (with synthetic block indexes)."""

    def __init__(self) -> None:
        self.started = False
        self.finished = False
        self.stop_reason: str | None = None
        self.usage = ChatUsage()
        self.credits_consumed: float | None = None
        self._block: tuple[str, int] | None = None  # (key, index) of the open block
        self._next_index = 0
        self._usage_sent = None  # what the last usage event carried (see _usage_key)

    def feed(self, message: SSEMessage) -> list[ChatEvent]:
        if self.finished:
            return []
        if message.data.strip() == "[DONE]":
            return self._done()
        payload = json_payload(message)
        if payload is None:
            return [unreadable()]
        if "error" in payload and not payload.get("choices"):
            self.finished = True
            return [error_event(payload.get("error"), payload)]
        events: list[ChatEvent] = []
        credits = credits_in(payload, payload.get("usage"))
        if credits is not None:
            self.credits_consumed = credits
        if not self.started:
            self.started = True
            events.append(
                ChatEvent(kind=K.MESSAGE_START, message_id=payload.get("id"), model=payload.get("model"), raw=payload)
            )
        choice = _first_choice(payload)
        delta = as_dict(choice.get("delta"))

        thinking = delta.get("reasoning_content") or delta.get("reasoning") or delta.get("thinking")
        if isinstance(thinking, str) and thinking:
            events += self._open("thinking", ChatEvent(kind=K.BLOCK_START, block_type="thinking"))
            events.append(ChatEvent(kind=K.THINKING_DELTA, index=self._index(), text=thinking))
        content = _text(delta.get("content"))
        if isinstance(content, str) and content:
            events += self._open("text", ChatEvent(kind=K.BLOCK_START, block_type="text"))
            events.append(ChatEvent(kind=K.TEXT_DELTA, index=self._index(), text=content))
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            function = as_dict(call.get("function"))
            key = f"tool:{call.get('index', 0)}"
            events += self._open(
                key,
                ChatEvent(
                    kind=K.TOOL_USE_START, block_type="tool_use", tool_id=call.get("id"), tool_name=function.get("name")
                ),
            )
            if function.get("arguments"):
                events.append(ChatEvent(kind=K.TOOL_INPUT_DELTA, index=self._index(), text=function["arguments"]))

        if choice.get("finish_reason"):
            reason = str(choice["finish_reason"])
            self.stop_reason = OPENAI_STOP.get(reason, reason)
            events += self._close()
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.usage = ChatUsage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")))
            events.append(self._usage_event(payload))
        return events

    def _usage_key(self) -> tuple[object, ...]:
        return (self.stop_reason,)

    def _done(self) -> list[ChatEvent]:
        self.finished = True
        return self._stop_events()

    def finish(self) -> list[ChatEvent]:
        """End of the HTTP stream. Without ``[DONE]``, a finish_reason still counts as a complete answer."""
        if self.finished:
            return []
        if self.stop_reason:
            return self._done()
        self.finished = True
        return [*self._close(), truncated()]


def parse_openai_reply(body: dict[str, Any]) -> ChatReply:
    choice = _first_choice(body)
    message = as_dict(choice.get("message"))
    content = _text(message.get("content"))
    calls = []
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = as_dict(call.get("function"))
        calls.append(
            ToolCall(
                id=call.get("id") or "", name=function.get("name") or "", input=tool_input(function.get("arguments"))
            )
        )
    usage = as_dict(body.get("usage"))
    reason = choice.get("finish_reason")
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text=content or "",
        thinking=message.get("reasoning_content") or message.get("reasoning") or "",
        tool_calls=tuple(calls),
        stop_reason=OPENAI_STOP.get(reason, reason) if reason else None,
        usage=ChatUsage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))),
        credits_consumed=credits_in(body, usage),
        raw=body,
    )
