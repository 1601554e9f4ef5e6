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
