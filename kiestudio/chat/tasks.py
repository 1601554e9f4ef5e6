"""django-q2 tasks for chat: the sweeper and a conversation's title. Replies themselves run in the web process (see
relay.py)."""

from __future__ import annotations

from kiestudio.chat import services


def chat_stale_replies_task() -> int:
    """Every minute: replies whose process died mid-stream are marked interrupted, with their text kept."""
    return services.stale_replies_sweep()


def conversation_title_task(conversation_id: int, reply_id: int) -> bool:
    """After a conversation's first reply: the cheapest chat model names it (once; see the service)."""
    return services.conversation_title_write(conversation_id=conversation_id, reply_id=reply_id)
