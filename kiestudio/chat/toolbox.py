"""Tools a chat model may call, provided by a feature above chat (the studio's agent, ``kiestudio.agent``).

Chat knows how tool calls travel: their definitions go out with the request (``upstream``), the calls a reply
makes are collected from Kie's stream and saved as ``tool_use`` blocks of the reply (``live_reply``), and their
results come back as a ``tool_result`` message that the next reply answers (``services.conversation_continue``).
What the tools are, what a call does and who may approve it belong to the provider, registered here at start-up
(the same way features register their files with ``workspaces.files``):

- ``definitions(conversation)``: the tools offered in that conversation, each ``{"name", "description",
  "input_schema"}`` (a JSON Schema), in no particular wire format; ``upstream`` writes them in the model's.
- ``reply_ended(message_id)``: a reply that called tools has been saved (called in a worker thread, once per
  reply, after its final save and before its ``done`` event).
- ``cards(message, request, live)``: the HTML shown under a reply for its calls (their cards), or "". ``live``
  when it replaces a reply that just ended on the page (not in a whole page or thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from kiestudio.chat.models import Conversation, Message


class Toolbox(Protocol):
    def definitions(self, conversation: Conversation) -> list[dict[str, Any]]: ...

    def reply_ended(self, message_id: int) -> None: ...

    def cards(self, message: Message, request: HttpRequest | None, live: bool) -> str: ...


_toolbox: Toolbox | None = None


def register(toolbox: Toolbox | None) -> Toolbox | None:
    """Install the provider (None removes it); returns the one it replaces."""
    global _toolbox
    previous, _toolbox = _toolbox, toolbox
    return previous


def definitions(conversation: Conversation) -> list[dict[str, Any]]:
    if _toolbox is None or not conversation.studio_tools:
        return []
    return _toolbox.definitions(conversation)


def reply_ended(message_id: int) -> None:
    if _toolbox is not None:
        _toolbox.reply_ended(message_id)


def cards(message: Message, request: HttpRequest | None, *, live: bool = False) -> str:
    if _toolbox is None or not message.tool_uses:
        return ""
    return _toolbox.cards(message, request, live)
