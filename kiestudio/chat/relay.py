"""Live replies: each one runs as an asyncio task in a web process, detached from any browser.

1. The send builds the upstream request while it holds the thread in memory (``upstream.prepare``) and creates
   the reply already claimed by this process. After commit, ``reply_start`` registers a :class:`Runner` and
   schedules it on the web process's event loop (``loops``; a background loop thread where there is none: tests,
   commands). A reply with images to upload is left unclaimed: its runner claims it with a conditional UPDATE
   (``recording.claim``) and builds the request in a thread of its own.
2. The runner streams the reply from Kie (``upstream.open_stream``) and publishes numbered events to the hub
   (``live_reply``), where any number of readers follow it.
3. One flusher per process saves every live reply's text, stream position and heartbeat once a second, in one
   transaction (``recording.flush``), and picks up stop requests flagged in the database by other processes.
4. At the end the runner saves the final state and charges the reply (``recording``, ``charges``), then
   publishes ``done``.

Stop cancels the runner's task: the upstream request closes at once and the text so far is saved as stopped.
A process that shuts down cancels its runners, which saves them as interrupted; a process killed outright
leaves replies whose heartbeat goes stale, and readers then mark them interrupted with their text kept.

This module is what the rest of the app calls: ``reply_start``, ``reply_stop``, ``runner_alive``,
``finish_orphan``, and ``bind_loop`` and ``shutdown`` for the ASGI entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import weakref
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kiestudio.chat import toolbox
from kiestudio.chat.hub import Event, LocalHub, get_hub
from kiestudio.chat.live_reply import LiveReply
from kiestudio.chat.loops import bind_loop as bind_loop
from kiestudio.chat.loops import call_in_loop, db_call, take_background_loop, target_loop
from kiestudio.chat.models import Message
from kiestudio.chat.recording import INTERRUPTED_MESSAGE, RUNNER_ID, claim, end_orphan, flush, save_final
from kiestudio.chat.selectors import title_due
from kiestudio.chat.upstream import ReplyError, UpstreamPlan, plan_for

# Looked up here by each runner, so a test can watch the requests that go upstream by patching ``relay._stream``.
from kiestudio.chat.upstream import open_stream as _stream

# Reached through this module by the tests.
from kiestudio.chat.upstream import upstream_messages as _upstream_messages  # noqa: F401
from kiestudio.kie import errors as kie_errors
from kiestudio.kie.catalog.chat import get_chat_model as get_chat_model

log = logging.getLogger("kiestudio.chat")

Status = Message.Status
RUNNERS: dict[int, Runner] = {}


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


def _claim(message_id: int) -> UpstreamPlan | None:
    """Claim a reply nobody runs yet and build its request (uploading its images to Kie); in a worker thread."""
    message = claim(message_id)
    return plan_for(message) if message is not None else None


# --- The runner -----------------------------------------------------------------------------------------------


class Runner(LiveReply):
    """Streams one reply from Kie into the hub and the database."""

    def __init__(self, message_id: int) -> None:
        super().__init__(message_id, _hub())
        self.started = time.monotonic()
        self.claimed = False
        self.stop_requested = False
        self.task: asyncio.Task[None] | None = None

    async def run(self, plan: UpstreamPlan | None = None) -> None:
        fields: dict[str, Any] = {}
        try:
            if plan is None:  # not prepared by the send (images to upload): claim the row and build it here
                plan = await db_call(_claim, self.message_id)
                if plan is None:
                    return  # another process runs it, or it already ended
            self.claimed = True
            self.plan = plan
            await self.hub.ensure_listener()  # so stop requests from other processes reach this one
            async with _stream(plan) as events:
                fields = await self.consume(events)
        except asyncio.CancelledError:
            if not self.claimed:
                raise
            fields = {"status": Status.STOPPED if self.stop_requested else Status.INTERRUPTED}
            if not self.stop_requested:
                fields.update(error_class="interrupted", error_message=INTERRUPTED_MESSAGE)
        except ReplyError as err:
            fields = {"status": Status.FAILED, "error_class": err.error_class, "error_message": err.message}
        except kie_errors.KieError as err:
            fields = self.failure(err.error_class, err.kie_message, fallback=err.user_message)
        except Exception:
            log.exception("chat reply %s failed", self.message_id)
            fields = self.failure("server_error")
        finally:
            self.requested.set()
            if self.claimed:
                # Shielded: a second cancellation (a process shutting down) must not lose the final save or ``done``.
                await asyncio.shield(self._finish(fields))
            RUNNERS.pop(self.message_id, None)

    async def _finish(self, fields: dict[str, Any]) -> None:
        fields = self.final_fields(fields)
        try:
            await db_call(_save_and_open_calls, self.message_id, fields)
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


def _save_and_open_calls(message_id: int, fields: dict[str, Any]) -> bool:
    """The reply's final state and, for a reply that called tools, their cards (``toolbox``), in one transaction:
    a page rendered in between never shows the finished reply without them. A toolbox that fails leaves the reply
    saved, with no cards."""
    with transaction.atomic():
        saved = save_final(message_id, fields)
        if saved and any(block.get("type") == "tool_use" for block in fields["content"]):
            try:
                with transaction.atomic():
                    toolbox.reply_ended(message_id)
            except Exception:
                log.exception("chat reply %s: its tool calls could not be handled", message_id)
        if saved and fields["status"] == Status.COMPLETE:
            transaction.on_commit(lambda: _title_later(message_id))
    return saved


def _title_later(message_id: int) -> None:
    """After a conversation's first reply, a worker asks a model for its title (``services.conversation_title_write``;
    the task takes ids and is safe to run twice)."""
    from django_q.tasks import async_task

    try:
        if (conversation_id := title_due(reply_id=message_id)) is not None:
            async_task("kiestudio.chat.tasks.conversation_title_task", conversation_id, message_id, group="chat")
    except Exception:
        log.exception("chat reply %s: its conversation's title could not be asked for", message_id)


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
            stops = await db_call(flush, snapshots, [r.message_id for r in runners])
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


def _hub() -> LocalHub:
    hub = get_hub()
    hub.stop_handler = _stop_local
    return hub


def reply_start(*, message_id: int, plan: UpstreamPlan | None = None) -> None:
    """Start writing a reply in this process. Safe from any thread; returns at once.

    With a ``plan`` the reply was claimed for this process when it was created (see ``upstream.prepare``)."""
    if message_id in RUNNERS:
        return
    _hub().open(message_id)
    runner = RUNNERS[message_id] = Runner(message_id)  # registered now: it counts as alive from this moment
    call_in_loop(target_loop(), lambda: _spawn(runner, plan))


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


def finish_orphan(*, message_id: int, status: str) -> bool:
    """End a reply whose runner is gone (or never started), keeping the text it saved."""
    seq = end_orphan(message_id=message_id, status=status)
    if seq is None:
        return False
    # Readers of it in this process learn it ended (others see it in the database).
    hub = _hub()
    event = Event(seq, "done", json.dumps({"status": status}))
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(hub.publish(message_id, event), target_loop()).result(timeout=5)
    return True


def stop_background_loop(timeout: float = 10.0) -> None:
    """Finish the replies on the background loop and stop it (the end of a test session or a command)."""
    loop = take_background_loop()
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
