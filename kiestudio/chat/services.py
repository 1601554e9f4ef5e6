"""Chat: conversations, the message tree, and the replies that spend credits.

A send writes the question and an empty reply (status ``streaming``) in one transaction; after commit,
``relay.reply_start`` runs the reply in the web process, detached from the browser. Everything here is plain
synchronous Django; the live part is in ``relay.py``.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from kiestudio.chat import charges, relay, selectors, upstream
from kiestudio.chat.models import Conversation, Message

# The reads live in selectors.py; views and tests still find them here (explicit re-exports).
from kiestudio.chat.selectors import Tree
from kiestudio.chat.selectors import conversation_search as conversation_search
from kiestudio.chat.selectors import conversation_usage as conversation_usage
from kiestudio.chat.selectors import conversations_visible as conversations_visible
from kiestudio.chat.selectors import message_readable as message_readable
from kiestudio.chat.selectors import thread_for as thread_for
from kiestudio.chat.selectors import thread_item as thread_item
from kiestudio.chat.selectors import thread_path as thread_path
from kiestudio.chat.selectors import title_pending as title_pending
from kiestudio.kie.catalog import UnknownModel
from kiestudio.kie.catalog.chat import ChatModelSpec, cheapest_chat_model, get_chat_model
from kiestudio.kie.errors import KieError
from kiestudio.uploads.models import Reference
from kiestudio.usage.services import BudgetExceeded, budget_check
from kiestudio.workspaces.audit import A, audit_record
from kiestudio.workspaces.models import Membership, Workspace
from kiestudio.workspaces.services import workspace_kie_key

REQUEST_NAMESPACE = uuid.UUID("0b7f3c52-6a55-4f4e-9a43-5d1c3f2a7e10")
MAX_MESSAGE_CHARS = 50_000
MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_ATTACHMENTS = 6
TITLE_CHARS = 60
TYPICAL_REPLY_TOKENS = 800

log = logging.getLogger("kiestudio.chat")


class ChatError(Exception):
    """A chat action was refused before anything was spent; the message is safe to show."""


# --- Conversations ------------------------------------------------------------------------------------------


def _chat_model(key: str | None) -> ChatModelSpec:
    try:
        return get_chat_model(key)
    except UnknownModel:
        raise ChatError(f"There is no chat model called “{key}”. Pick one from the list.") from None


def conversation_create(
    *,
    workspace: Workspace,
    user,
    model_key: str | None = None,
    system_prompt: str = "",
    thinking: bool = False,
    request_key: uuid.UUID | None = None,
    studio_tools: bool = False,
) -> Conversation:
    spec = _chat_model(model_key)
    conversation = Conversation(
        workspace=workspace,
        owner=user,
        model_key=spec.key,
        system_prompt=_system_prompt(system_prompt),
        thinking=thinking and spec.supports_thinking,
        request_key=request_key,
        studio_tools=studio_tools,
    )
    conversation.full_clean()
    conversation.save()
    return conversation


def conversation_start(
    *,
    workspace: Workspace,
    user,
    text: str,
    token: uuid.UUID | str,
    model_key: str | None = None,
    system_prompt: str = "",
    thinking: bool = False,
    attachments: list[int] | None = None,
    membership: Membership | None = None,
    studio_tools: bool = False,
) -> tuple[Conversation, Message]:
    """A new conversation and its first reply, in one transaction (nothing is kept if the message is refused).

    Idempotent per composer token, for this user in this workspace only: a resent POST finds the conversation it
    started. The same token from anyone else, or in another workspace, starts a conversation of their own."""
    key = uuid.uuid5(REQUEST_NAMESPACE, f"{token}:conversation")
    with transaction.atomic():
        conversation = Conversation.objects.filter(workspace=workspace, owner=user, request_key=key).first()
        if conversation is None:
            try:
                with transaction.atomic():
                    conversation = conversation_create(
                        workspace=workspace,
                        user=user,
                        model_key=model_key,
                        system_prompt=system_prompt,
                        thinking=thinking,
                        request_key=key,
                        studio_tools=studio_tools,
                    )
            except IntegrityError:  # the same click raced in twice: continue the first one's conversation
                conversation = Conversation.objects.get(workspace=workspace, owner=user, request_key=key)
        reply = message_send(
            conversation=conversation,
            user=user,
            text=text,
            token=token,
            attachments=attachments,
            membership=membership,
        )
    return conversation, reply


def _system_prompt(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_SYSTEM_PROMPT_CHARS:
        raise ChatError(f"The system prompt is {len(text):,} characters; the limit is {MAX_SYSTEM_PROMPT_CHARS:,}.")
    return text


def conversation_update(
    *,
    conversation: Conversation,
    title: str | None = None,
    system_prompt: str | None = None,
    model_key: str | None = None,
    thinking: bool | None = None,
    is_shared: bool | None = None,
    studio_tools: bool | None = None,
) -> Conversation:
    fields: list[str] = []
    if title is not None:
        clean = " ".join(title.split())
        if not clean:
            raise ChatError("Give the conversation a title.")
        if clean[:120] != conversation.title:  # the settings form sends the title with every change
            conversation.title = clean[:120]
            conversation.title_source = Conversation.TitleSource.USER
            fields += ["title", "title_source"]
    if system_prompt is not None:
        conversation.system_prompt = _system_prompt(system_prompt)
        fields.append("system_prompt")
    if model_key is not None:
        conversation.model_key = _chat_model(model_key).key
        fields.append("model_key")
    if thinking is not None:
        conversation.thinking = thinking and get_chat_model(conversation.model_key).supports_thinking
        fields.append("thinking")
    if is_shared is not None:
        conversation.is_shared = is_shared
        fields.append("is_shared")
    if studio_tools is not None:
        conversation.studio_tools = studio_tools
        fields.append("studio_tools")
    if fields:
        conversation.save(update_fields=fields)
    return conversation


def conversation_set_pinned(*, conversation: Conversation, pinned: bool) -> Conversation:
    conversation.pinned_at = timezone.now() if pinned else None
    conversation.save(update_fields=["pinned_at"])
    return conversation


def conversation_delete(*, conversation: Conversation, user=None) -> None:
    """Delete it and its messages; a reply still being written is stopped first (its upstream call closes)."""
    live = list(conversation.messages.filter(status=Message.Status.STREAMING).values_list("pk", flat=True))
    Message.objects.filter(pk__in=live).update(stop_requested=True)
    conversation.delete()
    audit_record(
        workspace=conversation.workspace, actor=user, action=A.CONVERSATION_DELETED, target=conversation.display_title
    )
    for message_id in live:
        relay.reply_stop(message_id=message_id)


def message_switch(*, conversation: Conversation, message: Message) -> None:
    """Show another version: the branch through ``message``, down to its most recent reply."""
    conversation.current_leaf_id = Tree(conversation).latest_leaf(message.pk)
    conversation.save(update_fields=["current_leaf"])


# --- Sending and replies ------------------------------------------------------------------------------------


def _keys(token: uuid.UUID | str) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid.uuid5(REQUEST_NAMESPACE, f"{token}:user"), uuid.uuid5(REQUEST_NAMESPACE, f"{token}:assistant")


def _raced(conversation: Conversation, reply_key: uuid.UUID) -> Message:
    """The reply of the same click that got in first: looked up in this conversation only (a request key is
    unique per conversation, so a token replayed in another conversation or workspace never lands here)."""
    return Message.objects.get(workspace_id=conversation.workspace_id, conversation=conversation, request_key=reply_key)


def _attachments(workspace_id: int, ids: list[int], spec: ChatModelSpec) -> list[dict[str, object]]:
    if not ids:
        return []
    if not spec.vision:
        raise ChatError(f"{spec.name} can't read images. Pick a model that can, or remove the attachment.")
    if len(ids) > MAX_ATTACHMENTS:
        raise ChatError(f"Attach at most {MAX_ATTACHMENTS} images to one message.")
    found = {r.pk: r for r in Reference.objects.filter(workspace_id=workspace_id, pk__in=ids, kind="image")}
    if len(found) != len(set(ids)):
        raise ChatError("An attached image is no longer available. Remove it and attach it again.")
    return [
        {"type": "image", "reference": pk, "width": found[pk].width, "height": found[pk].height}
        for pk in dict.fromkeys(ids)
    ]


def _reply(*, conversation: Conversation, user, path: list[Message], key: uuid.UUID, spec: ChatModelSpec) -> Message:
    """The reply to the last message of ``path``; it starts upstream once the transaction commits."""
    thinking = conversation.thinking and spec.supports_thinking
    plan = upstream.prepare(conversation=conversation, path=path, spec=spec, thinking=thinking)
    now = timezone.now()
    reply = Message.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        parent=path[-1],
        created_by=user,
        request_key=key,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model_key=spec.key,
        thinking_requested=thinking,
        # Prepared here, so claimed by this process from the start (see upstream.prepare).
        runner=relay.RUNNER_ID if plan else "",
        heartbeat_at=now if plan else None,
        started_at=now if plan else None,
    )
    transaction.on_commit(lambda: relay.reply_start(message_id=reply.pk, plan=plan))
    return reply


def _show(conversation: Conversation, reply: Message) -> Message:
    """Put the new reply's branch on screen. Done after the purchase commits, so the reply starts upstream
    without waiting for it (were it lost, the reply is still there, one version arrow away)."""
    conversation.current_leaf = reply
    conversation.updated_at = reply.created_at
    conversation.save(update_fields=["current_leaf", "updated_at", "title"])
    return reply


def _busy(tree: Tree) -> bool:
    """A reply is still being written (one whose process is gone is marked interrupted first)."""
    ids = tree.streaming_ids()
    live = [message_check_alive(message=m) for m in Message.objects.filter(pk__in=ids)] if ids else []
    return any(m.is_streaming for m in live)


BUSY = "A reply is still being written. Wait for it, or stop it, before sending another message."


def message_send(
    *,
    conversation: Conversation,
    user,
    text: str,
    token: uuid.UUID | str,
    attachments: list[int] | None = None,
    model_key: str | None = None,
    thinking: bool | None = None,
    replace: Message | None = None,
    membership: Membership | None = None,
    studio_tools: bool | None = None,
) -> Message:
    """Ask a question; returns the reply, which streams from now on. Idempotent per composer token.

    The question follows the branch on screen. ``replace`` edits a question instead: the new one becomes a
    sibling of it (the old branch is kept as a version).
    """
    user_key, reply_key = _keys(token)
    if membership is not None and membership.workspace_id == conversation.workspace_id:
        conversation.workspace = membership.workspace  # the same row, already loaded with the request
    tree = Tree(conversation)
    if (existing := tree.find(reply_key)) is not None:
        return existing
    text = (text or "").strip()
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatError(f"That message is {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}.")
    if (
        (model_key is not None and model_key != conversation.model_key)
        or (thinking is not None and thinking != conversation.thinking)
        or (studio_tools is not None and studio_tools != conversation.studio_tools)
    ):
        conversation_update(
            conversation=conversation, model_key=model_key, thinking=thinking, studio_tools=studio_tools
        )
    spec = _chat_model(conversation.model_key)
    images = _attachments(conversation.workspace_id, attachments or [], spec)
    if not text and not images:
        raise ChatError("Type a message first.")
    if _busy(tree):
        raise ChatError(BUSY)
    parent_id = replace.parent_id if replace is not None else conversation.current_leaf_id
    branch = tree.messages(tree.branch(parent_id), for_display=False)
    _check_budget(conversation, membership, spec, [*branch], text, len(images))
    if not conversation.title:
        conversation.title = _automatic_title(text)
    try:
        with transaction.atomic():
            question = Message.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                parent_id=parent_id,
                created_by=user,
                request_key=user_key,
                role=Message.Role.USER,
                content=[*images, *([{"type": "text", "text": text}] if text else [])],
                model_key=spec.key,
            )
            path = [*branch, question]
            reply = _reply(conversation=conversation, user=user, path=path, key=reply_key, spec=spec)
    except IntegrityError:
        # The same composer token raced in twice in this conversation: the first one's reply is the answer.
        return _raced(conversation, reply_key)
    return _show(conversation, reply)


def _automatic_title(text: str) -> str:
    """A conversation's title until a model or its owner names it: its first message, cut short."""
    return Truncator(" ".join(text.split()) or "Image question").chars(TITLE_CHARS)


