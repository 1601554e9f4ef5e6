"""Chat wire formats → one :class:`ChatEvent` stream.

Kie exposes Claude in Anthropic's Messages format, GPT-5.2 and Gemini in OpenAI's chat-completions format, and
GPT-5.4/5.5 and the Codex models in OpenAI's Responses format. All three streams (and the non-streamed answers)
are turned into the same types here, so the chat page only knows one vocabulary. Pure code: the HTTP side lives
in :mod:`kiestudio.kie.aio`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypedDict

from .records import as_number
from .sse import SSEMessage
from .types import ChatEvent, ChatEventKind, ChatReply, ChatUsage, ToolCall

__all__ = [
    "AnthropicStreamTranslator",
    "ChatStream",
    "OpenAIStreamTranslator",
    "ResponsesStreamTranslator",
    "events_from_reply",
    "image_block",
    "openai_image_part",
    "parse_anthropic_reply",
    "parse_openai_reply",
    "parse_responses_reply",
    "responses_image_part",
    "responses_text_part",
]

K = ChatEventKind

_OPENAI_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_ERROR_CLASSES = {
    "overloaded_error": "unavailable",
    "rate_limit_error": "rate_limited",
    "authentication_error": "auth_failed",
    "permission_error": "auth_failed",
    "invalid_request_error": "bad_request",
    "not_found_error": "not_found",
    "request_too_large": "bad_request",
    "billing_error": "insufficient_credits",
    "insufficient_quota": "insufficient_credits",
    "insufficient_credits_error": "insufficient_credits",
    "api_error": "upstream_error",
    "timeout_error": "timeout",
    # Responses-format error codes (``error`` events and ``response.failed``).
    "server_error": "upstream_error",
    "rate_limit_exceeded": "rate_limited",
    "invalid_prompt": "bad_request",
    "invalid_request": "bad_request",
    "model_not_found": "not_found",
}
#: Why a Responses answer stopped early (``incomplete_details.reason``), in Anthropic's words.
_INCOMPLETE_REASONS = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}


def image_block(url: str | None = None, *, data: str | None = None, media_type: str = "image/png") -> dict[str, Any]:
    """An Anthropic image content block from a public URL or base64 data."""
    if url:
        return {"type": "image", "source": {"type": "url", "url": url}}
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data or ""}}


def openai_image_part(url: str) -> dict[str, Any]:
    """An OpenAI-format image part (Gemini also takes video, audio and PDF URLs this way)."""
    return {"type": "image_url", "image_url": {"url": url}}


def responses_image_part(url: str) -> dict[str, Any]:
    """A Responses-format image part (``input_image`` with a public URL)."""
    return {"type": "input_image", "image_url": url}


def responses_text_part(text: str, *, role: str = "user") -> dict[str, Any]:
    """A Responses-format text part: ``output_text`` for the model's own earlier turns, ``input_text`` otherwise."""
    return {"type": "output_text" if role == "assistant" else "input_text", "text": text}


def _credits(*sources: Any) -> float | None:
    for source in sources:
        if isinstance(source, dict):
            for key in ("credits_consumed", "creditsConsumed"):
                if (value := as_number(source.get(key))) is not None:
                    return value
    return None


def _int(value: Any) -> int:
    number = as_number(value)
    return int(number) if number is not None else 0


def _error_event(error: Any, raw: dict[str, Any] | None = None) -> ChatEvent:
    if isinstance(error, dict):
        kind = str(error.get("type") or error.get("code") or "")
        message = str(error.get("message") or kind or "The model stream reported an error")
    else:
        kind, message = "", str(error or "The model stream reported an error")
    return ChatEvent(
        kind=K.ERROR,
        error_class=_ERROR_CLASSES.get(kind, "upstream_error"),
        error_message=message,
        raw=raw,
    )


def _truncated() -> ChatEvent:
    return ChatEvent(
        kind=K.ERROR, error_class="upstream_error", error_message="The answer stopped before it was complete."
    )


