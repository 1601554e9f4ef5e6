"""django-q2 tasks for chat: only the sweeper. Replies themselves run in the web process (see relay.py)."""

from __future__ import annotations

from kiestudio.chat import services


def chat_stale_replies_task() -> int:
    """Every minute: replies whose process died mid-stream are marked interrupted, with their text kept."""
    return services.stale_replies_sweep()
