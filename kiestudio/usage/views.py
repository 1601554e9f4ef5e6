"""The pages of usage: the monthly budget and members' caps (forms on the settings and team pages), and the
usage dashboard with its CSV export."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kiestudio.core.params import parse_optional_date
from kiestudio.usage import services
from kiestudio.workspaces.access import (
    admin_change,
    current_membership,
    current_workspace,
    get_for_workspace,
    require_role,
)
from kiestudio.workspaces.models import Membership, Role
from kiestudio.workspaces.responses import change_done
from kiestudio.workspaces.services import WorkspaceError

# --- Limits ---------------------------------------------------------------------------------------------------


@admin_change
def settings_budget(request: HttpRequest) -> HttpResponse:
    try:
        budget = services.parse_credits(request.POST.get("budget"), "monthly budget")
        services.workspace_set_budget(workspace=current_workspace(request), actor=request.user, budget=budget)
    except WorkspaceError as exc:
        return change_done(request, "settings", exc)
    words = f"{budget} credits a month" if budget is not None else "no monthly budget"
    return change_done(request, "settings", success=f"The workspace now has {words}.")


@admin_change
def member_cap(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_for_workspace(request, Membership.objects.select_related("user", "workspace"), pk=pk)
    try:
        cap = services.parse_credits(request.POST.get("cap"), "monthly cap")
        services.member_set_cap(membership=membership, actor_membership=current_membership(request), cap=cap)
    except WorkspaceError as exc:
        return change_done(request, "team", exc)
    words = f"{cap} credits a month" if cap is not None else "no cap of their own"
    return change_done(request, "team", success=f"{membership.user.display_name} now has {words}.")


# --- The dashboard ---------------------------------------------------------------------------------------------


def _range(request: HttpRequest) -> tuple[datetime, datetime, date, date]:
    today = timezone.localdate()
    first = parse_optional_date(request.GET.get("from"), name="from date") or today.replace(day=1)
    last = parse_optional_date(request.GET.get("to"), name="to date") or today
    if last < first:
        first, last = last, first
    last = min(last, first + timedelta(days=366))
    tz = timezone.get_current_timezone()
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1)
    return start, end, first, last


CHART_W, CHART_H, CHART_LEFT, CHART_BOTTOM = 720, 220, 48, 24


def _chart(days) -> dict[str, object]:
    """Bars for credits per day, drawn on the server as SVG (no chart library, nothing from a CDN)."""
    peak = max((float(v) for _, v in days), default=0.0) or 1.0
    width = (CHART_W - CHART_LEFT) / max(len(days), 1)
    plot_h = CHART_H - CHART_BOTTOM - 8
    bars = []
    for i, (day, value) in enumerate(days):
        h = float(value) / peak * plot_h
        bars.append(
            {
                "x": round(CHART_LEFT + i * width + width * 0.15, 2),
                "y": round(CHART_H - CHART_BOTTOM - h, 2),
                "w": round(max(width * 0.7, 1), 2),
                "h": round(h, 2),
                "day": day,
                "value": value,
                "label": i % max(1, len(days) // 8) == 0,
                "label_x": round(CHART_LEFT + i * width + width / 2, 2),
            }
        )
    ticks = [
        {"y": round(CHART_H - CHART_BOTTOM - plot_h * f, 2), "value": f"{peak * f:.3g}" if f else "0"}
        for f in (0, 0.5, 1)
    ]
    busiest = max(bars, key=lambda bar: bar["value"], default=None)
    return {
        "bars": bars,
        "busiest": busiest if busiest and busiest["value"] > 0 else None,
        "ticks": ticks,
        "w": CHART_W,
        "h": CHART_H,
        "left": CHART_LEFT,
        "base": CHART_H - CHART_BOTTOM,
    }


@require_GET
@login_required
@require_role(Role.ADMIN)
def usage(request: HttpRequest) -> HttpResponse:
    start, end, first, last = _range(request)
    report = services.usage_report(workspace=current_workspace(request), start=start, end=end)
    context = {"report": report, "first": first, "last": last, "chart": _chart(report.days)}
    return render(request, "usage/usage.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection): such text gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@require_GET
@login_required
@require_role(Role.ADMIN)
def usage_csv(request: HttpRequest) -> StreamingHttpResponse:
    start, end, first, last = _range(request)
    entries = services.usage_entries(workspace=current_workspace(request), start=start, end=end)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["time", "member", "kind", "model", "credits", "estimated", "source"])
        for entry in entries.iterator(chunk_size=2000):
            who = entry.user.email if entry.user else ""
            row = [entry.created_at.isoformat(), who, entry.kind, entry.model_key, entry.credits, entry.estimated]
            yield writer.writerow([_cell(value) for value in [*row, entry.source]])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kiestudio-usage-{first}-{last}.csv"'
    return response
