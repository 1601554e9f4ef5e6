"""The queue in the page: the nav's count of what waits and runs, and estimated times in words ("in ~40 s")."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from kiestudio.studio.services import queue_size

register = template.Library()


@register.simple_tag
def queue_count(workspace) -> int:
    """Jobs waiting or running in the workspace (one COUNT); 0 without a workspace (signed out)."""
    return queue_size(workspace) if workspace is not None else 0


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"


@register.filter
def until(moment: datetime | None) -> str:
    """An estimated time from now: "in ~40 s", "in ~3 min"; "any moment" once it is (nearly) due or overdue."""
    if moment is None:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    return "any moment" if seconds < 1.5 else f"in ~{_span(seconds)}"


@register.filter
def since(moment: datetime | None) -> str:
    """How long ago: "12 s ago", "3 min ago"."""
    if moment is None:
        return ""
    return f"{_span((timezone.now() - moment).total_seconds())} ago"
