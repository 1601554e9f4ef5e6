"""The agent's part of the Settings page: a member's auto-run limit for chat tool calls."""

from __future__ import annotations

from typing import Any

from django import template

from kiestudio.agent.models import AUTORUN_CHOICES
from kiestudio.agent.services import autorun_limit

register = template.Library()


@register.inclusion_tag("agent/_autorun_settings.html", takes_context=True)
def autorun_settings(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    workspace = context["current_workspace"]
    return {
        "autorun": autorun_limit(workspace_id=workspace.pk, user=request.user),
        "autorun_choices": AUTORUN_CHOICES,
        "csrf_token": context.get("csrf_token"),
    }
