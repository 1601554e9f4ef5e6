"""The chat's views: the chat page, the conversations, and the messages, each answering one URL (``urls``).

Where a reply's life starts: a message is POSTed to ``conversation_start`` or ``conversation_send`` (or a reply
asked again with ``message_regenerate`` or ``message_edit``). The view hands it to ``services``, which stores the
question and the reply and starts the reply once the transaction commits (``upstream``, ``relay``). The response
to those POSTs is the reply's own event stream (``reply_stream``), opened with the page update to show
(``_replying``); ``message_stream`` joins that stream again later, from a page load or a reconnect. Access checks
and template context are in ``view_context``.
"""

from __future__ import annotations

import asyncio
import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from kiestudio.chat import relay, services
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.reply_stream import event_stream, in_thread, sse, stream_events
from kiestudio.chat.services import ChatError
from kiestudio.chat.view_context import (
    attachment_ids,
    error_response,
    flag,
    get_conversation,
    get_message,
    list_context,
    message_context,
    page_context,
    thread_context,
    thread_response,
    wants_stream,
)
from kiestudio.core.http import HtmxHttpRequest
from kiestudio.core.params import parse_int, parse_optional_id
from kiestudio.uploads.models import Reference
from kiestudio.workspaces.access import current_membership, current_workspace, require_role

# How often an open reply stream re-checks that its reader may still see the reply. Read at each stream's start,
# here where the streams are opened (a test shortens it).
ACCESS_CHECK_SECONDS = 2.0


# --- Views that buy a reply answer with its stream -------------------------------------------------------------


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
        return event_stream(_sent_events(request, reply, first))

    return view


def _is_done(chunk: str) -> bool:
    return chunk.startswith("event: done\n") or "\nevent: done\n" in chunk


async def _sent_events(request: HtmxHttpRequest, reply: Message, render):
    """The page update, rendered in a thread while the reply's first events are relayed: whichever is ready first
    goes first (the browser holds reply events that come before the page update, then applies them), so
    rendering the page never delays the first token."""
    await relay.wait_requested(reply.pk, timeout=0.05)
    page = asyncio.ensure_future(in_thread(render)())
    events = stream_events(request, reply, 0, check_every=ACCESS_CHECK_SECONDS)
    step: asyncio.Future[str | None] | None = None
    held: str | None = ""  # what waits for the page update: the last event, or None once the events ended
    try:
        while not page.done():
            step = step or asyncio.ensure_future(anext(events, None))
            await asyncio.wait((page, step), return_when=asyncio.FIRST_COMPLETED)
            if step.done():
                chunk, step = step.result(), None
                if chunk is None or _is_done(chunk):
                    held = chunk  # a stream ends with "done", after the page update
                    break
                yield chunk
        yield sse("thread", await page)
        if step is not None:
            held, step = await step, None
        if held is None:
            return
        if held:
            yield held
        async for chunk in events:
            yield chunk
    finally:
        page.cancel()
        if step is not None:
            step.cancel()
            await asyncio.gather(step, return_exceptions=True)
        await events.aclose()


# --- Pages -----------------------------------------------------------------------------------------------------


@require_GET
@login_required
def chat_home(request: HtmxHttpRequest) -> HttpResponse:
    context = page_context(request, None)
    attach = parse_optional_id(request.GET.get("attach"), name="attach")  # "Send to chat" from the gallery
    if attach is not None:
        context["attached"] = list(
            Reference.objects.filter(workspace=current_workspace(request), pk=attach, kind="image")
        )
    return render(request, "chat/chat.html", context)


@require_GET
@login_required
def conversation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation(request, pk)
    return render(request, "chat/chat.html", page_context(request, conversation))


@require_GET
@login_required
def conversation_list(request: HtmxHttpRequest) -> HttpResponse:
    current = parse_optional_id(request.GET.get("current"), name="conversation")
    conversation = get_conversation(request, current) if current is not None else None
    return render(request, "chat/chat.html#list-update", list_context(request, conversation))


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
            thinking=flag(request, "thinking"),
            system_prompt=request.POST.get("system_prompt", ""),
            attachments=attachment_ids(request),
            membership=current_membership(request),
            studio_tools=flag(request, "studio_tools"),
        )
    except ChatError as exc:
        return error_response(request, exc)
    url = reverse("chat-conversation", args=[conversation.pk])
    if not wants_stream(request):
        return redirect(url)

    def render() -> dict[str, object]:
        context = page_context(request, conversation)
        html = render_to_string("chat/chat.html#chat-main", context, request=request)
        listing = render_to_string("chat/chat.html#conversation-list", context, request=request)
        return {"mode": "main", "html": html, "url": url, "list": listing}

    return reply, render