def conversation_continue(*, reply: Message, results: list[dict], membership: Membership | None = None) -> Message:
    """Carry the results of ``reply``'s tool calls back to the model: a tool-results turn under the reply (written
    by the studio, not a person) and the model's next reply, which starts at once and comes on screen.

    Idempotent per reply: a second call finds the same rows. Refused (ChatError, nothing written) when the
    workspace's budget or the owner's cap can't cover another reply."""
    conversation = Conversation.objects.select_related("workspace").get(pk=reply.conversation_id)
    user_key, reply_key = _keys(f"tool-results:{reply.pk}")
    spec = _chat_model(reply.model_key or conversation.model_key)
    path = [*thread_path(reply)]
    if membership is None:
        membership = Membership.objects.filter(
            workspace_id=conversation.workspace_id, user_id=conversation.owner_id
        ).first()
    _check_budget(conversation, membership, spec, path)
    try:
        with transaction.atomic():
            turn = Message.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                parent=reply,
                created_by=None,
                request_key=user_key,
                role=Message.Role.USER,
                content=results,
                model_key=spec.key,
            )
            following = _reply(conversation=conversation, user=None, path=[*path, turn], key=reply_key, spec=spec)
    except IntegrityError:
        return _raced(conversation, reply_key)
    return _show(conversation, following)