def _json(message: SSEMessage) -> dict[str, Any] | None:
    try:
        payload = json.loads(message.data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


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
                self.input_tokens = _int(usage.get("input_tokens"))
            if "output_tokens" in usage:
                self.output_tokens = _int(usage.get("output_tokens"))

    def feed(self, message: SSEMessage) -> list[ChatEvent]:
        if self.finished:
            return []
        if message.data.strip() == "[DONE]":
            return self.finish()
        payload = _json(message)
        if payload is None:
            return [ChatEvent(kind=K.ERROR, error_class="upstream_error", error_message="Unreadable stream event.")]
        kind = payload.get("type") or message.event
        credits = _credits(payload, payload.get("usage"), payload.get("delta"), payload.get("message"))
        if credits is not None:
            self.credits_consumed = credits

        if kind == "message_start":
            msg = _dict(payload.get("message"))
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
            index = payload.get("index")
            block = _dict(payload.get("content_block"))
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
        if kind == "content_block_delta":
            index = payload.get("index")
            delta = _dict(payload.get("delta"))
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
            delta = _dict(payload.get("delta"))
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
            return [_error_event(payload.get("error"), payload)]
        return []

    def finish(self) -> list[ChatEvent]:
        """End of the HTTP stream. A stream that never said message_stop was cut short."""
        if self.finished:
            return []
        self.finished = True
        return [_truncated()]


class _NumberedBlocks:
    """Content blocks for formats that have none of their own (OpenAI's chat chunks, the Responses API): a block
    opens when the kind of content changes (text, thinking, one tool call) and gets the next index."""

    _block: tuple[str, int] | None
    _next_index: int

    def _open(self, key: str, start: ChatEvent) -> list[ChatEvent]:
        if self._block and self._block[0] == key:
            return []
        events = self._close()
        index = self._next_index
        self._next_index += 1
        self._block = (key, index)
        kwargs = {f: getattr(start, f) for f in ("block_type", "tool_id", "tool_name", "raw")}
        return [*events, ChatEvent(kind=start.kind, index=index, **kwargs)]

    def _close(self) -> list[ChatEvent]:
        if not self._block:
            return []
        index = self._block[1]
        self._block = None
        return [ChatEvent(kind=K.BLOCK_STOP, index=index)]

    def _index(self) -> int | None:
        return self._block[1] if self._block else None

    # Usage and the end of the message, the same for both formats: a usage event is sent again at the end only
    # if what it carries (``_usage_key``) changed since the last one.
    usage: ChatUsage
    stop_reason: str | None
    credits_consumed: float | None
    _usage_sent: tuple[object, ...] | None

    def _usage_key(self) -> tuple[object, ...]:
        raise NotImplementedError

    def _usage_event(self, raw: dict[str, Any] | None = None) -> ChatEvent:
        self._usage_sent = self._usage_key()
        return ChatEvent(
            kind=K.USAGE,
            usage=self.usage,
            stop_reason=self.stop_reason,
            credits_consumed=self.credits_consumed,
            raw=raw,
        )

    def _stop_events(self) -> list[ChatEvent]:
        events = self._close()
        if self._usage_sent != self._usage_key():
            events.append(self._usage_event())
        stop = ChatEvent(
            kind=K.MESSAGE_STOP, usage=self.usage, stop_reason=self.stop_reason, credits_consumed=self.credits_consumed
        )
        return [*events, stop]


class OpenAIStreamTranslator(_NumberedBlocks):
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
        payload = _json(message)
        if payload is None:
            return [ChatEvent(kind=K.ERROR, error_class="upstream_error", error_message="Unreadable stream event.")]
        if "error" in payload and not payload.get("choices"):
            self.finished = True
            return [_error_event(payload.get("error"), payload)]
        events: list[ChatEvent] = []
        credits = _credits(payload, payload.get("usage"))
        if credits is not None:
            self.credits_consumed = credits
        if not self.started:
            self.started = True
            events.append(
                ChatEvent(kind=K.MESSAGE_START, message_id=payload.get("id"), model=payload.get("model"), raw=payload)
            )
        choices = payload.get("choices") if isinstance(payload.get("choices"), list) else []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        delta = _dict(choice.get("delta"))

        thinking = delta.get("reasoning_content") or delta.get("reasoning") or delta.get("thinking")
        if isinstance(thinking, str) and thinking:
            events += self._open("thinking", ChatEvent(kind=K.BLOCK_START, block_type="thinking"))
            events.append(ChatEvent(kind=K.THINKING_DELTA, index=self._index(), text=thinking))
        content = delta.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str) and content:
            events += self._open("text", ChatEvent(kind=K.BLOCK_START, block_type="text"))
            events.append(ChatEvent(kind=K.TEXT_DELTA, index=self._index(), text=content))
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            function = _dict(call.get("function"))
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
            self.stop_reason = _OPENAI_STOP.get(reason, reason)
            events += self._close()
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.usage = ChatUsage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))
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
        return [*self._close(), _truncated()]


