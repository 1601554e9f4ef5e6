"""What the chat wire formats share: reading an event's JSON, numbers and credits, the error vocabulary, and the
numbered content blocks of the formats that have none of their own."""

from __future__ import annotations

import json
from typing import Any

from ..records import as_number
from ..sse import SSEMessage
from ..types import ChatEvent, ChatEventKind, ChatUsage

__all__ = [
    "ERROR_CLASSES",
    "K",
    "NumberedBlocks",
    "as_dict",
    "as_int",
    "credits_in",
    "error_event",
    "json_payload",
    "tool_input",
    "truncated",
    "unreadable",
]

K = ChatEventKind

#: Vendor error types and codes → the studio's error classes.
ERROR_CLASSES = {
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


def credits_in(*sources: Any) -> float | None:
    """Kie's ``credits_consumed`` (or ``creditsConsumed``) from the first of ``sources`` that carries it."""
    for source in sources:
        if isinstance(source, dict):
            for key in ("credits_consumed", "creditsConsumed"):
                if (value := as_number(source.get(key))) is not None:
                    return value
    return None


def as_int(value: Any) -> int:
    number = as_number(value)
    return int(number) if number is not None else 0


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tool_input(arguments: Any) -> dict[str, Any] | str:
    """A tool call's arguments as an object when they are JSON text; as given otherwise."""
    arguments = arguments or "{}"
    try:
        parsed: dict[str, Any] | str = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        parsed = arguments
    return parsed


def error_event(error: Any, raw: dict[str, Any] | None = None) -> ChatEvent:
    if isinstance(error, dict):
        kind = str(error.get("type") or error.get("code") or "")
        message = str(error.get("message") or kind or "The model stream reported an error")
    else:
        kind, message = "", str(error or "The model stream reported an error")
    return ChatEvent(
        kind=K.ERROR,
        error_class=ERROR_CLASSES.get(kind, "upstream_error"),
        error_message=message,
        raw=raw,
    )


def truncated() -> ChatEvent:
    return ChatEvent(
        kind=K.ERROR, error_class="upstream_error", error_message="The answer stopped before it was complete."
    )


def unreadable() -> ChatEvent:
    return ChatEvent(kind=K.ERROR, error_class="upstream_error", error_message="Unreadable stream event.")


def json_payload(message: SSEMessage) -> dict[str, Any] | None:
    try:
        payload = json.loads(message.data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


class NumberedBlocks:
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
