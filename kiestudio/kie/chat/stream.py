"""The stream the chat client hands out (:class:`ChatStream`), and a whole answer replayed as stream events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TypedDict

from ..types import ChatEvent, ChatReply, ChatUsage
from .common import K

__all__ = ["ChatStream", "events_from_reply"]


class _Final(TypedDict):
    """What the closing USAGE and MESSAGE_STOP events of a replayed reply both carry."""

    usage: ChatUsage
    stop_reason: str | None
    credits_consumed: float | None


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
