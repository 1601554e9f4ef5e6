"""What a reply costs: its tokens and credits, and its entry in the workspace's ledger.

The last step in the life of a reply. Kie reports the tokens and credits of a reply that runs to its end; one cut
short (stopped, failed, or interrupted by a restart) was still charged for what Kie read and wrote, so its tokens
are estimated here from the request and the text saved so far. When the reply's final state is saved
(``recording``), ``charge`` writes its cost into the usage ledger, in the same transaction, once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kiestudio.chat.models import Message
from kiestudio.chat.selectors import thread_path, title_source
from kiestudio.kie.catalog.chat import get_chat_model
from kiestudio.usage.models import UsageEntry
from kiestudio.usage.services import usage_record

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


def orphan_tokens(message: Message) -> tuple[int, int]:
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


def estimate(model_key: str, input_tokens: int, output_tokens: int) -> Decimal:
    return get_chat_model(model_key).estimate_credits(input_tokens, output_tokens)


def charge(message_id: int) -> None:
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


def charge_title(
    *, conversation_id: int, workspace_id: int, user_id: int | None, model_key: str, credits: Decimal, estimated: bool
) -> None:
    """A conversation's title, written by a model, goes into the ledger like a reply: once per conversation, in the
    name of whoever started it."""
    usage_record(
        workspace_id=workspace_id,
        user_id=user_id,
        kind=UsageEntry.Kind.CHAT,
        model_key=model_key,
        credits=credits,
        source=title_source(conversation_id),
        estimated=estimated,
    )
