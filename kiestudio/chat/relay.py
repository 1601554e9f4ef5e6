"""Live replies: each one runs as an asyncio task in a web process, detached from any browser.

1. The send builds the upstream request while it holds the thread in memory (``prepare``) and creates the reply
   already claimed by this process. After commit, ``reply_start`` registers a :class:`Runner` and schedules it
   on the web process's event loop (or on a background loop thread where there is none: tests, commands). A
   reply with images to upload is left unclaimed: its runner claims it with a conditional UPDATE and builds
   the request in a thread of its own.
2. The runner streams the reply from Kie and publishes numbered events to the hub, where any number of
   readers follow it.
3. One flusher per process saves every live reply's text, stream position and heartbeat once a second, in one
   transaction, and picks up stop requests flagged in the database by other processes.
4. At the end the runner saves the final state, then publishes ``done``.

Stop cancels the runner's task: the upstream request closes at once and the text so far is saved as stopped.
A process that shuts down cancels its runners, which saves them as interrupted; a process killed outright
leaves replies whose heartbeat goes stale, and readers then mark them interrupted with their text kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kiestudio.chat.hub import Event, get_hub
from kiestudio.chat.markdown import render_markdown, split_committed
from kiestudio.chat.models import Message
from kiestudio.chat.selectors import thread_path
from kiestudio.core.db import outside_request
from kiestudio.core.kie import kie_client
from kiestudio.kie import AsyncKieClient, image_block, openai_image_part, responses_image_part, responses_text_part
from kiestudio.kie import errors as kie_errors
from kiestudio.kie.catalog.chat import ChatModelSpec, get_chat_model
from kiestudio.kie.types import ChatEventKind
from kiestudio.studio.services import reference_kie_url
from kiestudio.workspaces.models import UsageEntry
from kiestudio.workspaces.services import usage_record, workspace_kie_key

log = logging.getLogger("kiestudio.chat")

K = ChatEventKind
Status = Message.Status
#: This process, as written on the replies it runs: host, pid and a boot id (pids are reused).
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
RUNNERS: dict[int, Runner] = {}

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
INTERRUPTED_MESSAGE = "The server restarted while this reply was being written. The text so far is kept."


class ReplyError(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


def _pid_gone(runner_id: str) -> bool:
    """True when the runner's process was on this host and no longer exists."""
    host, _, rest = runner_id.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def runner_alive(message: Message) -> bool:
    """Whether some process is still writing this reply (used to spot replies cut off by a restart)."""
    if message.status != Status.STREAMING:
        return False
    if message.pk in RUNNERS:
        return True
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS)
    if not message.runner:
        # Sent but not yet claimed: a process is about to start it, or the one that should have has died.
        return message.created_at > stale
    if message.runner != RUNNER_ID and _pid_gone(message.runner):
        return False
    # Otherwise its heartbeat tells (this process too: a reply between its commit and its task's start).
    return bool(message.heartbeat_at and message.heartbeat_at > stale)


# --- Event loops ----------------------------------------------------------------------------------------------

_server_loop: asyncio.AbstractEventLoop | None = None
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def bind_loop() -> None:
    """Called by the ASGI entry point: replies run on the server's own event loop."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="chat-relay", daemon=True).start()
            _background = loop
        return _background


def _target_loop() -> asyncio.AbstractEventLoop:
    loop = _server_loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    return _background_loop()


def _call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    # An empty context: the runner must not inherit the request's thread-sensitive executor or other state.
    contextvars.Context().run(loop.call_soon_threadsafe, fn)


async def _db[T](fn: Callable[..., T], *args: Any) -> T:
    """Run ORM work on the default executor (never the request's thread: the runner outlives the request)."""
    # Off the server (tests, commands) nothing recycles the executor's connections, so each call closes its own.
    call = outside_request(fn, close=asyncio.get_running_loop() is _background)
    return await sync_to_async(call, thread_sensitive=False)(*args)


# --- Kie clients, one per event loop and key --------------------------------------------------------------------

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], AsyncKieClient]] = (
    weakref.WeakKeyDictionary()
)


