"""What the chat views share: which conversations and messages a request may reach, the context the chat
templates render with, and how a refused action answers.

Used by every chat view (``views``) and by the reply's stream to the browser (``reply_stream``), which renders a
finished reply with ``message_context``. A conversation is visible to its owner and, once shared, to the rest of
the workspace; only its owner may change it.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import reswap, retarget

from kiestudio.chat import services
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.services import ChatError
from kiestudio.core.http import HtmxHttpRequest
from kiestudio.core.params import parse_ids
from kiestudio.kie.catalog.chat import chat_model_groups, get_chat_model, load_chat_models
from kiestudio.workspaces.access import current_workspace, get_for_workspace

LIST_LIMIT = 100
SEARCH_MAX = 200  # characters of a search: SQLite refuses a LIKE pattern past 50,000 bytes


# --- Access: one helper per resource ---------------------------------------------------------------------------


def _visible(request: HtmxHttpRequest) -> Q:
    return Q(owner=request.user) | Q(is_shared=True)


def get_conversation(request: HtmxHttpRequest, pk: object, *, write: bool = False) -> Conversation:
    """A conversation of the current workspace that this user may see (their own, or shared): else 404.
    ``write``: only its owner may change it (a teammate reading a shared one gets a 403)."""
    conversation = get_for_workspace(request, Conversation.objects.filter(_visible(request)), pk=pk)
    if write and conversation.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who started this conversation can change it.")
    return conversation


def get_message(request: HtmxHttpRequest, pk: object, *, write: bool = False) -> Message:
    visible = Q(conversation__owner=request.user) | Q(conversation__is_shared=True)
    message = get_for_workspace(request, Message.objects.select_related("conversation").filter(visible), pk=pk)
    if write and message.conversation.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who started this conversation can change it.")
    return message


# --- Context ---------------------------------------------------------------------------------------------------


def _models_context(request: HtmxHttpRequest, conversation: Conversation | None) -> dict[str, object]:
    models, default = load_chat_models()
    key = conversation.model_key if conversation else current_workspace(request).default_chat_model or default
    return {
        "chat_model_groups": chat_model_groups(models.values()),
        "selected_model": get_chat_model(key if key in models else default),
    }


def list_context(request: HtmxHttpRequest, conversation: Conversation | None = None) -> dict[str, object]:
    query = request.GET.get("q", "")[:SEARCH_MAX] if request.method == "GET" else ""
    workspace = current_workspace(request)
    conversations = services.conversation_search(workspace=workspace, user=request.user, query=query)
    # A model is about to name it: the page looks at the list (and the heading) again shortly after the reply.
    pending = conversation is not None and services.title_pending(conversation=conversation, workspace=workspace)
    return {
        "conversations": conversations[:LIST_LIMIT],
        "query": query,
        "conversation": conversation,
        "title_pending": pending,
    }


def thread_context(request: HtmxHttpRequest, conversation: Conversation) -> dict[str, object]:
    items = services.thread_for(conversation=conversation)
    for item in items:
        if item.message.is_streaming:
            services.message_check_alive(message=item.message)
    return {
        "conversation": conversation,
        "items": items,
        "can_write": conversation.owner_id == request.user.pk,
        "usage": services.conversation_usage(conversation=conversation),
    }


def page_context(request: HtmxHttpRequest, conversation: Conversation | None) -> dict[str, object]:
    context = {**list_context(request, conversation), **_models_context(request, conversation), "token": uuid.uuid4()}
    if conversation is not None:
        context.update(thread_context(request, conversation))
    return context


def message_context(request: HtmxHttpRequest, message: Message) -> dict[str, object]:
    return {
        "item": services.thread_item(message=message),
        "conversation": message.conversation,
        "can_write": message.conversation.owner_id == request.user.pk,
    }


def thread_response(request: HtmxHttpRequest, conversation: Conversation, *, status: int = 200) -> HttpResponse:
    context = {**thread_context(request, conversation), **list_context(request, conversation), "oob": True}
    return render(request, "chat/chat.html#thread-update", context, status=status)


# --- The request's form, and a refusal -------------------------------------------------------------------------


def wants_stream(request: HtmxHttpRequest) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def flag(request: HtmxHttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


def attachment_ids(request: HtmxHttpRequest) -> list[int]:
    return parse_ids(request.POST.getlist("attachments"), name="attachment")


def error_response(request: HtmxHttpRequest, error: ChatError, *, status: int = 400) -> HttpResponse:
    if not request.htmx and not wants_stream(request):
        messages.error(request, str(error))
        return redirect(request.META.get("HTTP_REFERER") or reverse("chat"))
    response = render(request, "chat/chat.html#chat-error", {"error": str(error)}, status=status)
    return reswap(retarget(response, "#chat-error"), "outerHTML")
