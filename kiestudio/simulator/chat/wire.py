"""What the chat endpoints share on the wire: checks and charging before an answer, SSE framing, chunking a text
into stream pieces, and counting the streams that are open or were abandoned."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import text as prose
from ..common import BadRequest, chat_error, sim_of, wait_or_shutdown
from ..markers import Markers
from ..state import SimState
from .models import ChatModel

__all__ = [
    "SSE_HEADERS",
    "DroppedConnection",
    "as_dict",
    "chunks",
    "event_stream",
    "json_pieces",
    "number",
    "parse_messages",
    "pause",
    "pre_checks",
    "sse",
    "wants_stream",
]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class DroppedConnection(Exception):
    """Raised inside a stream to make the server abort the connection mid-body ([sim:drop])."""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def chunks(text: str, per_chunk: int) -> list[str]:
    tokens = prose.tokens(text)
    size = max(1, per_chunk)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)] or [""]


def json_pieces(value: dict[str, Any] | str, size: int = 12) -> list[str]:
    raw = value if isinstance(value, str) else json.dumps(value)
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


async def pause(delay: float) -> None:
    """The pause between two stream pieces."""
    if delay > 0:
        await asyncio.sleep(delay)


async def pre_checks(request: Request, markers: Markers, credits: Decimal) -> Response | None:
    """Markers and configured faults that refuse or slow the answer, then the charge (402 when it can't be paid)."""
    sim = sim_of(request)
    if markers.chat_error:
        status, message = markers.chat_error
        return chat_error(status, message or _default_message(status))
    if markers.hang is not None:
        await wait_or_shutdown(sim, sim.config.hang_seconds if markers.hang < 0 else markers.hang)
        return chat_error(504, "Upstream timed out")
    if markers.slow is not None:
        await wait_or_shutdown(sim, sim.config.slow_seconds if markers.slow < 0 else markers.slow)
    if markers.http_5xx:
        return chat_error(markers.http_5xx, _default_message(markers.http_5xx))
    if "chat" in sim.config.fault_kinds:
        r_5xx, r_slow = sim.fault_rng.random(), sim.fault_rng.random()
        if r_slow < sim.config.slow_rate:
            await wait_or_shutdown(sim, sim.config.slow_seconds)
        if r_5xx < sim.config.fault_5xx_rate:
            return chat_error(500, _default_message(500))
    with sim.lock:
        if sim.balance < credits or sim.balance <= 0:
            return chat_error(402, "insufficient credits")
        sim.balance -= credits
    return None


def _default_message(status: int) -> str:
    return {
        400: "Invalid request",
        401: "Invalid API key",
        429: "Rate limit exceeded, please retry later",
        500: "Internal server error",
    }.get(status, "Upstream error")


def sse(event: str | None, payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def parse_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The body's ``messages``: a non-empty list of objects with a role (BadRequest otherwise)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise BadRequest(f"messages.{index}: each message needs a role and content")
    return messages


def wants_stream(sim: SimState, model: ChatModel, body: dict[str, Any]) -> Any:
    """The body's ``stream``, or when it has none the configured default, or else the model's."""
    stream = body.get("stream")
    if stream is None:
        stream = model.stream_default if sim.config.chat_stream_default is None else sim.config.chat_stream_default
    return stream


def event_stream(sim: SimState, events: AsyncIterator[bytes]) -> StreamingResponse:
    """An SSE answer made of ``events``, counted (see :func:`_counted`)."""
    return StreamingResponse(_counted(sim, events), media_type="text/event-stream", headers=SSE_HEADERS)


async def _counted(sim: SimState, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Count open chat streams, and the ones the client abandoned (closed before the last event)."""
    with sim.lock:
        sim.chat_streams_open += 1
    finished = False
    sent: list[float] | None = [] if sim.config.chat_timings else None
    try:
        async for chunk in events:
            yield chunk
            # Resumed once the server has written the chunk: that moment is when it left, for benchmarks.
            if sent is not None and (
                b'"text_delta"' in chunk
                or b'"response.output_text.delta"' in chunk
                or (b'"content":"' in chunk and b'"content":""' not in chunk)
            ):
                sent.append(time.monotonic())
        finished = True
    except DroppedConnection:
        finished = True
        raise
    finally:
        with sim.lock:
            sim.chat_streams_open -= 1
            if not finished:
                sim.chat_streams_abandoned += 1
            if sent is not None:
                sim.chat_timings.append(sent)
