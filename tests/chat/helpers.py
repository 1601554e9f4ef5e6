from __future__ import annotations

import time
import uuid

from kiestudio.chat import services
from kiestudio.chat.models import Conversation, Message
from tests.studio.helpers import workspace_of


def conversation_for(user, **fields) -> Conversation:
    return services.conversation_create(workspace=workspace_of(user), user=user, **fields)


def send(conversation: Conversation, text: str, *, user=None, **kwargs) -> Message:
    return services.message_send(
        conversation=conversation, user=user or conversation.owner, text=text, token=uuid.uuid4(), **kwargs
    )


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("Timed out waiting")
        time.sleep(interval)


def wait_until_done(message: Message, timeout: float = 15.0) -> Message:
    """Wait for a reply to leave ``streaming``; returns it fresh from the database."""

    def done():
        fresh = Message.objects.get(pk=message.pk)
        return fresh if fresh.status != Message.Status.STREAMING else None

    return wait_for(done, timeout)


def session_cookies(client, user) -> dict[str, str]:
    """Cookies of a signed-in session, for talking to a live server with httpx."""
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def read_events(response, *, until: str = "done", limit: int | None = None):
    """``(arrival time, SSEMessage)`` for each event of a live SSE response, up to ``until`` or ``limit`` events."""
    from kiestudio.kie.sse import iter_sse

    if not hasattr(response, "_sse_events"):  # one decoder per response, so it can be read in several goes
        response._sse_events = iter_sse(response.iter_raw())
    events = []
    for message in response._sse_events:
        events.append((time.monotonic(), message))
        if message.event == until or (limit is not None and len(events) >= limit):
            break
    return events


def png_bytes(width: int = 64, height: int = 48, color: str = "purple") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def reference_for(user, width: int = 64):
    """An uploaded reference image in the user's first workspace (checked by content, like any upload)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kiestudio.uploads.services import reference_create

    upload = SimpleUploadedFile("x.png", png_bytes(width), content_type="image/png")
    return reference_create(workspace=workspace_of(user), user=user, upload=upload)
