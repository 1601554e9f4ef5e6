"""Chat reads: which conversations a member sees, the message tree and the branch on screen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from kiestudio.chat.models import Conversation, Message
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import Membership, Workspace


@dataclass(frozen=True)
class ThreadItem:
    """A message on the visible branch, with its place among its siblings (other versions)."""

    message: Message
    version: int
    versions: int
    previous_id: int | None
    next_id: int | None


def conversations_visible(*, workspace: Workspace, user) -> QuerySet[Conversation]:
    """The user's own conversations and the ones others shared with the workspace."""
    return Conversation.objects.filter(Q(owner=user) | Q(is_shared=True), workspace=workspace)


def message_readable(*, message_id: int, user) -> bool:
    """Whether ``user`` may still read this message: a member of its workspace, in a conversation of their own or
    one shared with the workspace (open streams re-check it, so a member removed meanwhile stops receiving)."""
    visible = Q(conversation__owner_id=user.pk) | Q(conversation__is_shared=True)
    in_workspace = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user_id=user.pk)
    return Message.objects.filter(visible, Exists(in_workspace), pk=message_id).exists()


def conversation_search(*, workspace: Workspace, user, query: str = "") -> QuerySet[Conversation]:
    conversations = conversations_visible(workspace=workspace, user=user).select_related("owner")
    query = " ".join(query.split())
    if query:
        in_messages = Message.objects.filter(workspace=workspace, content__icontains=query).values("conversation_id")
        conversations = conversations.filter(Q(title__icontains=query) | Q(pk__in=in_messages))
    return conversations.order_by(F("pinned_at").desc(nulls_last=True), "-updated_at", "-pk")


def conversation_usage(*, conversation: Conversation) -> dict[str, object]:
    totals = conversation.messages.filter(role=Message.Role.ASSISTANT).aggregate(
        credits=Sum("credits"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        replies=Count("pk"),
    )
    usage: dict[str, Any] = {key: value or 0 for key, value in totals.items()}
    if conversation.title_asked_at is not None:  # the title a model wrote was charged too
        title = UsageEntry.objects.filter(source=title_source(conversation.pk)).values_list("credits", flat=True)
        usage["credits"] += sum(title)
    return usage


# --- The title a model writes ---------------------------------------------------------------------------------

TITLE_WAIT = timedelta(seconds=30)  # how long after the model was asked a page still expects its title


def title_source(conversation_id: int) -> str:
    """The ledger's name for the charge of a conversation's title."""
    return f"title:{conversation_id}"


def _titles_on(conversation: Conversation, workspace: Workspace) -> bool:
    return bool(
        settings.CHAT_AI_TITLES
        and workspace.chat_ai_titles
        and conversation.title_source == Conversation.TitleSource.AUTO
    )


def title_pending(*, conversation: Conversation, workspace: Workspace) -> bool:
    """A model will name this conversation after its first reply, or is naming it now (``workspace`` is its own):
    the chat page looks at the title again shortly after a reply."""
    asked = conversation.title_asked_at
    return _titles_on(conversation, workspace) and (asked is None or asked > timezone.now() - TITLE_WAIT)


def title_due(*, reply_id: int) -> int | None:
    """The conversation to name after this reply, if any: the reply is the conversation's first to complete, the
    title is still the automatic one, no model was asked yet and the workspace wants it."""
    if not settings.CHAT_AI_TITLES:
        return None
    reply = (
        Message.objects.filter(pk=reply_id, role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE)
        .select_related("conversation__workspace")
        .first()
    )
    if reply is None:
        return None
    conversation = reply.conversation
    if not _titles_on(conversation, conversation.workspace) or conversation.title_asked_at is not None:
        return None
    others = conversation.messages.filter(role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE)
    return None if others.exclude(pk=reply_id).exists() else conversation.pk


# --- The message tree ---------------------------------------------------------------------------------------


# What building an upstream request reads of each earlier message.
UPSTREAM_FIELDS = ("pk", "workspace_id", "conversation_id", "parent_id", "role", "content", "status")


@dataclass(frozen=True)
class _Node:
    pk: int
    parent_id: int | None
    request_key: uuid.UUID
    streaming: bool


class Tree:
    """A conversation's message tree, as a light skeleton (ids and links, one query). Full rows are loaded only
    for the branch that is needed, so a long conversation costs little to send to or to open."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        rows = Message.objects.filter(conversation=conversation).order_by("created_at", "pk")
        self.nodes: dict[int, _Node] = {}
        self.children: dict[int | None, list[int]] = {}
        for pk, parent_id, key, status in rows.values_list("pk", "parent_id", "request_key", "status"):
            self.nodes[pk] = _Node(pk, parent_id, key, status == Message.Status.STREAMING)
            self.children.setdefault(parent_id, []).append(pk)

    def find(self, request_key: uuid.UUID) -> Message | None:
        pk = next((n.pk for n in self.nodes.values() if n.request_key == request_key), None)
        return Message.objects.get(pk=pk) if pk is not None else None

    def streaming_ids(self) -> list[int]:
        """Replies recorded as still being written (their process may be gone: see ``message_check_alive``)."""
        return [n.pk for n in self.nodes.values() if n.streaming]

    def latest_leaf(self, pk: int) -> int:
        while self.children.get(pk):
            pk = self.children[pk][-1]
        return pk

    def branch(self, pk: int | None) -> list[int]:
        """Ids from the root down to ``pk`` (inclusive)."""
        ids: list[int] = []
        while pk is not None and pk in self.nodes:
            ids.append(pk)
            pk = self.nodes[pk].parent_id
        return ids[::-1]

    def messages(self, ids: list[int], *, for_display: bool = True) -> list[Message]:
        """Full rows of ``ids``, in that order (for a send, only what the upstream request needs)."""
        rows = Message.objects.select_related("created_by") if for_display else Message.objects.only(*UPSTREAM_FIELDS)
        found = rows.in_bulk(ids)
        return [found[pk] for pk in ids if pk in found]

    def item(self, message: Message) -> ThreadItem:
        siblings = self.children.get(message.parent_id, [message.pk])
        index = siblings.index(message.pk)
        return ThreadItem(
            message=message,
            version=index + 1,
            versions=len(siblings),
            previous_id=siblings[index - 1] if index > 0 else None,
            next_id=siblings[index + 1] if index + 1 < len(siblings) else None,
        )


def thread_path(message: Message | None) -> list[Message]:
    """The messages from the root down to ``message`` (inclusive)."""
    if message is None:
        return []
    tree = Tree(message.conversation)
    return tree.messages(tree.branch(message.pk))


def thread_for(*, conversation: Conversation) -> list[ThreadItem]:
    """The branch on screen, each message with its versions (siblings made by regenerate or edit)."""
    tree = Tree(conversation)
    if not tree.nodes:
        return []
    leaf = conversation.current_leaf_id
    if leaf not in tree.nodes:
        leaf = tree.latest_leaf(tree.children[None][-1])
    return [tree.item(message) for message in tree.messages(tree.branch(leaf))]


def thread_item(*, message: Message) -> ThreadItem:
    """One message with its place among its versions (for re-rendering a single message)."""
    siblings = list(
        Message.objects.filter(conversation_id=message.conversation_id, parent_id=message.parent_id)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    index = siblings.index(message.pk)
    return ThreadItem(
        message=message,
        version=index + 1,
        versions=len(siblings),
        previous_id=siblings[index - 1] if index > 0 else None,
        next_id=siblings[index + 1] if index + 1 < len(siblings) else None,
    )