def _client(api_key: str) -> AsyncKieClient:
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    key = (api_key, settings.KIE_BASE_URL, settings.KIE_CHAT_READ_TIMEOUT)
    client = per_loop.get(key)
    if client is None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        client = AsyncKieClient(
            api_key,
            base_url=settings.KIE_BASE_URL,
            upload_base_url=settings.KIE_UPLOAD_BASE_URL,
            timeout=settings.KIE_TIMEOUT,
            chat_timeout=httpx.Timeout(settings.KIE_TIMEOUT, read=settings.KIE_CHAT_READ_TIMEOUT),
            retries=1,  # one quick retry when Kie provably did nothing (429, 5xx); then the error shows
            transport=httpx.AsyncHTTPTransport(limits=limits),
        )
        per_loop[key] = client
    return client


# --- Building the upstream request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamPlan:
    spec: ChatModelSpec
    api_key: str
    messages: list[dict[str, Any]]
    system: str
    thinking: bool


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


def _upstream_messages(path: list[Message], spec: ChatModelSpec) -> list[dict[str, Any]]:
    """The thread in the model's wire format. Empty or failed replies are left out; same-role turns merge."""
    turns: list[dict[str, Any]] = []
    for message in path:
        blocks: list[dict[str, Any]] = []
        if message.role == Message.Role.USER:
            urls = _image_urls(message) if message.image_ids else {}
            for block in message.content:
                if block.get("type") == "image" and block.get("reference") in urls:
                    blocks.append(_image_part(spec, urls[block["reference"]]))
                elif block.get("type") == "text" and block.get("text"):
                    blocks.append({"type": "text", "text": block["text"]})
        elif message.text:
            blocks.append({"type": "text", "text": message.text})
        if not blocks:
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": str(message.role), "content": blocks})
    for turn in turns:
        blocks = turn["content"]
        if spec.api == "responses":
            # Kie documents Responses content as a list of parts; OpenAI takes the model's own turns as output_text.
            turn["content"] = [
                responses_text_part(b["text"], role=turn["role"]) if b.get("type") == "text" else b for b in blocks
            ]
        elif all(b.get("type") == "text" for b in blocks):  # plain strings where there is only text: widely accepted
            turn["content"] = "\n\n".join(b["text"] for b in blocks)
    return turns


def prepare(*, conversation, path: list[Message], spec: ChatModelSpec, thinking: bool) -> UpstreamPlan | None:
    """The upstream request for a reply about to be created, built while the send still holds the thread in
    memory: the reply then starts upstream without a database round trip. None when an image in the thread must
    first be uploaded to Kie (slow: the runner does that in its own thread)."""
    if any(m.image_ids for m in path if m.role == Message.Role.USER):
        return None
    return UpstreamPlan(
        spec=spec,
        api_key=workspace_kie_key(conversation.workspace),
        messages=_upstream_messages(path, spec),
        system=conversation.system_prompt,
        thinking=thinking,
    )


def _claim(message_id: int) -> UpstreamPlan | None:

    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner="").update(
        runner=RUNNER_ID, heartbeat_at=now, started_at=now
    )
    if not claimed:
        return None
    message = Message.objects.select_related("conversation", "parent").get(pk=message_id)
    conversation = message.conversation
    spec = get_chat_model(message.model_key or conversation.model_key)
    return UpstreamPlan(
        spec=spec,
        api_key=workspace_kie_key(conversation.workspace_id),
        messages=_upstream_messages(thread_path(message.parent), spec),
        system=conversation.system_prompt,
        thinking=message.thinking_requested,
    )


def _stream(plan: UpstreamPlan):
    client = _client(plan.api_key)
    options = plan.spec.request_options(thinking=plan.thinking)
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


# --- Saving ---------------------------------------------------------------------------------------------------


def _blocks(text: str, thinking: str) -> list[dict[str, str]]:
    blocks = [{"type": "thinking", "thinking": thinking}] if thinking else []
    return [*blocks, {"type": "text", "text": text}]


@dataclass
class Snapshot:
    message_id: int
    content: list[dict[str, str]]
    seq: int
    input_tokens: int
    output_tokens: int