def _check_budget(
    conversation: Conversation,
    membership: Membership | None,
    spec: ChatModelSpec,
    history: list[Message],
    text: str = "",
    images: int = 0,
) -> None:
    """Refuse a reply the workspace's budget or the member's cap can't cover. A reply's cost is only known at
    its end, so the check uses the model's price for the thread so far plus a typical answer."""
    if membership is None:
        return
    workspace = conversation.workspace
    if workspace.monthly_budget is None and membership.monthly_cap is None:
        return
    chars = len(conversation.system_prompt) + len(text) + sum(len(m.text) for m in history)
    input_tokens = chars // 4 + 1000 * (images + sum(len(m.image_ids) for m in history))
    try:
        budget_check(
            workspace=workspace,
            membership=membership,
            cost=spec.estimate_credits(input_tokens, TYPICAL_REPLY_TOKENS),
        )
    except BudgetExceeded as exc:
        raise ChatError(str(exc)) from None


# --- The title a model writes ---------------------------------------------------------------------------------

TITLE_SYSTEM = (
    "You name conversations. Reply with a title for the conversation above: at most 6 words, in the language of "
    "its first message, with no quotes, no trailing punctuation and nothing else."
)
TITLE_ASK = "Write the title of this conversation now."
TITLE_QUESTION_CHARS = 2000  # what the model reads of the first message
TITLE_REPLY_CHARS = 600  # and of the start of the reply
TITLE_WORDS = 6
TITLE_MAX_TOKENS = 40
TITLE_TYPICAL_INPUT_TOKENS = 400  # the size the cheapest model is chosen for
QUOTES = "\"'`“”‘’„«»‹›*_#"


