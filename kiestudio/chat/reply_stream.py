"""The reply's stream to the browser: server-sent events of one reply, from wherever it is being written.

The last step a reader sees. A send answers with this stream, and ``GET …/stream/`` (re)joins it: the events the
runner publishes to the hub (``relay``, ``live_reply``) are replayed after the reader's last one, then followed
live. A reply written by another process this one cannot follow is followed through the database instead, as
snapshots of its saved text. The stream ends with ``done`` and the finished reply's HTML, or early, with a notice,
when its reader loses access. Closing it never stops the reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html

from kiestudio.chat import services
from kiestudio.chat.hub import KEEPALIVE_SECONDS, get_hub
from kiestudio.chat.markdown import render_markdown, split_committed
from kiestudio.chat.models import Message
from kiestudio.chat.view_context import message_context
from kiestudio.core.db import outside_request
from kiestudio.core.http import HtmxHttpRequest

log = logging.getLogger("kiestudio.chat")

DB_POLL_SECONDS = 0.5
ACCESS_LOST = "You no longer have access to this conversation, so its reply isn't shown here any more."


def sse(name: str, data: dict[str, object], seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def event_stream(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # or nginx and friends buffer it
    return response


def in_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    # Not thread-sensitive: a stream must not pin a thread of its own for as long as it stays open.
    return sync_to_async(outside_request(fn), thread_sensitive=False)


def _done_html(request: HtmxHttpRequest, message_id: int) -> tuple[str, str]:
    message = services.message_check_alive(message=Message.objects.select_related("conversation").get(pk=message_id))
    context = {**message_context(request, message), "live": True}  # it replaces the reply that just ended
    html = render_to_string("chat/_message.html", context, request=request)
    return html, message.status


def _reload(message_id: int) -> Message:
    return services.message_check_alive(message=Message.objects.get(pk=message_id))


class _Reader:
    """Whether the stream's reader may still see the reply: re-checked (one indexed query) at most every
    ``check_every`` seconds while the stream is open, and once more before the final event. A member removed from
    the workspace, or a conversation no longer shared, ends the stream.

    The periodic check runs beside the stream, never in its way: an event is not held back while the query waits
    for a thread (with a thousand streams open, that wait came in bursts; issue 18). The answer ends the stream at
    the next event or keepalive after it arrives."""

    def __init__(self, request: HtmxHttpRequest, message_id: int, check_every: float) -> None:
        self.request, self.message_id, self.check_every = request, message_id, check_every
        self.checked = time.monotonic()
        self.allowed = True
        self._pending: asyncio.Future[bool] | None = None

    def _check(self) -> bool:
        return services.message_readable(message_id=self.message_id, user=self.request.user)

    async def lost_access(self, *, now: bool = False) -> bool:
        if not self.allowed:
            return True
        if now:
            self.close()
            self.allowed = await in_thread(self._check)()
            self.checked = time.monotonic()
        elif self._pending is not None:
            if self._pending.done():
                pending, self._pending = self._pending, None
                self.allowed = pending.result()
                self.checked = time.monotonic()
        elif time.monotonic() - self.checked >= self.check_every:
            self._pending = asyncio.ensure_future(in_thread(self._check)())
        return not self.allowed

    def close(self) -> None:
        """Forget a check still under way (its thread finishes on its own)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def _access_lost_event(seq: int) -> str:
    """The last event of a stream whose reader lost access: the reply on their page is replaced by a notice."""
    html = format_html('<p class="msg msg-assistant status-revoked muted" role="status">{}</p>', ACCESS_LOST)
    return sse("done", {"html": html, "status": "revoked"}, seq)


async def stream_events(
    request: HtmxHttpRequest, message: Message, after: int, *, check_every: float
) -> AsyncGenerator[str]:
    """The reply's events after ``after``, then live, then ``done``; its reader's access is re-checked every
    ``check_every`` seconds."""
    reader = _Reader(request, message.pk, check_every)
    try:
        yield "retry: 1500\n\n"
        if message.is_streaming:
            quiet_since = time.monotonic()
            async for event in get_hub().follow(message.pk, after, keepalive=check_every):
                if await reader.lost_access():
                    break
                if event is None:
                    if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                        yield ": keepalive\n\n"
                        quiet_since = time.monotonic()
                elif event.name == "done":
                    after = event.seq
                    break
                else:
                    yield event.encode()
                    after, quiet_since = event.seq, time.monotonic()
            else:
                # Not followable here (another process without Redis, or the reply's process is gone):
                # follow it through the database instead, with a snapshot whenever its saved text moves on.
                async for chunk in _poll_database(message.pk, after, reader):
                    yield chunk
        if await reader.lost_access(now=True):
            log.info("chat stream ended: the reader lost access", extra={"message_id": message.pk})
            yield _access_lost_event(after)
            return
        html, status = await in_thread(_done_html)(request, message.pk)
        yield sse("done", {"html": html, "status": status}, after)
    except asyncio.CancelledError:
        log.info("chat stream closed by the browser", extra={"message_id": message.pk})
        raise
    finally:
        reader.close()


async def _poll_database(message_id: int, after: int, reader: _Reader) -> AsyncIterator[str]:
    quiet = 0.0
    while True:
        if await reader.lost_access():
            return
        message = await in_thread(_reload)(message_id)
        if not message.is_streaming:
            return
        if message.stream_seq > after:
            committed, tail = split_committed(message.text)
            data = {"html": render_markdown(committed), "tail": tail, "thinking": message.thinking_text}
            yield sse("snapshot", data, message.stream_seq)
            after, quiet = message.stream_seq, 0.0
        elif quiet >= KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            quiet = 0.0
        await asyncio.sleep(DB_POLL_SECONDS)
        quiet += DB_POLL_SECONDS
