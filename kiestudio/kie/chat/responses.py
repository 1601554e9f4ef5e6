"""OpenAI's Responses format (GPT-5.4/5.5, the Codex models): input parts, the SSE stream and the whole answer."""

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

__all__ = ["ResponsesStreamTranslator", "parse_responses_reply", "responses_image_part", "responses_text_part"]

#: Why a Responses answer stopped early (``incomplete_details.reason``), in Anthropic's words.
INCOMPLETE_REASONS = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}


def responses_image_part(url: str) -> dict[str, Any]:
    """A Responses-format image part (``input_image`` with a public URL)."""
    return {"type": "input_image", "image_url": url}


def responses_text_part(text: str, *, role: str = "user") -> dict[str, Any]:
    """A Responses-format text part: ``output_text`` for the model's own earlier turns, ``input_text`` otherwise."""
    return {"type": "output_text" if role == "assistant" else "input_text", "text": text}


def _incomplete_reason(response: dict[str, Any]) -> str:
    reason = str(as_dict(response.get("incomplete_details")).get("reason") or "max_output_tokens")
    return INCOMPLETE_REASONS.get(reason, reason)


class ResponsesStreamTranslator(NumberedBlocks):
    """OpenAI Responses SSE events (``response.*``) → ChatEvents.

    Kie documents ``response.output_text.delta``, ``response.function_call_arguments.delta``,
    ``response.completed`` (with ``response.usage``) and a final ``data: [DONE]``; OpenAI's other events
    (``output_item.added``/``done``, reasoning summaries, ``response.incomplete``/``failed``, ``error``) are read
    too. Blocks get synthetic indexes, as in :class:`~kiestudio.kie.chat.OpenAIStreamTranslator`.
    """

    def __init__(self) -> None:
        self.started = False
        self.completed = False  # response.completed (or .incomplete) was seen
        self.finished = False
        self.stop_reason: str | None = None
        self.usage = ChatUsage()
        self.credits_consumed: float | None = None
        self._block: tuple[str, int] | None = None  # (key, index) of the open block
        self._next_index = 0
        self._tools: dict[Any, tuple[str | None, str | None]] = {}  # output_index -> (call id, name)
        self._called = False
        self._streamed_text = False
        self._usage_sent = None

    def _start(self, payload: dict[str, Any]) -> list[ChatEvent]:
        if self.started:
            return []
        self.started = True
        response = as_dict(payload.get("response"))
        return [
            ChatEvent(
                kind=K.MESSAGE_START,
                message_id=response.get("id") or payload.get("id"),
                model=response.get("model") or payload.get("model"),
                raw=payload,
            )
        ]

    def _tool_block(self, output_index: Any, item: dict[str, Any] | None = None) -> list[ChatEvent]:
        if item is not None:
            self._tools[output_index] = (item.get("call_id") or item.get("id"), item.get("name"))
        call_id, name = self._tools.get(output_index, (None, None))
        self._called = True
        start = ChatEvent(kind=K.TOOL_USE_START, block_type="tool_use", tool_id=call_id, tool_name=name)
        return self._open(f"tool:{output_index}", start)

    def _take_usage(self, response: dict[str, Any]) -> None:
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.usage = ChatUsage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens")))

    def feed(self, message: SSEMessage) -> list[ChatEvent]:
        if self.finished:
            return []
        if message.data.strip() == "[DONE]":
            return self._done()
        payload = json_payload(message)
        if payload is None:
            return [unreadable()]
        kind = payload.get("type") or message.event
        response = as_dict(payload.get("response"))
        credits = credits_in(payload, response, response.get("usage"), payload.get("usage"))
        if credits is not None:
            self.credits_consumed = credits

        if kind == "response.failed":
            self.finished = True
            error = as_dict(response.get("error")) or {"message": "The model could not finish this answer."}
            return [*self._close(), error_event({**error, "type": error.get("code")}, payload)]
        if kind == "error" or isinstance(payload.get("error"), dict):
            # OpenAI's ``error`` event carries code and message at the top; a proxy may nest an error object.
            self.finished = True
            nested = payload.get("error")
            if isinstance(nested, dict):
                error = {**nested, "type": nested.get("type") or nested.get("code")}
            else:
                error = {"type": payload.get("code"), "message": payload.get("message")}
            return [*self._close(), error_event(error, payload)]

        events = self._start(payload)
        output_index = payload.get("output_index")
        match kind:
            case "response.output_item.added":
                item = as_dict(payload.get("item"))
                if item.get("type") == "function_call":
                    events += self._tool_block(output_index, item)
                    if item.get("arguments"):
                        events.append(ChatEvent(kind=K.TOOL_INPUT_DELTA, index=self._index(), text=item["arguments"]))
            case "response.output_text.delta" | "response.refusal.delta":
                if kind == "response.refusal.delta":
                    self.stop_reason = "refusal"
                delta = payload.get("delta")
                if isinstance(delta, str) and delta:
                    key = f"text:{output_index}:{payload.get('content_index', 0)}"
                    events += self._open(key, ChatEvent(kind=K.BLOCK_START, block_type="text"))
                    events.append(ChatEvent(kind=K.TEXT_DELTA, index=self._index(), text=delta))
                    self._streamed_text = True
            case "response.reasoning_summary_text.delta" | "response.reasoning_text.delta":
                delta = payload.get("delta")
                if isinstance(delta, str) and delta:
                    events += self._open(
                        f"thinking:{output_index}", ChatEvent(kind=K.BLOCK_START, block_type="thinking")
                    )
                    events.append(ChatEvent(kind=K.THINKING_DELTA, index=self._index(), text=delta))
            case "response.function_call_arguments.delta":
                events += self._tool_block(output_index)
                delta = payload.get("delta")
                if isinstance(delta, str) and delta:
                    events.append(ChatEvent(kind=K.TOOL_INPUT_DELTA, index=self._index(), text=delta))
            case "response.output_item.done":
                if self._block and self._block[0].split(":")[1] == str(output_index):
                    events += self._close()
            case "response.completed" | "response.incomplete":
                events += self._completed(kind, response, payload)
        return events

    def _completed(self, kind: str, response: dict[str, Any], payload: dict[str, Any]) -> list[ChatEvent]:
        """``response.completed``/``.incomplete``: the stop reason, the usage, and the text if none streamed."""
        self.completed = True
        self._take_usage(response)
        if kind == "response.incomplete" or response.get("status") == "incomplete":
            self.stop_reason = _incomplete_reason(response)
        elif self.stop_reason is None:
            called = self._called or any(
                as_dict(item).get("type") == "function_call" for item in response.get("output") or ()
            )
            self.stop_reason = "tool_use" if called else "end_turn"
        events = self._close()
        if not self._streamed_text and (text := parse_responses_reply(response).text):
            # The text came only in the final object (no deltas): it is still the answer.
            events += self._open("text:final", ChatEvent(kind=K.BLOCK_START, block_type="text"))
            events += [ChatEvent(kind=K.TEXT_DELTA, index=self._index(), text=text), *self._close()]
        events.append(self._usage_event(payload))
        return events

    def _usage_key(self) -> tuple[object, ...]:
        return (self.stop_reason, self.credits_consumed)

    def _done(self) -> list[ChatEvent]:
        self.finished = True
        if self.stop_reason is None:
            self.stop_reason = "tool_use" if self._called else "end_turn"
        return self._stop_events()

    def finish(self) -> list[ChatEvent]:
        """End of the HTTP stream. Without ``[DONE]``, ``response.completed`` still counts as a complete answer
        (OpenAI's own stream ends there)."""
        if self.finished:
            return []
        if self.completed:
            return self._done()
        self.finished = True
        return [*self._close(), truncated()]


def parse_responses_reply(body: dict[str, Any]) -> ChatReply:
    """A non-streamed Responses answer: ``output`` items (reasoning, message, function_call), ``usage``."""
    text, thinking, calls = [], [], []
    for item in body.get("output") or ():
        if not isinstance(item, dict):
            continue
        match item.get("type"):
            case "message":
                for part in item.get("content") or ():
                    if isinstance(part, dict) and part.get("type") in ("output_text", "refusal"):
                        text.append(part.get("text") or part.get("refusal") or "")
            case "reasoning":
                for part in (*(item.get("summary") or ()), *(item.get("content") or ())):
                    if isinstance(part, dict):
                        thinking.append(part.get("text") or "")
            case "function_call":
                call_id = item.get("call_id") or item.get("id") or ""
                calls.append(ToolCall(id=call_id, name=item.get("name") or "", input=tool_input(item.get("arguments"))))
    usage = as_dict(body.get("usage"))
    stop = _incomplete_reason(body) if body.get("status") == "incomplete" else ("tool_use" if calls else "end_turn")
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tuple(calls),
        stop_reason=stop,
        usage=ChatUsage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))),
        credits_consumed=credits_in(body, usage),
        raw=body,
    )