def title_clean(text: str) -> str:
    """A model's answer as a title: its first line without quotes or a "Title:" label, at most ``TITLE_WORDS``
    words, no trailing punctuation, no longer than an automatic title. Empty when nothing is left."""
    line = next((line for line in text.splitlines() if line.strip(QUOTES + " \t")), "")
    line = re.sub(r"^\s*title\s*:\s*", "", line, flags=re.IGNORECASE)
    words = [word.strip(QUOTES) for word in line.replace('"', " ").split()]
    words = [word for word in words if word][:TITLE_WORDS]
    title = " ".join(words).rstrip(".,;:!?…-–— " + QUOTES)
    return Truncator(title).chars(TITLE_CHARS) if title else ""


def _title_plan(
    conversation: Conversation, question: Message, reply: Message, spec: ChatModelSpec
) -> upstream.UpstreamPlan:
    """The request for a title: the first question and the start of its reply, then the ask (text only)."""
    asked = question.text[:TITLE_QUESTION_CHARS] or "(A picture, without words.)"
    turns = [
        Message(role=Message.Role.USER, content=[{"type": "text", "text": asked}]),
        Message(role=Message.Role.ASSISTANT, content=[{"type": "text", "text": reply.text[:TITLE_REPLY_CHARS]}]),
        Message(role=Message.Role.USER, content=[{"type": "text", "text": TITLE_ASK}]),
    ]
    return upstream.UpstreamPlan(
        spec=spec,
        api_key=workspace_kie_key(conversation.workspace),
        messages=upstream.upstream_messages([m for m in turns if m.text], spec),
        system=TITLE_SYSTEM,
        thinking=False,
    )


