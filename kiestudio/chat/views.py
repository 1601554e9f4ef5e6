from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from functools import wraps

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget, trigger_client_event

from kiestudio.chat import relay, services
from kiestudio.chat.hub import KEEPALIVE_SECONDS, get_hub
from kiestudio.chat.markdown import render_markdown, split_committed
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.services import ChatError
from kiestudio.core.db import outside_request
from kiestudio.core.http import HtmxHttpRequest
from kiestudio.core.params import parse_ids, parse_int, parse_optional_id
from kiestudio.kie.catalog.chat import chat_model_groups, get_chat_model, load_chat_models
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role

log = logging.getLogger("kiestudio.chat")

LIST_LIMIT = 100
SEARCH_MAX = 200  # characters of a search: SQLite refuses a LIKE pattern past 50,000 bytes
DB_POLL_SECONDS = 0.5
ACCESS_CHECK_SECONDS = 2.0  # an open stream re-checks this often that its reader may still see the reply
ACCESS_LOST = "You no longer have access to this conversation, so its reply isn't shown here any more."


# --- Access: one helper per resource ---------------------------------------------------------------------------


def _visible(request: HtmxHttpRequest) -> Q:
    return Q(owner=request.user) | Q(is_shared=True)


def _get_conversation(request: HtmxHttpRequest, pk: object, *, write: bool = False) -> Conversation:
    """A conversation of the current workspace that this user may see (their own, or shared): else 404.
    ``write``: only its owner may change it (a teammate reading a shared one gets a 403)."""
    conversation = get_for_workspace(request, Conversation.objects.filter(_visible(request)), pk=pk)
    if write and conversation.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who started this conversation can change it.")
    return conversation


def _get_message(request: HtmxHttpRequest, pk: object, *, write: bool = False) -> Message:
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


def _list_context(request: HtmxHttpRequest, conversation: Conversation | None = None) -> dict[str, object]:
    query = request.GET.get("q", "")[:SEARCH_MAX] if request.method == "GET" else ""
    conversations = services.conversation_search(workspace=current_workspace(request), user=request.user, query=query)
    return {"conversations": conversations[:LIST_LIMIT], "query": query, "conversation": conversation}


def _thread_context(request: HtmxHttpRequest, conversation: Conversation) -> dict[str, object]:
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


def _page_context(request: HtmxHttpRequest, conversation: Conversation | None) -> dict[str, object]:
    context = {**_list_context(request, conversation), **_models_context(request, conversation), "token": uuid.uuid4()}
    if conversation is not None:
        context.update(_thread_context(request, conversation))
    return context


def _thread_response(request: HtmxHttpRequest, conversation: Conversation, *, status: int = 200) -> HttpResponse:
    context = {**_thread_context(request, conversation), **_list_context(request, conversation), "oob": True}
    return render(request, "chat/chat.html#thread-update", context, status=status)


def _error(request: HtmxHttpRequest, error: ChatError, *, status: int = 400) -> HttpResponse:
    if not request.htmx and not _wants_stream(request):
        messages.error(request, str(error))
        return redirect(request.META.get("HTTP_REFERER") or reverse("chat"))
    response = render(request, "chat/chat.html#chat-error", {"error": str(error)}, status=status)
    return reswap(retarget(response, "#chat-error"), "outerHTML")


def _flag(request: HtmxHttpRequest, name: str) -> bool:
    return request.POST.get(name) in ("on", "true", "1")


def _attachment_ids(request: HtmxHttpRequest) -> list[int]:
    return parse_ids(request.POST.getlist("attachments"), name="attachment")


# --- Pages -----------------------------------------------------------------------------------------------------


@require_GET
@login_required
def chat_home(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "chat/chat.html", _page_context(request, None))


@require_GET
@login_required
def conversation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation(request, pk)
    return render(request, "chat/chat.html", _page_context(request, conversation))


@require_GET
@login_required
def conversation_list(request: HtmxHttpRequest) -> HttpResponse:
    current = parse_optional_id(request.GET.get("current"), name="conversation")
    conversation = _get_conversation(request, current) if current is not None else None
    return render(request, "chat/chat.html#conversation-list", _list_context(request, conversation))


