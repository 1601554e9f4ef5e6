"""The reply's row while it is written: claimed by a process, saved as it goes, and saved once more at its end.

A reply is created by the send already streaming. The process that runs it writes its id on the row (``RUNNER_ID``:
at creation, or through ``claim``), the flusher saves its text, stream position and heartbeat once a second
(``flush``), and its runner saves the final state (``save_final``), charging its cost (``charges``) in the same
transaction. Every write here is conditional on the row still streaming under this process, so a reply ends once.
A reply whose process is gone is ended by whoever notices (``end_orphan``), with the text it saved.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiestudio.chat.charges import charge, estimate, orphan_tokens
from kiestudio.chat.models import Message

Status = Message.Status
#: This process, as written on the replies it runs: host, pid and a boot id (pids are reused).
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
INTERRUPTED_MESSAGE = "The server restarted while this reply was being written. The text so far is kept."


def content_blocks(text: str, thinking: str) -> list[dict[str, str]]:
    """A reply's content as saved: its thinking (if any), then its text."""
    blocks = [{"type": "thinking", "thinking": thinking}] if thinking else []
    return [*blocks, {"type": "text", "text": text}]


@dataclass
class Snapshot:
    message_id: int
    content: list[dict[str, str]]
    seq: int
    input_tokens: int
    output_tokens: int


def claim(message_id: int) -> Message | None:
    """Take a reply nobody runs yet for this process; None when another process has it, or it already ended."""
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner="").update(
        runner=RUNNER_ID, heartbeat_at=now, started_at=now
    )
    if not claimed:
        return None
    return Message.objects.select_related("conversation", "parent").get(pk=message_id)


def flush(snapshots: list[Snapshot], live_ids: list[int]) -> list[int]:
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


def save_final(message_id: int, fields: dict[str, Any]) -> bool:
    with transaction.atomic():
        saved = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner=RUNNER_ID).update(
            completed_at=timezone.now(), heartbeat_at=None, **fields
        )
        if saved:
            charge(message_id)
    return bool(saved)


def end_orphan(*, message_id: int, status: str) -> int | None:
    """End a reply whose runner is gone (or never started), keeping the text it saved. Returns the number of its
    ``done`` event when it was ended here, None when it had already ended."""
    message = Message.objects.filter(pk=message_id, status=Status.STREAMING).first()
    if message is None:
        return None
    fields: dict[str, Any] = {"status": status, "completed_at": timezone.now(), "heartbeat_at": None}
    if status == Status.INTERRUPTED:
        fields.update(error_class="interrupted", error_message=INTERRUPTED_MESSAGE)
    if message.credits is None:
        input_tokens, output_tokens = orphan_tokens(message)
        if input_tokens or output_tokens:
            fields.update(input_tokens=input_tokens, output_tokens=output_tokens, credits_estimated=True)
            fields.update(credits=estimate(message.model_key, input_tokens, output_tokens))
    with transaction.atomic():
        live = Message.objects.filter(pk=message_id, status=Status.STREAMING, runner=message.runner)
        done = bool(live.update(**fields))
        if done:
            charge(message_id)  # Kie charged for what it wrote before the reply was cut off
    return message.stream_seq + 1 if done else None