def _flush(snapshots: list[Snapshot], live_ids: list[int]) -> list[int]:
    """Save partial replies and heartbeats in one transaction; return the ids with a stop requested."""
    now = timezone.now()
    with transaction.atomic():
        for snap in snapshots:
            Message.objects.filter(pk=snap.message_id, status=Status.STREAMING, runner=RUNNER_ID).update(
                content=snap.content,
                stream_seq=snap.seq,
                input_tokens=snap.input_tokens,
                output_tokens=snap.output_tokens,
                heartbeat_at=now,
            )
        Message.objects.filter(pk__in=live_ids, status=Status.STREAMING, runner=RUNNER_ID).update(heartbeat_at=now)
    return list(Message.objects.filter(pk__in=live_ids, stop_requested=True).values_list("pk", flat=True))


def _save_final(message_id: int, fields: dict[str, Any]) -> bool:
    with transaction.atomic():
        saved = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner=RUNNER_ID).update(
            completed_at=timezone.now(), heartbeat_at=None, **fields
        )
        if saved:
            _charge(message_id)
    return bool(saved)


def _charge(message_id: int) -> None:
    """The reply's cost goes into the workspace's ledger (once, whatever the outcome: Kie charged the tokens)."""
    row = (
        Message.objects.filter(pk=message_id)
        .values("workspace_id", "created_by_id", "model_key", "credits", "credits_estimated")
        .first()
    )
    if row and row["credits"] is not None:
        usage_record(
            workspace_id=row["workspace_id"],
            user_id=row["created_by_id"],
            kind=UsageEntry.Kind.CHAT,
            model_key=row["model_key"],
            credits=row["credits"],
            source=f"message:{message_id}",
            estimated=row["credits_estimated"],
        )


def finish_orphan(*, message_id: int, status: str) -> bool:
    """End a reply whose runner is gone (or never started), keeping the text it saved."""
    message = Message.objects.filter(pk=message_id, status=Status.STREAMING).first()
    if message is None:
        return False
    fields: dict[str, Any] = {"status": status, "completed_at": timezone.now(), "heartbeat_at": None}
    if status == Status.INTERRUPTED:
        fields.update(error_class="interrupted", error_message=INTERRUPTED_MESSAGE)
    if message.credits is None:
        input_tokens, output_tokens = _orphan_tokens(message)
        if input_tokens or output_tokens:
            fields.update(input_tokens=input_tokens, output_tokens=output_tokens, credits_estimated=True)
            fields.update(credits=_estimate(message.model_key, input_tokens, output_tokens))
    with transaction.atomic():
        live = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner=message.runner)
        done = bool(live.update(**fields))
        if done:
            _charge(message_id)  # Kie charged for what it wrote before the reply was cut off
    if done:
        _publish_done_from_sync(message_id, status, message.stream_seq + 1)
    return done


def _estimate(model_key: str, input_tokens: int, output_tokens: int) -> Decimal:
    return get_chat_model(model_key).estimate_credits(input_tokens, output_tokens)


# When a reply ends before Kie's final count arrives (a stop, a failure, a restart), Kie has still charged for what
# it read and wrote. The tokens are then estimated: a common rule of thumb for text, and a typical image.
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1000


