"""A reply as it arrives: Kie's stream turned into the reply's text, its readers' events and its token counts.

In the life of a reply this is the middle: the runner (``relay``) has opened the streamed call to Kie
(``upstream``) and hands each event here. Text and thinking deltas grow the reply and go out to the hub as
numbered events (``delta``, ``think``, and ``block`` with the HTML of each finished Markdown block), which the
browsers' event streams (``views``) follow. Usage, credits and the stop reason are kept for the final save; an
error becomes the message a creator reads. ``snapshot`` is what the flusher saves once a second, and
``final_fields`` what the runner saves at the end (``recording``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kiestudio.chat.charges import prompt_tokens, tokens_in
from kiestudio.chat.hub import Event, LocalHub
from kiestudio.chat.markdown import render_markdown, split_committed
from kiestudio.chat.models import Message
from kiestudio.chat.recording import Snapshot, content_blocks
from kiestudio.chat.upstream import UpstreamPlan
from kiestudio.kie.types import ChatEvent, ChatEventKind

K = ChatEventKind
Status = Message.Status

# What a creator reads for each error class of the Kie client (and the studio's own).
ERROR_MESSAGES = {
    "auth_failed": "Kie rejected the API key. Check the key in your workspace settings, then retry.",
    "insufficient_credits": "Your Kie account is out of credits. Top up at kie.ai, then retry.",
    "key_limit": "This Kie API key has reached the spending cap set on it. Raise the cap at kie.ai, then retry.",
    "rate_limited": "Kie is receiving too many requests from this account right now. Wait a moment, then retry.",
    "unavailable": "Kie is overloaded or down for maintenance. Try again in a minute.",
    "upstream_error": "Kie had a problem and the reply broke off.",
    "timeout": "Kie took too long to answer. Try again in a moment.",
    # A timeout after the request went out: Kie may have started (and charged for) the reply.
    "unknown_outcome": "Kie didn't answer in time. It may still have charged for this reply; retry when you're ready.",
    "network_error": "The studio could not reach Kie. Check the network, then retry.",
    "bad_request": "Kie did not accept this request.",
    "not_found": "Kie doesn't offer this model right now. Pick another one and retry.",
    "server_error": "Something went wrong in the studio while writing this reply.",
}


class LiveReply:
    """What has arrived of one reply so far, and the events its readers were sent."""

    def __init__(self, message_id: int, hub: LocalHub) -> None:
        self.message_id = message_id
        self.hub = hub
        self.seq = 0
        self.text = ""
        self.thinking = ""
        self.committed = ""
        self.input_tokens = 0
        self.output_tokens = 0
        self.usage_final = False  # Kie's count for the whole reply arrived (not just the prompt's, at the start)
        self.pieces = 0  # text and thinking deltas received: a floor for the output tokens Kie charges
        self.plan: UpstreamPlan | None = None
        self.credits: float | None = None
        self.stop_reason = ""
        self.first_token_at: datetime | None = None
        self.dirty = False
        self.requested = asyncio.Event()  # Kie has answered the request (or the run ended)
        self.tool_uses: list[dict[str, Any]] = []  # {"id", "name", "json"}: the calls the reply makes, as they arrive
        self._tool_at: dict[int | None, dict[str, Any]] = {}

    # -- events ------------------------------------------------------------------------------------------

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        self.seq += 1
        await self.hub.publish(self.message_id, Event(self.seq, name, json.dumps(payload, separators=(",", ":"))))

    async def on_text(self, text: str) -> None:
        if not text:
            return
        if self.first_token_at is None:
            self.first_token_at = timezone.now()
        self.pieces += 1
        self.text += text
        self.dirty = True
        if "\n" in text:
            committed, tail = split_committed(self.text)
            if len(committed) > len(self.committed):
                self.committed = committed
                await self.emit("block", {"html": render_markdown(committed), "tail": tail, "t": text})
                return
        await self.emit("delta", {"t": text})

    async def on_thinking(self, text: str) -> None:
        if text:
            self.pieces += 1
            self.thinking += text
            self.dirty = True
            await self.emit("think", {"t": text})

    async def consume(self, events: AsyncIterable[ChatEvent]) -> dict[str, Any]:
        """Read Kie's stream to its end; return the fields of the reply's final state."""
        async for event in events:
            self.requested.set()
            match event.kind:
                case K.TEXT_DELTA:
                    await self.on_text(event.text)
                case K.THINKING_DELTA:
                    await self.on_thinking(event.text)
                case K.TOOL_USE_START:
                    self.on_tool_start(event)
                case K.TOOL_INPUT_DELTA:
                    if (call := self._tool_at.get(event.index) or self._tool_at.get(None)) is not None:
                        call["json"] += event.text
                case K.MESSAGE_START | K.USAGE | K.MESSAGE_STOP:
                    if event.usage is not None:
                        self.input_tokens = event.usage.input_tokens or self.input_tokens
                        self.output_tokens = event.usage.output_tokens or self.output_tokens
                        if event.kind != K.MESSAGE_START and event.usage.output_tokens:
                            self.usage_final = True
                    if event.credits_consumed is not None:
                        self.credits = event.credits_consumed
                    if event.stop_reason:
                        self.stop_reason = event.stop_reason
                    if event.kind == K.MESSAGE_STOP:
                        return {"status": Status.COMPLETE}
                case K.ERROR:
                    return self.failure(event.error_class or "upstream_error", event.error_message or "")
        return self.failure("upstream_error")

    def on_tool_start(self, event: ChatEvent) -> None:
        call = {"id": event.tool_id or f"call_{len(self.tool_uses) + 1}", "name": event.tool_name or "", "json": ""}
        self.tool_uses.append(call)
        self._tool_at[event.index] = call
        self._tool_at[None] = call  # deltas without an index belong to the call opened last
        self.dirty = True

    def tool_blocks(self) -> list[dict[str, Any]]:
        """The calls as saved: their input parsed (an unreadable input is kept as text, for the tool to refuse)."""
        blocks = []
        for call in self.tool_uses:
            try:
                tool_input = json.loads(call["json"]) if call["json"].strip() else {}
            except ValueError:
                tool_input = {"_unreadable": call["json"]}
            if not isinstance(tool_input, dict):
                tool_input = {"_unreadable": call["json"]}
            blocks.append({"type": "tool_use", "id": call["id"], "name": call["name"], "input": tool_input})
        return blocks

    def failure(self, error_class: str, detail: str = "", *, fallback: str = "") -> dict[str, Any]:
        message = ERROR_MESSAGES.get(error_class) or fallback or ERROR_MESSAGES["upstream_error"]
        if detail and detail.rstrip(".") not in message:
            message = f"{message} Kie said: “{detail.rstrip('.')}”."
        if self.text:
            message += " The reply so far is kept."
        return {"status": Status.FAILED, "error_class": error_class, "error_message": message}

    # -- what is saved -----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.dirty = False
        return Snapshot(
            self.message_id, content_blocks(self.text, self.thinking), self.seq, self.input_tokens, self.output_tokens
        )

    def tokens(self) -> tuple[int, int]:
        """Kie's token counts. A reply cut short before Kie's final count (stopped, failed, interrupted) was still
        charged for what Kie read and wrote: then the counts are estimated from the request and the streamed text."""
        if self.usage_final or self.credits is not None or not (self.text or self.thinking):
            return self.input_tokens, self.output_tokens
        streamed = max(self.pieces, tokens_in(self.text + self.thinking))
        prompt = self.input_tokens or (prompt_tokens(self.plan.messages, self.plan.system) if self.plan else 0)
        return prompt, max(self.output_tokens, streamed)

    def final_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The reply's final state: how it ended (``fields``), its text, tokens and credits (estimated when Kie
        sent none)."""
        input_tokens, output_tokens = self.tokens()
        # Calls count only in a reply that ended well: a cut-off call is never run (nor sent back to the model).
        calls = self.tool_blocks() if fields.get("status") == Status.COMPLETE else []
        credits, estimated = self.credits, False
        if credits is None and (input_tokens or output_tokens):
            assert self.plan is not None  # a runner saves only a reply it claimed, which has its plan
            credits, estimated = float(self.plan.spec.estimate_credits(input_tokens, output_tokens)), True
        return {
            **fields,
            "content": [*content_blocks(self.text, self.thinking), *calls],
            "stream_seq": self.seq,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "credits": Decimal(str(credits)) if credits is not None else None,
            "credits_estimated": estimated,
            "stop_reason": self.stop_reason,
            "first_token_at": self.first_token_at,
        }