def _wants_stream(request: HtmxHttpRequest) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def _replying(handler):
    """Views that buy a reply answer with the reply itself: one POST whose response is the event stream.

    ``handler`` runs in the request's thread. It returns a response (an error, or a redirect for a plain form
    post without JavaScript), or ``(reply, render)``: ``render()`` makes the HTML to put on the page, sent as
    the stream's first event, before the reply's own events. Nothing waits for a second request to start, and
    the page update is rendered only once the reply's upstream call is under way.
    """

    @wraps(handler)
    def view(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse | StreamingHttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        result = handler(request, *args, **kwargs)
        if isinstance(result, HttpResponse):
            return result
        reply, first = result
        return _event_stream(_sent_events(request, reply, first))

    return view


async def _sent_events(request: HtmxHttpRequest, reply: Message, render):
    await relay.wait_requested(reply.pk, timeout=0.05)
    yield _sse("thread", await _in_thread(render)())
    async for chunk in _stream_events(request, reply, 0):
        yield chunk


@_replying
@login_required
@require_role("member")
def conversation_start(request: HtmxHttpRequest):
    """The first message of a new conversation (nothing is kept if it is refused)."""
    try:
        conversation, reply = services.conversation_start(
            workspace=current_workspace(request),
            user=request.user,
            text=request.POST.get("text", ""),
            token=request.POST.get("token") or uuid.uuid4(),
            model_key=request.POST.get("model"),
            thinking=_flag(request, "thinking"),
            system_prompt=request.POST.get("system_prompt", ""),
            attachments=_attachment_ids(request),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return _error(request, exc)
    url = reverse("chat-conversation", args=[conversation.pk])
    if not _wants_stream(request):
        return redirect(url)

    def render() -> dict[str, object]:
        context = _page_context(request, conversation)
        html = render_to_string("chat/chat.html#chat-main", context, request=request)
        listing = render_to_string("chat/chat.html#conversation-list", context, request=request)
        return {"mode": "main", "html": html, "url": url, "list": listing}

    return reply, render


@_replying
@login_required
@require_role("member")
def conversation_send(request: HtmxHttpRequest, pk: int):
    conversation = _get_conversation(request, pk, write=True)
    try:
        reply = services.message_send(
            conversation=conversation,
            user=request.user,
            text=request.POST.get("text", ""),
            token=request.POST.get("token") or uuid.uuid4(),
            attachments=_attachment_ids(request),
            model_key=request.POST.get("model") or None,
            thinking=_flag(request, "thinking"),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return _error(request, exc)
    if not _wants_stream(request):
        return redirect("chat-conversation", pk=conversation.pk)

    def render() -> dict[str, object]:
        assert reply.parent is not None  # a reply always answers a question
        items = [services.thread_item(message=reply.parent), services.thread_item(message=reply)]
        context = {"items": items, "conversation": conversation, "can_write": True}
        return {"mode": "append", "html": render_to_string("chat/chat.html#sent", context, request=request)}

    return reply, render


@require_POST
@login_required
def conversation_settings(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation(request, pk, write=True)
    try:
        services.conversation_update(
            conversation=conversation,
            title=request.POST.get("title") if "title" in request.POST else None,
            system_prompt=request.POST.get("system_prompt") if "system_prompt" in request.POST else None,
            is_shared=_flag(request, "is_shared") if "sharing" in request.POST else None,
        )
    except ChatError as exc:
        return _error(request, exc, status=422)
    if not request.htmx:
        messages.success(request, "Conversation settings saved.")
        return redirect("chat-conversation", pk=conversation.pk)
    response = render(request, "chat/chat.html#header-update", _page_context(request, conversation))
    return trigger_client_event(response, "chat:saved", {"text": "Saved."})


@require_POST
@login_required
def conversation_pin(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation(request, pk, write=True)
    services.conversation_set_pinned(conversation=conversation, pinned=conversation.pinned_at is None)
    if not request.htmx:
        return redirect("chat-conversation", pk=conversation.pk)
    return render(request, "chat/chat.html#conversation-list", _list_context(request, conversation))


@require_POST
@login_required
def conversation_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation(request, pk, write=True)
    title = conversation.display_title
    services.conversation_delete(conversation=conversation, user=request.user)
    messages.success(request, f"Deleted “{title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("chat"))
    return redirect("chat")


@require_GET
@login_required
def conversation_usage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation(request, pk)
    usage = services.conversation_usage(conversation=conversation)
    return render(request, "chat/chat.html#usage", {"usage": usage, "conversation": conversation})


# --- Messages --------------------------------------------------------------------------------------------------


@require_GET
@login_required
def message_fragment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    message = _get_message(request, pk)
    services.message_check_alive(message=message)
    return render(request, "chat/_message.html", _message_context(request, message))


def _message_context(request: HtmxHttpRequest, message: Message) -> dict[str, object]:
    return {
        "item": services.thread_item(message=message),
        "conversation": message.conversation,
        "can_write": message.conversation.owner_id == request.user.pk,
    }


@require_POST
@login_required
def message_stop(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    message = _get_message(request, pk, write=True)
    services.message_stop(message=message)
    if not request.htmx:
        return redirect("chat-conversation", pk=message.conversation_id)
    return HttpResponse(status=204)


def _new_branch(request: HtmxHttpRequest, conversation: Conversation, reply: Message):
    if not _wants_stream(request):
        return redirect("chat-conversation", pk=conversation.pk)

    def render() -> dict[str, object]:
        html = render_to_string("chat/chat.html#thread", _thread_context(request, conversation), request=request)
        return {"mode": "thread", "html": html}

    return reply, render


@_replying
@login_required
@require_role("member")
def message_regenerate(request: HtmxHttpRequest, pk: int):
    message = _get_message(request, pk, write=True)
    try:
        reply = services.message_regenerate(
            message=message,
            user=request.user,
            token=request.POST.get("token") or uuid.uuid4(),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return _error(request, exc)
    return _new_branch(request, message.conversation, reply)


@_replying
@login_required
@require_role("member")
def message_edit(request: HtmxHttpRequest, pk: int):
    message = _get_message(request, pk, write=True)
    try:
        reply = services.message_edit(
            message=message,
            user=request.user,
            text=request.POST.get("text", ""),
            token=request.POST.get("token") or uuid.uuid4(),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return _error(request, exc)
    return _new_branch(request, message.conversation, reply)


@require_POST
@login_required
def message_show(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Switch the thread to another version of a message."""
    message = _get_message(request, pk)
    conversation = message.conversation
    if conversation.owner_id == request.user.pk:
        services.message_switch(conversation=conversation, message=message)
    if not request.htmx:
        return redirect("chat-conversation", pk=conversation.pk)
    return _thread_response(request, conversation)


# --- The live stream -------------------------------------------------------------------------------------------


def _sse(name: str, data: dict[str, object], seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@login_required
async def message_stream(request: HtmxHttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Server-sent events of one reply: replayed from ``Last-Event-ID`` (or ``?after=``), then live.

    The reply itself runs elsewhere (relay.py); closing this stream never stops it.
    """
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    after = parse_int(raw, name="last event id", minimum=0)
    message = await _in_thread(_get_message)(request, pk)
    return _event_stream(_stream_events(request, message, after))


def _event_stream(events) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # or nginx and friends buffer it
    return response


def _done_html(request: HtmxHttpRequest, message_id: int) -> tuple[str, str]:
    message = services.message_check_alive(message=Message.objects.select_related("conversation").get(pk=message_id))
    html = render_to_string("chat/_message.html", _message_context(request, message), request=request)
    return html, message.status


def _reload(message_id: int) -> Message:
    return services.message_check_alive(message=Message.objects.get(pk=message_id))


def _in_thread(fn):
    # Not thread-sensitive: a stream must not pin a thread of its own for as long as it stays open.
    return sync_to_async(outside_request(fn), thread_sensitive=False)


class _Reader:
    """Whether the stream's reader may still see the reply: re-checked (one indexed query) at most every
    ACCESS_CHECK_SECONDS while the stream is open, and once more before the final event. A member removed from the
    workspace, or a conversation no longer shared, ends the stream."""

    def __init__(self, request: HtmxHttpRequest, message_id: int) -> None:
        self.request, self.message_id = request, message_id
        self.checked = time.monotonic()
        self.allowed = True

    def _check(self) -> bool:
        return services.message_readable(message_id=self.message_id, user=self.request.user)

    async def lost_access(self, *, now: bool = False) -> bool:
        if self.allowed and (now or time.monotonic() - self.checked >= ACCESS_CHECK_SECONDS):
            self.allowed = await _in_thread(self._check)()
            self.checked = time.monotonic()
        return not self.allowed


def _access_lost_event(seq: int) -> str:
    """The last event of a stream whose reader lost access: the reply on their page is replaced by a notice."""
    html = format_html('<p class="msg msg-assistant status-revoked muted" role="status">{}</p>', ACCESS_LOST)
    return _sse("done", {"html": html, "status": "revoked"}, seq)


async def _stream_events(request: HtmxHttpRequest, message: Message, after: int):
    reader = _Reader(request, message.pk)
    try:
        yield "retry: 1500\n\n"
        if message.is_streaming:
            quiet_since = time.monotonic()
            async for event in get_hub().follow(message.pk, after, keepalive=ACCESS_CHECK_SECONDS):
                if await reader.lost_access():
                    break
                if event is None:
                    if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                        yield ": keepalive\n\n"
                        quiet_since = time.monotonic()
                elif event.name == "done":
                    after = event.seq
                    break
                else:
                    yield event.encode()
                    after, quiet_since = event.seq, time.monotonic()
            else:
                # Not followable here (another process without Redis, or the reply's process is gone):
                # follow it through the database instead, with a snapshot whenever its saved text moves on.
                async for chunk in _poll_database(message.pk, after, reader):
                    yield chunk
        if await reader.lost_access(now=True):
            log.info("chat stream ended: the reader lost access", extra={"message_id": message.pk})
            yield _access_lost_event(after)
            return
        html, status = await _in_thread(_done_html)(request, message.pk)
        yield _sse("done", {"html": html, "status": status}, after)
    except asyncio.CancelledError:
        log.info("chat stream closed by the browser", extra={"message_id": message.pk})
        raise


async def _poll_database(message_id: int, after: int, reader: _Reader):
    quiet = 0.0
    while True:
        if await reader.lost_access():
            return
        message = await _in_thread(_reload)(message_id)
        if not message.is_streaming:
            return
        if message.stream_seq > after:
            committed, tail = split_committed(message.text)
            data = {"html": render_markdown(committed), "tail": tail, "thinking": message.thinking_text}
            yield _sse("snapshot", data, message.stream_seq)
            after, quiet = message.stream_seq, 0.0
        elif quiet >= KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            quiet = 0.0
        await asyncio.sleep(DB_POLL_SECONDS)
        quiet += DB_POLL_SECONDS
