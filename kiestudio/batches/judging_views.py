"""Judging a comparison (blind until the member votes, when it was made blind) and the workspace's leaderboard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kiestudio.batches import judging
from kiestudio.batches.models import Batch
from kiestudio.batches.services import BatchError
from kiestudio.core.params import BadParameter, parse_int, parse_optional_id
from kiestudio.gallery.models import Tag
from kiestudio.workspaces.access import current_workspace, get_for_workspace, scoped


def _stars(request: HttpRequest, entries: list[judging.Entry]) -> dict[int, int]:
    stars = {}
    for entry in entries:
        value = request.POST.get(f"stars-{entry.generation.pk}", "")
        if value:
            stars[entry.generation.pk] = parse_int(value, name="stars", minimum=1, maximum=5)
    return stars


@require_http_methods(["GET", "POST"])
@login_required
def comparison_judge(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Every member may judge a comparison (a vote is an opinion, like a rating); a second vote replaces the first."""
    batch = get_for_workspace(request, Batch, pk=batch_id)
    if batch.source != Batch.Source.COMPARE:
        messages.error(request, "Only a comparison of models can be judged; this batch is not one.")
        return render(
            request, "batches/judge.html", {"batch": batch, "entries": [], "not_comparison": True}, status=400
        )
    mine = judging.judgement_of(batch, request.user)
    error = ""
    if request.method == "POST":
        entries = judging.comparison_entries(batch, reveal=False)
        try:
            winner = parse_optional_id(request.POST.get("winner"), name="best result")
            judging.comparison_judge(batch=batch, user=request.user, winner_id=winner, stars=_stars(request, entries))
        except (BadParameter, BatchError) as exc:
            error = getattr(exc, "message", "") or str(exc)
        else:
            messages.success(
                request, "Thanks: your vote is in the leaderboard." if not mine else "Your vote is updated."
            )
            return redirect("comparison-judge", batch_id=batch.pk)
    reveal = not batch.blind or mine is not None
    entries = judging.comparison_entries(batch, reveal=reveal, judgement=mine)
    context = {"batch": batch, "entries": entries, "judgement": mine, "reveal": reveal, "error": error}
    return render(request, "batches/judge.html", context, status=400 if error else 200)


@require_GET
@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    notices = []
    try:
        tag_id = parse_optional_id(request.GET.get("tag"), name="tag")
        member_id = parse_optional_id(request.GET.get("member"), name="member")
    except BadParameter as exc:
        tag_id = member_id = None
        notices.append(f"Ignored a filter: {exc.message}")
    tags = list(scoped(request, Tag).values_list("pk", "name"))
    members = [(m.user_id, m.user.display_name) for m in workspace.memberships.select_related("user")]
    if tag_id is not None and tag_id not in {pk for pk, _ in tags}:
        notices.append("Ignored the tag filter: no such tag in this workspace.")
        tag_id = None
    if member_id is not None and member_id not in {pk for pk, _ in members}:
        notices.append("Ignored the member filter: that person is not in this workspace.")
        member_id = None
    for notice in notices:
        messages.warning(request, notice)
    boards = judging.leaderboard(workspace=workspace, tag_id=tag_id, member_id=member_id)
    context = {"boards": boards, "tags": tags, "members": members, "tag_id": tag_id, "member_id": member_id}
    return render(request, "batches/leaderboard.html", context)