@_replying
@login_required
@require_role("member")
def conversation_send(request: HtmxHttpRequest, pk: int):
    conversation = get_conversation(request, pk, write=True)
    try:
        reply = services.message_send(
            conversation=conversation,
            user=request.user,
            text=request.POST.get("text", ""),
            token=request.POST.get("token") or uuid.uuid4(),
            attachments=attachment_ids(request),
            model_key=request.POST.get("model") or None,
            thinking=flag(request, "thinking"),
            membership=current_membership(request),
            studio_tools=flag(request, "studio_tools"),
        )
    except ChatError as exc:
        return error_response(request, exc)
    if not wants_stream(request):
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
    conversation = get_conversation(request, pk, write=True)
    try:
        services.conversation_update(
            conversation=conversation,
            title=request.POST.get("title") if "title" in request.POST else None,
            system_prompt=request.POST.get("system_prompt") if "system_prompt" in request.POST else None,
            is_shared=flag(request, "is_shared") if "sharing" in request.POST else None,
        )
    except ChatError as exc:
        return error_response(request, exc, status=422)
    if not request.htmx:
        messages.success(request, "Conversation settings saved.")
        return redirect("chat-conversation", pk=conversation.pk)
    response = render(request, "chat/chat.html#header-update", page_context(request, conversation))
    return trigger_client_event(response, "chat:saved", {"text": "Saved."})


@require_POST
@login_required
def conversation_pin(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation(request, pk, write=True)
    services.conversation_set_pinned(conversation=conversation, pinned=conversation.pinned_at is None)
    if not request.htmx:
        return redirect("chat-conversation", pk=conversation.pk)
    return render(request, "chat/chat.html#conversation-list", list_context(request, conversation))


@require_POST
@login_required
def conversation_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation(request, pk, write=True)
    title = conversation.display_title
    services.conversation_delete(conversation=conversation, user=request.user)
    messages.success(request, f"Deleted “{title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("chat"))
    return redirect("chat")


@require_GET
@login_required
def conversation_usage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation(request, pk)
    usage = services.conversation_usage(conversation=conversation)
    return render(request, "chat/chat.html#usage", {"usage": usage, "conversation": conversation})


# --- Messages --------------------------------------------------------------------------------------------------


@require_GET
@login_required
def message_fragment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    message = get_message(request, pk)
    services.message_check_alive(message=message)
    return render(request, "chat/_message.html", message_context(request, message))


@require_POST
@login_required
def message_stop(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    message = get_message(request, pk, write=True)
    services.message_stop(message=message)
    if not request.htmx:
        return redirect("chat-conversation", pk=message.conversation_id)
    return HttpResponse(status=204)


def _new_branch(request: HtmxHttpRequest, conversation: Conversation, reply: Message):
    if not wants_stream(request):
        return redirect("chat-conversation", pk=conversation.pk)

    def render() -> dict[str, object]:
        html = render_to_string("chat/chat.html#thread", thread_context(request, conversation), request=request)
        return {"mode": "thread", "html": html}

    return reply, render


@_replying
@login_required
@require_role("member")
def message_regenerate(request: HtmxHttpRequest, pk: int):
    message = get_message(request, pk, write=True)
    try:
        reply = services.message_regenerate(
            message=message,
            user=request.user,
            token=request.POST.get("token") or uuid.uuid4(),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return error_response(request, exc)
    return _new_branch(request, message.conversation, reply)


@_replying
@login_required
@require_role("member")
def message_edit(request: HtmxHttpRequest, pk: int):
    message = get_message(request, pk, write=True)
    try:
        reply = services.message_edit(
            message=message,
            user=request.user,
            text=request.POST.get("text", ""),
            token=request.POST.get("token") or uuid.uuid4(),
            membership=current_membership(request),
        )
    except ChatError as exc:
        return error_response(request, exc)
    return _new_branch(request, message.conversation, reply)


@require_POST
@login_required
def message_show(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Switch the thread to another version of a message."""
    message = get_message(request, pk)
    conversation = message.conversation
    if conversation.owner_id == request.user.pk:
        services.message_switch(conversation=conversation, message=message)
    if not request.htmx:
        return redirect("chat-conversation", pk=conversation.pk)
    return thread_response(request, conversation)


# --- The reply's stream, joined again ---------------------------------------------------------------------------


@login_required
async def message_stream(request: HtmxHttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Server-sent events of one reply: replayed from ``Last-Event-ID`` (or ``?after=``), then live.

    The reply itself runs elsewhere (relay.py); closing this stream never stops it.
    """
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    after = parse_int(raw, name="last event id", minimum=0)
    message = await in_thread(get_message)(request, pk)
    return event_stream(stream_events(request, message, after, check_every=ACCESS_CHECK_SECONDS))