class _Final(TypedDict):
    """What the closing USAGE and MESSAGE_STOP events of a replayed reply both carry."""

    usage: ChatUsage
    stop_reason: str | None
    credits_consumed: float | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class ResponsesStreamTranslator(_NumberedBlocks):
    """OpenAI Responses SSE events (``response.*``) → ChatEvents.

    Kie documents ``response.output_text.delta``, ``response.function_call_arguments.delta``,
    ``response.completed`` (with ``response.usage``) and a final ``data: [DONE]``; OpenAI's other events
    (``output_item.added``/``done``, reasoning summaries, ``response.incomplete``/``failed``, ``error``) are read
    too. Blocks get synthetic indexes, as in :class:`OpenAIStreamTranslator`.
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
        response = _dict(payload.get("response"))
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
            self.usage = ChatUsage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")))

    def feed(self, message: SSEMessage) -> list[ChatEvent]:
        if self.finished:
            return []
        if message.data.strip() == "[DONE]":
            return self._done()
        payload = _json(message)
        if payload is None:
            return [ChatEvent(kind=K.ERROR, error_class="upstream_error", error_message="Unreadable stream event.")]
        kind = payload.get("type") or message.event
        response = _dict(payload.get("response"))
        credits = _credits(payload, response, response.get("usage"), payload.get("usage"))
        if credits is not None:
            self.credits_consumed = credits

        if kind == "response.failed":
            self.finished = True
            error = _dict(response.get("error")) or {"message": "The model could not finish this answer."}
            return [*self._close(), _error_event({**error, "type": error.get("code")}, payload)]
        if kind == "error" or isinstance(payload.get("error"), dict):
            # OpenAI's ``error`` event carries code and message at the top; a proxy may nest an error object.
            self.finished = True
            nested = payload.get("error")
            if isinstance(nested, dict):
                error = {**nested, "type": nested.get("type") or nested.get("code")}
            else:
                error = {"type": payload.get("code"), "message": payload.get("message")}
            return [*self._close(), _error_event(error, payload)]

        events = self._start(payload)
        output_index = payload.get("output_index")
        match kind:
            case "response.output_item.added":
                item = _dict(payload.get("item"))
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
                self.completed = True
                self._take_usage(response)
                details = _dict(response.get("incomplete_details"))
                if kind == "response.incomplete" or response.get("status") == "incomplete":
                    reason = str(details.get("reason") or "max_output_tokens")
                    self.stop_reason = _INCOMPLETE_REASONS.get(reason, reason)
                elif self.stop_reason is None:
                    called = self._called or any(
                        _dict(item).get("type") == "function_call" for item in response.get("output") or ()
                    )
                    self.stop_reason = "tool_use" if called else "end_turn"
                events += self._close()
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
        return [*self._close(), _truncated()]


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
    usage = _dict(body.get("usage"))
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tuple(calls),
        stop_reason=body.get("stop_reason"),
        usage=ChatUsage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens"))),
        credits_consumed=_credits(body, usage),
        raw=body,
    )


def parse_openai_reply(body: dict[str, Any]) -> ChatReply:
    choices = body.get("choices") if isinstance(body.get("choices"), list) else []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = _dict(choice.get("message"))
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    calls = []
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = _dict(call.get("function"))
        arguments = function.get("arguments") or "{}"
        try:
            parsed: dict[str, Any] | str = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            parsed = arguments
        calls.append(ToolCall(id=call.get("id") or "", name=function.get("name") or "", input=parsed))
    usage = _dict(body.get("usage"))
    reason = choice.get("finish_reason")
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text=content or "",
        thinking=message.get("reasoning_content") or message.get("reasoning") or "",
        tool_calls=tuple(calls),
        stop_reason=_OPENAI_STOP.get(reason, reason) if reason else None,
        usage=ChatUsage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))),
        credits_consumed=_credits(body, usage),
        raw=body,
    )


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
                arguments = item.get("arguments") or "{}"
                try:
                    parsed: dict[str, Any] | str = json.loads(arguments) if isinstance(arguments, str) else arguments
                except ValueError:
                    parsed = arguments
                calls.append(
                    ToolCall(id=item.get("call_id") or item.get("id") or "", name=item.get("name") or "", input=parsed)
                )
    usage = _dict(body.get("usage"))
    if body.get("status") == "incomplete":
        reason = str(_dict(body.get("incomplete_details")).get("reason") or "max_output_tokens")
        stop = _INCOMPLETE_REASONS.get(reason, reason)
    else:
        stop = "tool_use" if calls else "end_turn"
    return ChatReply(
        id=body.get("id"),
        model=body.get("model"),
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tuple(calls),
        stop_reason=stop,
        usage=ChatUsage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens"))),
        credits_consumed=_credits(body, usage),
        raw=body,
    )


def events_from_reply(reply: ChatReply) -> list[ChatEvent]:
    """The event sequence a stream would have produced (used when a server ignores ``stream: true``)."""
    events = [ChatEvent(kind=K.MESSAGE_START, message_id=reply.id, model=reply.model, usage=reply.usage)]
    index = 0
    for block_type, text, kind in (("thinking", reply.thinking, K.THINKING_DELTA), ("text", reply.text, K.TEXT_DELTA)):
        if text:
            events += [
                ChatEvent(kind=K.BLOCK_START, index=index, block_type=block_type),
                ChatEvent(kind=kind, index=index, text=text),
                ChatEvent(kind=K.BLOCK_STOP, index=index),
            ]
            index += 1
    for call in reply.tool_calls:
        arguments = call.input if isinstance(call.input, str) else json.dumps(call.input)
        events += [
            ChatEvent(kind=K.TOOL_USE_START, index=index, block_type="tool_use", tool_id=call.id, tool_name=call.name),
            ChatEvent(kind=K.TOOL_INPUT_DELTA, index=index, text=arguments),
            ChatEvent(kind=K.BLOCK_STOP, index=index),
        ]
        index += 1
    final: _Final = {"usage": reply.usage, "stop_reason": reply.stop_reason, "credits_consumed": reply.credits_consumed}
    events += [ChatEvent(kind=K.USAGE, **final), ChatEvent(kind=K.MESSAGE_STOP, **final)]
    return events


class ChatStream:
    """An async iterator of :class:`ChatEvent` that owns the upstream HTTP response.

    Leaving ``async with``, calling :meth:`aclose`, or cancelling the task that iterates it closes the
    upstream connection at once.
    """

    def __init__(self, events: AsyncIterator[ChatEvent]) -> None:
        self._events = events

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
