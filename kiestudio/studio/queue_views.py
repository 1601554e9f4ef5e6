"""The workspace's queue: what is running and what waits, in the order it will be sent, with estimated times.

Members and up pause and resume the queue, move a waiting job up or down and cancel it (free: nothing was sent);
viewers only look. Every change answers the list again (the same partial the page polls), with a toast saying
what happened; without JavaScript it redirects back to the page with the same message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kiestudio.core.http import HtmxHttpRequest
from kiestudio.studio import services
from kiestudio.studio.models import Generation
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role

#: The most rows the page lists (running and waiting together); more are counted, not shown.
QUEUE_LIMIT = 200


def _context(request: HtmxHttpRequest) -> dict[str, object]:
    workspace = current_workspace(request)
    entries = services.queue_entries(workspace=workspace, limit=QUEUE_LIMIT)
    per_window, window = services.queue_create_limit(workspace)
    waiting = [entry for entry in entries if entry.position is not None]
    total = services.queue_size(workspace)
    return {
        "running": [entry for entry in entries if entry.position is None],
        "waiting": waiting,
        "paused_at": workspace.queue_paused_at,
        "per_window": per_window,
        "window": window,
        "can_change": current_membership(request).has_role("member"),
        "total": total,
        "not_shown": max(total - len(entries), 0),
    }


def _answer(request: HtmxHttpRequest, text: str = "", *, level: int = messages.INFO, status: int = 200) -> HttpResponse:
    if text:
        messages.add_message(request, level, text)
    if request.htmx:
        return render(request, "studio/queue.html#queue", _context(request), status=status)
    return redirect("queue")


def _what(generation: Generation) -> str:
    """The job in a message: the start of its prompt, else "the job"."""
    prompt = generation.prompt_text
    if not prompt:
        return "the job"
    return f"“{prompt[:40]}…”" if len(prompt) > 40 else f"“{prompt}”"


@require_GET
@login_required
def queue(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx and not request.htmx.boosted:  # the page's poll
        return render(request, "studio/queue.html#queue", _context(request))
    return render(request, "studio/queue.html", _context(request))


@require_GET
@login_required
def queue_badge(request: HttpRequest) -> HttpResponse:
    """The nav's count, fetched again when the page starts or finishes a job (and every so often while any waits)."""
    return render(request, "studio/_queue_badge.html", {"count": services.queue_size(current_workspace(request))})


@require_POST
@login_required
@require_role("member")
def queue_pause(request: HtmxHttpRequest) -> HttpResponse:
    if services.queue_pause(workspace=current_workspace(request), user=request.user):
        return _answer(request, "Queue paused: nothing waiting is sent to Kie until it is resumed. Running jobs go on.")
    return _answer(request, "The queue was already paused.")


@require_POST
@login_required
@require_role("member")
def queue_resume(request: HtmxHttpRequest) -> HttpResponse:
    if services.queue_resume(workspace=current_workspace(request), user=request.user):
        return _answer(request, "Queue resumed: waiting jobs go to Kie in this order.", level=messages.SUCCESS)
    return _answer(request, "The queue was already running.")


@require_POST
@login_required
@require_role("member")
def queue_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation, pk=pk)
    direction = request.POST.get("direction", "")
    if direction not in ("up", "down"):
        return _answer(request, "Move a job up or down.", level=messages.ERROR, status=400)
    try:
        moved = services.generation_move(generation=generation, direction=direction)
    except services.QueueError as exc:
        return _answer(request, str(exc), level=messages.WARNING, status=409)
    if not moved:
        where = "first" if direction == "up" else "last"
        return _answer(request, f"That job is already {where} in the queue.")
    return _answer(request, f"Moved {_what(generation)} {direction}.")


@require_POST
@login_required
@require_role("member")
def queue_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_for_workspace(request, Generation, pk=pk)
    if services.generations_cancel_queued(generations=[generation]):
        return _answer(request, f"Canceled {_what(generation)}. It was never sent to Kie, so nothing is charged.")
    return _answer(
        request,
        "That job is no longer waiting: it has been sent to Kie or has ended, so it can't be canceled here.",
        level=messages.WARNING,
        status=409,
    )