def conversation_title_write(*, conversation_id: int, reply_id: int) -> bool:
    """Name a conversation after its first reply with the cheapest chat model: charged like a reply (budget and cap
    checked first, the cost in the ledger), asked at most once per conversation, and written only while the title
    is still the automatic one. A refusal or a failure keeps the automatic title. True when the title was written.
    """
    reply = Message.objects.select_related("conversation__workspace", "parent").filter(pk=reply_id).first()
    if reply is None or reply.conversation_id != conversation_id or reply.parent is None:
        return False
    conversation, question = reply.conversation, reply.parent
    workspace = conversation.workspace
    first = conversation.messages.filter(role=Message.Role.USER, parent=None).order_by("created_at", "pk").first()
    due = selectors.title_due(reply_id=reply_id) == conversation_id
    if not due or first is None or conversation.title != _automatic_title(first.text):
        return False  # turned off, renamed (or named before the studio kept track), not the first reply
    membership = Membership.objects.filter(workspace=workspace, user_id=conversation.owner_id).first()
    if membership is None:
        return False
    # Asked once, whatever happens next: a second run of the task (or a race) finds it taken and spends nothing.
    asked = Conversation.objects.filter(
        pk=conversation_id, title_source=Conversation.TitleSource.AUTO, title_asked_at__isnull=True
    ).update(title_asked_at=timezone.now())
    if not asked:
        return False
    spec = cheapest_chat_model(TITLE_TYPICAL_INPUT_TOKENS, TITLE_MAX_TOKENS)
    plan = _title_plan(conversation, question, reply, spec)
    prompt = charges.prompt_tokens(plan.messages, plan.system)
    try:
        budget_check(workspace=workspace, membership=membership, cost=spec.estimate_credits(prompt, TITLE_MAX_TOKENS))
        answer = upstream.ask_once(plan, max_tokens=TITLE_MAX_TOKENS)
    except (BudgetExceeded, KieError) as exc:
        log.info("conversation %s keeps its title (%s)", conversation_id, type(exc).__name__)
        return False
    input_tokens = answer.usage.input_tokens or prompt
    output_tokens = answer.usage.output_tokens or charges.tokens_in(answer.text)
    estimated = answer.credits_consumed is None
    credits = (
        spec.estimate_credits(input_tokens, output_tokens)
        if estimated
        else Decimal(str(answer.credits_consumed)).quantize(Decimal("0.0001"))
    )
    title = title_clean(answer.text)
    with transaction.atomic():
        charges.charge_title(
            conversation_id=conversation_id,
            workspace_id=workspace.pk,
            user_id=conversation.owner_id,
            model_key=spec.key,
            credits=credits,
            estimated=estimated,
        )
        written = bool(title) and Conversation.objects.filter(
            pk=conversation_id, title_source=Conversation.TitleSource.AUTO
        ).update(title=title, title_source=Conversation.TitleSource.MODEL)
    return bool(written)


def message_edit(
    *, message: Message, user, text: str, token: uuid.UUID | str, membership: Membership | None = None
) -> Message:
    """Resend an edited question. The original and its replies stay, as the previous version."""
    if message.role != Message.Role.USER:
        raise ChatError("Only your own messages can be edited.")
    return message_send(
        conversation=message.conversation,
        user=user,
        text=text,
        token=token,
        attachments=message.image_ids,
        replace=message,
        membership=membership,
    )


def message_regenerate(
    *, message: Message, user, token: uuid.UUID | str, membership: Membership | None = None
) -> Message:
    """A new reply to the same question, as another version beside this one (a new Kie call)."""
    if message.role != Message.Role.ASSISTANT or message.parent_id is None:
        raise ChatError("Only a reply can be regenerated.")
    conversation = message.conversation
    if membership is not None and membership.workspace_id == conversation.workspace_id:
        conversation.workspace = membership.workspace  # the same row, already loaded with the request
    _, reply_key = _keys(token)
    tree = Tree(conversation)
    if (existing := tree.find(reply_key)) is not None:
        return existing
    if _busy(tree):
        raise ChatError(BUSY)
    spec = _chat_model(conversation.model_key)
    path = tree.messages(tree.branch(message.parent_id), for_display=False)
    _check_budget(conversation, membership, spec, path)
    try:
        with transaction.atomic():
            reply = _reply(conversation=conversation, user=user, path=path, key=reply_key, spec=spec)
    except IntegrityError:
        return _raced(conversation, reply_key)
    return _show(conversation, reply)


def message_stop(*, message: Message) -> bool:
    """Stop a reply being written: the upstream call is closed and the text so far is kept."""
    if not Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING).update(stop_requested=True):
        return False
    if relay.runner_alive(message):
        relay.reply_stop(message_id=message.pk)
    else:
        relay.finish_orphan(message_id=message.pk, status=Message.Status.STOPPED)
    return True


def message_check_alive(*, message: Message) -> Message:
    """A reply whose process is gone (a restart, a crash) is marked interrupted, with its text kept."""
    if message.status == Message.Status.STREAMING and not relay.runner_alive(message):
        relay.finish_orphan(message_id=message.pk, status=Message.Status.INTERRUPTED)
        message.refresh_from_db()
    return message


def stale_replies_sweep() -> int:
    """Scheduled: mark replies whose process stopped sending heartbeats as interrupted."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS)
    swept = 0
    stale = Message.objects.filter(status=Message.Status.STREAMING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    for message in stale:
        if not relay.runner_alive(message):
            relay.finish_orphan(message_id=message.pk, status=Message.Status.INTERRUPTED)
            swept += 1
    return swept