def tokens_in(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def prompt_tokens(messages: list[dict[str, Any]], system: str = "") -> int:
    """An estimate of the input tokens of an upstream request (in any of the three wire formats)."""
    total = tokens_in(system)
    for turn in messages:
        content = turn.get("content")
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                total += tokens_in(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                total += tokens_in(part["text"])
            else:
                total += IMAGE_TOKENS
    return total


def _orphan_tokens(message: Message) -> tuple[int, int]:
    """Tokens of a reply whose runner is gone: what it saved, or an estimate from its thread and its saved text."""

    streamed = tokens_in(message.text + message.thinking_text)
    input_tokens = message.input_tokens
    if not input_tokens and streamed and message.parent_id is not None:
        path = thread_path(Message.objects.get(pk=message.parent_id))
        input_tokens = prompt_tokens(_text_only(path), message.conversation.system_prompt)
    return input_tokens, max(message.output_tokens, streamed)


def _text_only(path: list[Message]) -> list[dict[str, Any]]:
    """The thread as the upstream request had it, images counted but not uploaded again."""
    turns = []
    for message in path:
        images = [{"type": "image"} for _ in message.image_ids] if message.role == Message.Role.USER else []
        if message.text or images:
            turns.append({"role": str(message.role), "content": [*images, {"type": "text", "text": message.text}]})
    return turns


def _publish_done_from_sync(message_id: int, status: str, seq: int) -> None:
    """Readers of an orphaned reply in this process learn it ended (others see it in the database)."""
    hub = _hub()
    event = Event(seq, "done", json.dumps({"status": status}))
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(hub.publish(message_id, event), _target_loop()).result(timeout=5)


# --- The runner -----------------------------------------------------------------------------------------------


class Runner:
    """Streams one reply from Kie into the hub and the database."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.hub = _hub()
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
        self.started = time.monotonic()
        self.first_token_at: datetime | None = None
        self.claimed = False
        self.dirty = False
        self.stop_requested = False
        self.task: asyncio.Task[None] | None = None
        self.requested = asyncio.Event()  # Kie has answered the request (or the run ended)

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

    def snapshot(self) -> Snapshot:
        self.dirty = False
        return Snapshot(
            self.message_id, _blocks(self.text, self.thinking), self.seq, self.input_tokens, self.output_tokens
        )

    # -- the run -----------------------------------------------------------------------------------------

    async def run(self, plan: UpstreamPlan | None = None) -> None:
        fields: dict[str, Any] = {}
        try:
            if plan is None:  # not prepared by the send (images to upload): claim the row and build it here
                plan = await _db(_claim, self.message_id)
                if plan is None:
                    return  # another process runs it, or it already ended
            self.claimed = True
            self.plan, self.spec = plan, plan.spec
            await self.hub.ensure_listener()  # so stop requests from other processes reach this one
            fields = await self._stream(plan)
        except asyncio.CancelledError:
            if not self.claimed:
                raise
            fields = {"status": Status.STOPPED if self.stop_requested else Status.INTERRUPTED}
            if not self.stop_requested:
                fields.update(error_class="interrupted", error_message=INTERRUPTED_MESSAGE)
        except ReplyError as err:
            fields = {"status": Status.FAILED, "error_class": err.error_class, "error_message": err.message}
        except kie_errors.KieError as err:
            fields = self._failure(err.error_class, err.kie_message, fallback=err.user_message)
        except Exception:
            log.exception("chat reply %s failed", self.message_id)
            fields = self._failure("server_error")
        finally:
            self.requested.set()
            if self.claimed:
                # Shielded: a second cancellation (a process shutting down) must not lose the final save or ``done``.
                await asyncio.shield(self._finish(fields))
            RUNNERS.pop(self.message_id, None)

    def _failure(self, error_class: str, detail: str = "", *, fallback: str = "") -> dict[str, Any]:
        message = ERROR_MESSAGES.get(error_class) or fallback or ERROR_MESSAGES["upstream_error"]
        if detail and detail.rstrip(".") not in message:
            message = f"{message} Kie said: “{detail.rstrip('.')}”."
        if self.text:
            message += " The reply so far is kept."
        return {"status": Status.FAILED, "error_class": error_class, "error_message": message}

    async def _stream(self, plan: UpstreamPlan) -> dict[str, Any]:
        async with _stream(plan) as events:
            async for event in events:
                self.requested.set()
                match event.kind:
                    case K.TEXT_DELTA:
                        await self.on_text(event.text)
                    case K.THINKING_DELTA:
                        await self.on_thinking(event.text)
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
                        return self._failure(event.error_class or "upstream_error", event.error_message or "")
        return self._failure("upstream_error")

    def tokens(self) -> tuple[int, int]:
        """Kie's token counts. A reply cut short before Kie's final count (stopped, failed, interrupted) was still
        charged for what Kie read and wrote: then the counts are estimated from the request and the streamed text."""
        if self.usage_final or self.credits is not None or not (self.text or self.thinking):
            return self.input_tokens, self.output_tokens
        streamed = max(self.pieces, tokens_in(self.text + self.thinking))
        prompt = self.input_tokens or (prompt_tokens(self.plan.messages, self.plan.system) if self.plan else 0)
        return prompt, max(self.output_tokens, streamed)

    async def _finish(self, fields: dict[str, Any]) -> None:
        input_tokens, output_tokens = self.tokens()
        credits, estimated = self.credits, False
        if credits is None and (input_tokens or output_tokens):
            credits, estimated = float(self.spec.estimate_credits(input_tokens, output_tokens)), True
        fields = {
            **fields,
            "content": _blocks(self.text, self.thinking),
            "stream_seq": self.seq,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "credits": Decimal(str(credits)) if credits is not None else None,
            "credits_estimated": estimated,
            "stop_reason": self.stop_reason,
            "first_token_at": self.first_token_at,
        }
        try:
            await _db(_save_final, self.message_id, fields)
        except Exception:
            log.exception("chat reply %s could not be saved", self.message_id)
        with contextlib.suppress(Exception):
            await self.emit("done", {"status": str(fields["status"])})
        log.info(
            "chat reply ended",
            extra={"message_id": self.message_id, "status": str(fields["status"]), "chars": len(self.text)},
        )

    def stop(self) -> None:
        """Cancel once: a stop can arrive several ways at once (this process, the hub, the database flag)."""
        if self.stop_requested:
            return
        self.stop_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()


# --- Starting, stopping, flushing -------------------------------------------------------------------------------

_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()


async def _flusher() -> None:
    """Once a second: save live replies' text and heartbeats, and honour stops flagged in the database."""
    hub = _hub()
    while True:
        await asyncio.sleep(settings.CHAT_FLUSH_SECONDS)
        runners = [r for r in RUNNERS.values() if r.claimed and r.task is not None and not r.task.done()]
        if not runners:
            if not RUNNERS:
                return
            continue
        snapshots = [r.snapshot() for r in runners if r.dirty]
        try:
            stops = await _db(_flush, snapshots, [r.message_id for r in runners])
            await hub.announce_alive(RUNNER_ID)
        except Exception as exc:
            log.warning("chat flush failed (%s); retrying", type(exc).__name__)
            for runner in runners:
                runner.dirty = True
            continue
        for message_id in stops:
            if (stopping := RUNNERS.get(message_id)) is not None:
                stopping.stop()


def _ensure_flusher(loop: asyncio.AbstractEventLoop) -> None:
    task = _flushers.get(loop)
    if task is None or task.done():
        _flushers[loop] = loop.create_task(_flusher(), name="chat-flusher")


def _spawn(runner: Runner, plan: UpstreamPlan | None) -> None:
    """In the target loop: start the runner's task."""
    loop = asyncio.get_running_loop()
    runner.task = loop.create_task(runner.run(plan), name=f"chat-reply-{runner.message_id}")
    if runner.stop_requested:  # stopped before it even started
        runner.task.cancel()
    _ensure_flusher(loop)


def _hub():
    hub = get_hub()
    hub.stop_handler = _stop_local
    return hub


def reply_start(*, message_id: int, plan: UpstreamPlan | None = None) -> None:
    """Start writing a reply in this process. Safe from any thread; returns at once.

    With a ``plan`` the reply was claimed for this process when it was created (see ``prepare``)."""
    if message_id in RUNNERS:
        return
    _hub().open(message_id)
    runner = RUNNERS[message_id] = Runner(message_id)  # registered now: it counts as alive from this moment
    _call_in_loop(_target_loop(), lambda: _spawn(runner, plan))


async def wait_requested(message_id: int, timeout: float) -> None:
    """Give a reply just started here the first go at the CPU: wait (briefly) until Kie answered its request."""
    runner = RUNNERS.get(message_id)
    if runner is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.requested.wait(), timeout)


def _stop_local(message_id: int) -> None:
    runner = RUNNERS.get(message_id)
    if runner is None:
        return
    if runner.task is None:
        runner.stop_requested = True  # its task, about to start, is cancelled at once
        return
    loop = runner.task.get_loop()
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(runner.stop)


def reply_stop(*, message_id: int) -> None:
    """Stop a reply wherever it runs (this process directly; others through the hub or the database flag)."""
    _hub().request_stop(message_id)


def stop_background_loop(timeout: float = 10.0) -> None:
    """Finish the replies on the background loop and stop it (the end of a test session or a command)."""
    global _background
    with _background_lock:
        loop, _background = _background, None
    if loop is None or loop.is_closed():
        return

    async def close() -> None:
        await shutdown(timeout)
        await loop.shutdown_default_executor()

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout + 1)
    loop.call_soon_threadsafe(loop.stop)


async def shutdown(timeout: float = 5.0) -> None:
    """Process exit: every live reply here is saved as interrupted, with its text."""
    tasks = [r.task for r in RUNNERS.values() if r.task is not None and not r.task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
